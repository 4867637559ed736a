// What the attacks on sandfleet's Kubernetes engine share (test/parity/security-kubernetes-*.test.ts):
// clients of the parity suite's cluster, where a pod runs, and whether a sandbox reaches an address.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { connectEngine } from "../../provider/engines/connect.ts";
import type { Sandbox } from "../../provider/client/sandbox.ts";
import { TEST_CLUSTER } from "./cluster.ts";
import { kubectl } from "./kubectl.ts";

export const run = promisify(execFile);
export const engine = connectEngine({ kubernetes: TEST_CLUSTER });
export const sandfleet = new Sandfleet({ kubernetes: TEST_CLUSTER });
export const suffix = () => randomBytes(3).toString("hex");

export interface PodPlace {
  node: string;
  podIP: string;
  hostIP: string;
}
export async function placeOf(id: string): Promise<PodPlace> {
  const pod = JSON.parse(await kubectl(["get", "pod", id, "-o", "json"])) as {
    spec: { nodeName: string };
    status: { podIP: string; hostIP: string };
  };
  return { node: pod.spec.nodeName, podIP: pod.status.podIP, hostIP: pod.status.hostIP };
}

/** Whether an HTTP GET from inside the sandbox gets an answer within 3 s. */
export async function reaches(from: Sandbox, url: string): Promise<boolean> {
  const result = await from.run([
    "sh",
    "-c",
    `timeout 3 wget -q -O - ${url} >/dev/null 2>&1 && echo REACHED || echo NO`,
  ]);
  return result.stdout.trim() === "REACHED";
}

/** Whether a TCP connection from inside the sandbox to an IPv6 link-local address on its eth0 gets an HTTP answer within 3 s. */
export async function reachesLinkLocal(from: Sandbox, address: string, port: number): Promise<boolean> {
  const request = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 3 nc ${address}%eth0 ${String(port)}`;
  const result = await from.run(["sh", "-c", `${request} 2>/dev/null | grep -q '^ok' && echo REACHED || echo NO`]);
  return result.stdout.trim() === "REACHED";
}

/** The IPv6 link-local address of a sandbox's eth0. */
export async function linkLocalOf(sandbox: Sandbox): Promise<string> {
  const { stdout } = await sandbox.run(["sh", "-c", "ip -6 addr show dev eth0 scope link"]);
  const address = /inet6 (fe80::[0-9a-f:]+)\//.exec(stdout)?.[1];
  if (!address) throw new Error(`no IPv6 link-local address in: ${stdout}`);
  return address;
}

/** A sandbox of `app` made on `node`: the test cluster has no route between nodes' pods, so pairs must share one. */
export async function sandboxOn(node: string | undefined, params: Parameters<Sandfleet["sandboxes"]["create"]>[0]) {
  // A miss is kept until a sandbox lands where wanted: the scheduler spreads pods, so each one
  // kept on the other node makes the next land on this one.
  const misses: Sandbox[] = [];
  try {
    for (let attempt = 0; attempt < 12; attempt++) {
      const sandbox = await sandfleet.sandboxes.create(params);
      const place = await placeOf(sandbox.id);
      if (node === undefined || place.node === node) return { sandbox, place };
      misses.push(sandbox);
    }
  } finally {
    await Promise.all(misses.map((miss) => miss.terminate()));
  }
  throw new Error(`no sandbox landed on ${String(node)} in 12 tries`);
}
