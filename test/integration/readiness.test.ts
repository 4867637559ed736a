import { afterEach, describe, expect, it } from "vitest";
import { sandboxProvider } from "../../provider/resources/sandbox-provider.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { appProvider } from "../../provider/resources/app-provider.ts";

describe("sandbox readiness and ports against a real engine", () => {
  let app = uniqueApp();
  afterEach(async () => {
    await cleanupApp(app);
    app = uniqueApp();
  });

  async function create(extra: Record<string, unknown>) {
    const checked = await sandboxProvider.check({}, { app, image: "sandfleet/python", ...extra });
    expect(checked.failures ?? []).toEqual([]);
    return sandboxProvider.create(checked.inputs as Record<string, unknown>);
  }

  it("waits for a TCP port and publishes it on 127.0.0.1 only", async () => {
    const { inputs } = (await appProvider.check({}, { name: app })) as { inputs: Record<string, unknown> };
    await appProvider.create(inputs);
    const created = await create({
      network: "app",
      ports: [8000],
      command: ["sh", "-c", "sleep 1; exec python3 -m http.server 8000"],
      readiness: { tcpPort: 8000, intervalMs: 50 },
    });
    const ports = (created.outs as { publishedPorts: Record<string, number> }).publishedPorts;
    const hostPort = ports["8000"];
    expect(hostPort).toBeGreaterThan(0);
    const response = await fetch(`http://127.0.0.1:${String(hostPort)}/`);
    expect(response.status).toBe(200);
    const info = await docker.containers.inspect(created.id);
    expect(info?.ports).toEqual({ 8000: hostPort });
  });

  it("waits for an exec probe", async () => {
    const created = await create({
      command: ["sh", "-c", "sleep 1; touch /tmp/ready; sleep infinity"],
      readiness: { exec: ["test", "-f", "/tmp/ready"], intervalMs: 50 },
    });
    expect((await docker.exec.run(created.id, { argv: ["ls", "/tmp/ready"] })).exitCode).toBe(0);
  });

  it("fails naming the probe and its last failure, and reports the container it made", async () => {
    const attempt = create({
      readiness: { exec: ["sh", "-c", "echo not yet >&2; exit 1"], intervalMs: 100, timeoutMs: 600 },
    });
    await expect(attempt).rejects.toThrow(
      /sandbox sb-[0-9a-f]+ \(exec \["sh","-c","echo not yet >&2; exit 1"\]\) not ready after 600 ms: exited with code 1: not yet/,
    );
    const error = (await attempt.catch((e: unknown) => e)) as { id: string; properties: Record<string, unknown> };
    expect(error.id).toMatch(/^[0-9a-f]{64}$/);
    expect(error.properties).toMatchObject({ containerId: error.id });
    // Recorded, not leaked: the id lets the next up or destroy remove it.
    expect(await docker.containers.inspect(error.id)).toBeDefined();
  });

  it("gives up at once when the sandbox exits before it is ready", async () => {
    // The probe would wait ten minutes, far past this test's own timeout: only the exit ends it.
    await expect(
      create({ command: ["sh", "-c", "exit 5"], readiness: { tcpPort: 9, timeoutMs: 600_000 } }),
    ).rejects.toThrow(/not ready: the sandbox exited with code 5/);
  });

  it("refuses ports without a network and a probe on a port it does not publish", async () => {
    const result = await sandboxProvider.check({}, { app, image: "i", ports: [80], readiness: { tcpPort: 81 } });
    expect(result.failures).toEqual([
      { property: "ports", reason: 'publishing ports needs network: "app" (or an egress allowlist)' },
      { property: "readiness.tcpPort", reason: "port 81 is not among the sandbox's ports" },
    ]);
  });
});
