// Attacks on sandfleet's Kubernetes engine, on the parity suite's cluster (scripts/cluster, whose
// nodes enforce NetworkPolicy with test/netpol and drop what pods send to the node itself): code in a
// sandbox with no network, or in another app, reaching pods, its node or the cluster's gateway.
import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAppNetwork } from "../../provider/runtime/networks/apps.ts";
import type { Sandbox } from "../../provider/client/sandbox.ts";
import { cleanupBackend } from "../support/backends.ts";
import { uniqueApp } from "../support/engine.ts";
import { until } from "../support/until.ts";
import {
  run,
  engine,
  reaches,
  reachesLinkLocal,
  linkLocalOf,
  sandboxOn,
  type PodPlace,
} from "../support/kubernetes-attack.ts";

describe("Kubernetes networks: what a sandbox's code can reach", () => {
  const appA = uniqueApp("k8s-net-a");
  const appB = uniqueApp("k8s-net-b");
  const appC = uniqueApp("k8s-net-c"); // internet: true
  const common = { image: "sandfleet/busybox", user: "1000:1000", memoryMiB: 32, timeoutMs: 15 * 60_000 };
  const serve = "mkdir -p /tmp/www && echo ok > /tmp/www/index.html && httpd -p 8080 -h /tmp/www";
  let none: Sandbox, a1: Sandbox, a2: Sandbox, b1: Sandbox, c1: Sandbox;
  let place: { none: PodPlace; a2: PodPlace; b1: PodPlace };
  let listener: ChildProcess | undefined;
  let netns = "";

  beforeAll(async () => {
    await createAppNetwork(engine, appA, false);
    await createAppNetwork(engine, appB, false);
    await createAppNetwork(engine, appC, true);
    const made = await sandboxOn(undefined, { ...common, app: appA, name: "offline" });
    none = made.sandbox;
    const node = made.place.node;
    const [first, second, other, online] = await Promise.all([
      sandboxOn(node, { ...common, app: appA, network: "app" }),
      sandboxOn(node, { ...common, app: appA, network: "app" }),
      sandboxOn(node, { ...common, app: appB, network: "app" }),
      sandboxOn(node, { ...common, app: appC, network: "app" }),
    ]);
    [a1, a2, b1, c1] = [first.sandbox, second.sandbox, other.sandbox, online.sandbox];
    place = { none: made.place, a2: second.place, b1: other.place };
    await a2.run(["sh", "-c", serve]);
    await b1.run(["sh", "-c", serve]);
    // A listener on every address of the pods' node (its own, and the pod bridge's gateway).
    netns = `sfk-n${node.replace(/^sandfleet-node-/, "")}`;
    listener = spawn("ip", [
      "netns",
      "exec",
      netns,
      process.execPath,
      "-e",
      "require('node:http').createServer((q, r) => r.end('node')).listen(18080, '0.0.0.0', () => console.log('up'))",
    ]);
    await new Promise<void>((resolve, reject) => {
      listener?.stdout?.once("data", () => {
        resolve();
      });
      listener?.once("exit", (code) => {
        reject(new Error(`the node listener ended (${String(code)})`));
      });
    });
    // The listener answers on the node's address (the host reaches it): a "no" below is the node's rules.
    expect(await (await fetch(`http://${made.place.hostIP}:18080/`)).text()).toBe("node");
  });
  afterAll(async () => {
    listener?.kill();
    await cleanupBackend(engine, appA);
    await cleanupBackend(engine, appB);
    await cleanupBackend(engine, appC);
  });

  it("lets a pod of app A reach its own app's pod, and never app B's", async () => {
    await until("app A's pods reach each other", () => reaches(a1, `http://${place.a2.podIP}:8080/`), 60_000);
    expect(await reaches(a1, `http://${place.b1.podIP}:8080/`)).toBe(false);
    expect(await reaches(b1, `http://${place.a2.podIP}:8080/`)).toBe(false);
  });

  it("lets an app with internet reach no other app's pod, no node and not the cluster's host", async () => {
    const reached = [];
    const targets = {
      "app A's pod": `http://${place.a2.podIP}:8080/`,
      "its node's address": `http://${place.none.hostIP}:18080/`,
      "the cluster's host (registry)": "http://10.250.0.1:5000/v2/",
    };
    for (const [what, url] of Object.entries(targets)) if (await reaches(c1, url)) reached.push(what);
    expect(reached).toEqual([]);
  });

  it("keeps a sandbox with no network off every pod, its node's addresses and the gateways", async () => {
    const gateway = place.none.podIP.replace(/\.\d+$/, ".1");
    const targets = {
      "app A's pod": `http://${place.a2.podIP}:8080/`,
      "app B's pod": `http://${place.b1.podIP}:8080/`,
      "its node's address": `http://${place.none.hostIP}:18080/`,
      "the pod bridge's gateway": `http://${gateway}:18080/`,
      "the cluster's host (registry)": "http://10.250.0.1:5000/v2/",
    };
    const reached = [];
    for (const [what, url] of Object.entries(targets)) if (await reaches(none, url)) reached.push(what);
    // IPv6 link-local: every pod has an address on its eth0, routed nowhere but bridged to its neighbours.
    const a2v6 = await linkLocalOf(a2);
    const fromNode = await run("ip", [
      "netns",
      "exec",
      netns,
      "curl",
      "-s",
      "-m",
      "3",
      "-g",
      `http://[${a2v6}%cni0]:8080/`,
    ]);
    expect(fromNode.stdout).toMatch(/^ok$/m); // it answers on that address
    if (await reachesLinkLocal(none, a2v6, 8080)) reached.push("app A's pod over IPv6 link-local");
    expect(reached).toEqual([]);
    // A networked pod gets nothing from the node either.
    expect(await reaches(a1, `http://${place.none.hostIP}:18080/`)).toBe(false);
    expect(await reaches(a1, `http://${gateway}:18080/`)).toBe(false);
  });
});
