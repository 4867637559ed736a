// An ssh:// engine is reached the way the docker CLI reaches one: the user's
// ssh runs `docker system dial-stdio` on the far host. Here a stand-in for ssh
// records its arguments and runs that command on this host.
import { afterAll, describe, expect, it } from "vitest";
import { EngineUnavailableError, Sandfleet } from "../../provider/index.ts";
import { cleanupApp, uniqueApp } from "../support/engine.ts";
import { fakeSsh } from "../support/fake-ssh.ts";

const ssh = fakeSsh();
process.env.SANDFLEET_SSH = ssh.path;

describe("an engine at an ssh:// address", () => {
  const app = uniqueApp("ssh");
  afterAll(() => cleanupApp(app));

  it("runs sandboxes through ssh and docker system dial-stdio", async () => {
    const sandfleet = new Sandfleet({ dockerHost: "ssh://ops@engine-host:2222" });
    await sandfleet.ping();
    await using sandbox = await sandfleet.sandboxes.create({ app, image: "sandfleet/busybox" });
    const result = await sandbox.run(["sh", "-c", "read line; echo got $line; exit 3"], { input: "hi\n" });
    expect(result).toMatchObject({ exitCode: 3, stdout: "got hi\n" });
    expect((await sandfleet.sandboxes.list({ app })).map((s) => s.id)).toEqual([sandbox.id]);
    expect(new Set(ssh.calls())).toEqual(
      new Set(["-p 2222 -o BatchMode=yes -- ops@engine-host docker system dial-stdio"]),
    );
  });

  it("says which engine it cannot reach, with ssh's own words", async () => {
    const sandfleet = new Sandfleet({ dockerHost: "ssh://unreachable-host" });
    const error = await sandfleet.ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineUnavailableError);
    expect((error as Error).message).toContain("ssh://unreachable-host");
    expect((error as Error).message).toContain("Connection refused");
  });
});
