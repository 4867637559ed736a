import { Sandfleet } from "../provider/client/sandfleet.ts";
import type { Sandbox } from "../provider/client/sandbox.ts";
import { cleanupApp } from "../test/support/engine.ts";
import { startFakeInternet } from "../test/support/fake-internet.ts";
import type { Figure } from "./measure.ts";
import { benchApp } from "./scenarios.ts";

/** Median ms of `runs` TCP connections (or name lookups then connections) made inside the sandbox. */
async function connectMs(
  sandbox: Sandbox,
  runs: number,
  target: { address: string } | { name: string },
): Promise<number> {
  const script = [
    "import socket, sys, time",
    "times = []",
    `for _ in range(${String(runs)}):`,
    "    t = time.perf_counter()",
    "    host = sys.argv[1] if sys.argv[2] == 'address' else socket.gethostbyname(sys.argv[1])",
    "    socket.create_connection((host, 80), timeout=5).close()",
    "    times.append((time.perf_counter() - t) * 1000)",
    "times.sort()",
    "print(times[len(times) // 2])",
  ].join("\n");
  const [value, kind] = "address" in target ? [target.address, "address"] : [target.name, "name"];
  const { stdout } = await sandbox.run(["python3", "-c", script, value, kind], { check: true });
  return Number(stdout);
}

/** 9. Connection setup through an egress allowlist, against the same connection with the whole internet. */
export async function egressOverhead(runs: number): Promise<Figure[]> {
  const internet = await startFakeInternet({ site: ["site.test"] });
  process.env.SANDFLEET_EGRESS_HOSTS = internet.hostsFile;
  // Its addresses are in the benchmarking range, which a name may open only when it is routed here.
  process.env.SANDFLEET_EGRESS_PUBLIC = internet.network;
  const sandfleet = new Sandfleet();
  const filtered = benchApp();
  const open = benchApp();
  try {
    const address = internet.hosts.site?.address ?? "";
    const allowed = await sandfleet.sandboxes.create({
      app: filtered,
      image: "sandfleet/python",
      egress: { allow: ["site.test"] },
    });
    await sandfleet.apps.lookup(open, { createIfMissing: true, internet: true });
    const direct = await sandfleet.sandboxes.create({ app: open, image: "sandfleet/python", network: "app" });
    await connectMs(allowed, 5, { name: "site.test" }); // resolved once, so its address is allowed
    const through = await connectMs(allowed, runs * 20, { address });
    const baseline = await connectMs(direct, runs * 20, { address });
    const named = await connectMs(allowed, runs * 4, { name: "site.test" });
    return [
      {
        name: "TCP connection setup through an egress allowlist",
        value: through,
        unit: "ms",
        baselineName: "the same connection with the whole internet",
        baseline,
      },
      {
        name: "name lookup (sandfleet's resolver) and connection, through an egress allowlist",
        value: named,
        unit: "ms",
        note: "each lookup asks the resolver, which also lets the answer's addresses through",
      },
    ];
  } finally {
    await cleanupApp(filtered);
    await cleanupApp(open);
    await internet.stop();
    delete process.env.SANDFLEET_EGRESS_HOSTS;
    delete process.env.SANDFLEET_EGRESS_PUBLIC;
  }
}
