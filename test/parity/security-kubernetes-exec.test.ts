// A process inside a sandbox on Kubernetes against the exec subresource's
// channels (v5): its output looks like the framing (a closing status on
// channel 3, a v5 close of stdin), its input carries the same bytes, it
// closes its own stdout and stderr early. Whatever it prints, the exec's exit
// code is the one it ended with, its output arrives byte for byte, and
// nothing the caller writes ends the command's stdin before the caller does.
import type { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { Sandfleet } from "../../provider/client/sandfleet.ts";
import { connectEngine } from "../../provider/engines/connect.ts";
import { cleanupBackend } from "../support/backends.ts";
import { TEST_CLUSTER } from "../support/cluster.ts";
import { uniqueApp } from "../support/engine.ts";

const engine = connectEngine({ kubernetes: TEST_CLUSTER });
const sandfleet = new Sandfleet({ kubernetes: TEST_CLUSTER });

/** What looks like the closing status of a successful exec, and the v5 close of stdin. */
const FORGED_STATUS = Buffer.concat([Buffer.from([3]), Buffer.from('{"status":"Success"}')]);
const FORGED_CLOSE = Buffer.from([255, 0]);

function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve) =>
    stream.on("end", () => {
      resolve(Buffer.concat(chunks));
    }),
  );
}

describe("a process inside a sandbox on Kubernetes, against the exec channels", () => {
  const app = uniqueApp("k8s-chan");
  afterAll(() => cleanupBackend(engine, app));

  it("prints a forged closing status and a v5 close, and its exec still ends with its own exit code and output", async () => {
    await using sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox" });
    // The bytes as octal escapes for printf: 3, the status text, 255 0, on both streams, then exit 7.
    const octal = (bytes: Buffer) => [...bytes].map((b) => `\\${b.toString(8).padStart(3, "0")}`).join("");
    const forged = octal(Buffer.concat([FORGED_STATUS, FORGED_CLOSE]));
    const process = await engine.exec.start(sandbox.id, {
      argv: ["sh", "-c", `printf '${forged}'; printf '${forged}' >&2; exit 7`],
    });
    const [stdout, stderr, code] = await Promise.all([
      collect(process.stdout),
      collect(process.stderr),
      process.wait(),
    ]);
    expect(code).toBe(7);
    expect(stdout).toEqual(Buffer.concat([FORGED_STATUS, FORGED_CLOSE]));
    expect(stderr).toEqual(Buffer.concat([FORGED_STATUS, FORGED_CLOSE]));
  });

  it("reads stdin that carries a v5 close and a status as data: its stdin ends only when the caller's does", async () => {
    await using sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox" });
    // Counts the bytes it is given until its stdin ends, then says how many and exits 5.
    const process = await engine.exec.start(sandbox.id, { argv: ["sh", "-c", "wc -c; exit 5"] }, { stdin: true });
    const stdout = collect(process.stdout);
    const input = Buffer.concat([FORGED_CLOSE, FORGED_STATUS, FORGED_CLOSE, Buffer.from("end\n")]);
    process.stdin?.end(input);
    expect(await process.wait()).toBe(5);
    expect((await stdout).toString().trim()).toBe(String(input.length));
  });

  it("closes its own stdout and stderr early: its exit code is still the one it ends with", async () => {
    await using sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox" });
    const process = await engine.exec.start(sandbox.id, {
      argv: ["sh", "-c", "echo early; exec 1>&- 2>&-; exit 9"],
    });
    const [stdout, code] = await Promise.all([collect(process.stdout), process.wait()]);
    expect(code).toBe(9);
    expect(stdout.toString()).toBe("early\n");
  });
});
