import { readFileSync } from "node:fs";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../provider/errors.ts";
import { SUPERVISOR_CONTROL_UID } from "../../provider/rules.ts";
import { ensureImage } from "../../provider/runtime/images/image-build.ts";
import { Sandbox } from "../../provider/client/sandbox.ts";
import { readAll } from "../../provider/streams.ts";
import { cleanupApp, docker, uniqueApp } from "../support/engine.ts";
import { until } from "../support/until.ts";

// Attacker 1 of SECURITY.md: a process inside a sandbox, root or not, against
// the supervisor that is the sandbox's PID 1 and the host's channel into it.

const ATTACKS = readFileSync(new URL("./supervisor-attacks.py", import.meta.url), "utf8");
const USERS = [
  { label: "root", user: undefined, runtime: undefined },
  { label: "a non-root user", user: "sandbox", runtime: undefined },
  { label: "root under gVisor", user: undefined, runtime: "runsc" },
] as const;
// Signals forwarded to the main command (and from it to its children) are ignored by it here, so
// the sandbox outlives them; what the test watches is the supervisor.
const STUBBORN_MAIN = ["sh", "-c", "trap '' HUP INT QUIT TERM USR1 USR2; while :; do sleep 1; done"];

/** Runs one attack of supervisor-attacks.py inside the sandbox and returns what it printed. */
async function attack(sandbox: Sandbox, name: string): Promise<Record<string, unknown>> {
  await sandbox.files.write("/tmp/attacks.py", ATTACKS);
  const result = await sandbox.run(["python3", "/tmp/attacks.py", name]);
  if (result.exitCode !== 0) throw new Error(`attack ${name} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

/**
 * The host's channel through an engine exec (as from another host, or without root) rather than
 * from beside, for the rest of the test: its connect process then runs in the sandbox.
 */
function throughExec(): void {
  process.env.SANDFLEET_SUPERVISOR_CHANNEL = "exec";
}

/** The first line a process writes; its output stays open (and read) after it. */
function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    stream.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes("\n")) resolve(text.split("\n")[0] ?? "");
    });
    stream.on("end", () => {
      reject(new Error(`no line before the end: ${JSON.stringify(text)}`));
    });
  });
}

/** Whether a process of the sandbox still runs (a zombie does not). */
async function alive(sandbox: Sandbox, pid: number): Promise<boolean> {
  const { stdout } = await sandbox.run(["sh", "-c", `grep -s '^State' /proc/${String(pid)}/status || true`], {
    check: true,
  });
  return stdout.trim() !== "" && !stdout.includes("zombie");
}

/** Fails, instead of hanging the test, when a host call into the sandbox never answers. */
async function answers<T>(what: string, call: Promise<T>, withinMs = 60_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} stalled: no answer in ${String(withinMs)} ms`));
    }, withinMs);
  });
  try {
    return await Promise.race([call, stalled]);
  } finally {
    clearTimeout(timer);
  }
}

describe("a process inside a sandbox against its supervisor", () => {
  const app = uniqueApp("sec-sup");
  afterAll(() => cleanupApp(app));
  afterEach(() => {
    delete process.env.SANDFLEET_SUPERVISOR_CHANNEL;
  });

  // The tests that wait for a sandbox's timeout run at once (each has a sandbox of its own, and
  // none changes the process's environment): their waits overlap instead of adding up.
  for (const { label, user, runtime } of USERS) {
    it.concurrent(
      `cannot use the supervisor's channel without the secret, as ${label}, and the sandbox still ends at its timeout with 124`,
      async ({ expect }) => {
        await using sandbox = await Sandbox.create({
          app,
          image: "sandfleet/python",
          timeoutMs: 30_000,
          ...(user ? { user } : {}),
          ...(runtime ? { runtime } : {}),
        });
        const results = await attack(sandbox, "clients");
        // Every attempt, raw or through `sandfleet-supervisor connect`, got not one byte back (not
        // even the hello), and the raw ones were closed.
        for (const [name, result] of Object.entries(results)) {
          expect(result, name).toMatchObject({ bytes: 0 });
          if (name.startsWith("socket:")) expect(result, name).toMatchObject({ closed: true });
        }
        // The secret is nowhere a process of the sandbox can read it: not on PID 1's command line,
        // nor in any environment or command line it can see.
        const secret = (await sandbox.state()).container.entrypoint.at(-2) ?? "";
        expect(secret).toMatch(/^[0-9a-f]{64}$/);
        const seen = await sandbox.run([
          "sh",
          "-c",
          "env; cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n'",
        ]);
        expect(seen.stdout).toContain("sandfleet-supervisor");
        expect(seen.stdout).not.toContain(secret);
        expect(await answers("the sandbox's end", sandbox.wait(), 120_000)).toBe(124);
      },
    );
  }

  it.concurrent(
    "cannot kill the supervisor by filling its pids limit: host calls answer or fail clearly, and the timeout still ends it with 124",
    async ({ expect }) => {
      await using sandbox = await Sandbox.create({ app, image: "sandfleet/python", pidsLimit: 64, timeoutMs: 30_000 });
      await sandbox.files.write("/tmp/attacks.py", ATTACKS);
      // A file large enough that reading it keeps the supervisor's threads in the kernel a while.
      await sandbox.run(["sh", "-c", "head -c 16777216 /dev/urandom > /tmp/big"], { check: true });
      const bomb = await sandbox.exec(["python3", "/tmp/attacks.py", "fork-bomb"], { stdin: false });
      await until("the fork bomb filling the pids limit", async () =>
        sandbox.files
          .stat("/tmp/bomb-full")
          .then(() => true)
          .catch(() => false),
      );
      // Many calls at once, while no process (and no thread) can be made: each answers, with its
      // output or a clear error.
      const calls = await answers(
        "host calls with the pids limit full",
        Promise.all([
          ...Array.from({ length: 10 }, () => sandbox.run(["echo", "x"])),
          ...Array.from({ length: 24 }, () => sandbox.files.read("/tmp/big").then((data) => data.length)),
        ]),
      );
      for (const call of calls) {
        if (typeof call === "number") expect(call).toBe(16 * 1024 * 1024);
        else if (call.exitCode === 0) expect(call.stdout).toBe("x\n");
        else {
          expect(call.exitCode).toBe(126);
          expect(call.stderr).toMatch(/resource temporarily unavailable/i);
        }
      }
      expect(await sandbox.poll()).toBeNull();
      expect(await answers("the sandbox's end", sandbox.wait(), 120_000)).toBe(124);
      await bomb.wait().catch(() => undefined);
    },
  );

  for (const { label, user, runtime } of USERS) {
    it(`cannot trace PID 1 or the host's connect process, nor read their memory or environment, as ${label}`, async () => {
      throughExec();
      await using sandbox = await Sandbox.create({
        app,
        image: "sandfleet/python",
        ...(user ? { user } : {}),
        ...(runtime ? { runtime } : {}),
      });
      await sandbox.run(["true"]); // the host's connection, and its connect process, are open
      const results = await attack(sandbox, "trace");
      for (const target of ["PID 1", "connect"]) {
        expect(results[target], target).toEqual({
          attach: "Operation not permitted",
          seize: "Operation not permitted",
          mem: expect.stringMatching(/Permission denied|Operation not permitted/) as unknown,
          // gVisor shows any process's environment and has no process_vm_readv: PID 1's environment
          // holds nothing secret (the first test reads every one), and its memory stays closed.
          environ: runtime
            ? (expect.any(String) as unknown)
            : (expect.stringMatching(/Permission denied|Operation not permitted/) as unknown),
          process_vm_readv: expect.stringMatching(
            runtime ? /Operation not permitted|Function not implemented/ : /^Operation not permitted$/,
          ) as unknown,
        });
      }
      expect((await answers("an exec after the attack", sandbox.run(["echo", "ok"]))).stdout).toBe("ok\n");
    });
  }

  for (const { label, user, runtime } of USERS) {
    it(`survives every signal number sent to PID 1 and its threads by kill, sigqueue, tgkill and tkill, as ${label}`, async () => {
      await using sandbox = await Sandbox.create({
        app,
        image: "sandfleet/python",
        command: STUBBORN_MAIN,
        ...(user ? { user } : {}),
        ...(runtime ? { runtime } : {}),
      });
      const { sent, ways } = await attack(sandbox, "signals");
      expect(sent).toBe(63 * Number(ways)); // 1 to 64 but SIGPWR, each every way
      expect(await sandbox.poll()).toBeNull();
      expect((await answers("an exec after the signals", sandbox.run(["echo", "alive"]))).stdout).toBe("alive\n");
      expect(await sandbox.poll()).toBeNull();
    });
  }

  for (const { label, user, runtime } of USERS) {
    it(`cannot end or stop the supervisor through a CPU limit, a file's signal or a pidfd, nor outlive kill() by leaving its session, group, environment and parents, as ${label}`, async () => {
      await using sandbox = await Sandbox.create({
        app,
        image: "sandfleet/python",
        ...(user ? { user } : {}),
        ...(runtime ? { runtime } : {}),
      });
      await sandbox.files.write("/tmp/attacks.py", ATTACKS);
      const running = await sandbox.exec(["python3", "/tmp/attacks.py", "leave-exec"]);
      const report = JSON.parse(await answers("the attack's report", firstLine(running.stdout))) as {
        tries: Record<string, string>;
        sessions: { exec: number; sleeper: number };
        sleeper: number;
      };
      // kill, sigqueue, tgkill and pidfd_send_signal with SIGKILL and SIGSTOP, pidfd_open, prlimit
      // and F_SETSIG with SIGKILL: none went.
      expect(Object.keys(report.tries)).toHaveLength(2 * 4 + 3);
      for (const [how, got] of Object.entries(report.tries)) expect(got, how).not.toBe("sent");
      // setsid changed nothing: the sleeper, in a process group of its own, is in the exec's session.
      expect(report.sessions.sleeper).toBe(report.sessions.exec);
      expect(await alive(sandbox, report.sleeper)).toBe(true);
      await running.kill();
      expect(await answers("the killed exec's end", running.wait())).toBe(137);
      await until("the sleeper that left the exec to be gone", async () => !(await alive(sandbox, report.sleeper)));
      expect(await answers("an exec after the attack", sandbox.run(["echo", "alive"]))).toMatchObject({
        stdout: "alive\n",
      });
    });
  }

  it("cannot stall the host's calls by stopping every process it can see", async () => {
    throughExec();
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/python", timeoutMs: 60_000 });
    await sandbox.run(["true"]);
    const results = await answers("the attack's own exec", attack(sandbox, "stop"));
    expect(results.connect).not.toEqual([]); // the host's connect process was there to stop
    expect((await answers("an exec after SIGSTOP to everything", sandbox.run(["echo", "ok"]))).stdout).toBe("ok\n");
    expect(await answers("a file call after SIGSTOP to everything", sandbox.files.readText("/tmp/attacks.py"))).toBe(
      ATTACKS,
    );
  });

  for (const { label, user } of USERS.filter((u) => !u.runtime)) {
    it(`finds no process of the host's channel to trace, stop or signal when the host connects from beside, as ${label}`, async () => {
      await using sandbox = await Sandbox.create({
        app,
        image: "sandfleet/python",
        timeoutMs: 60_000,
        ...(user ? { user } : {}),
      });
      await sandbox.run(["true"]); // the host's connection, from beside: nothing of it runs in the sandbox
      const traced = await attack(sandbox, "trace");
      expect(traced.connect).toBe("no such process");
      const stopped = await answers("the attack's own exec", attack(sandbox, "stop"));
      expect(stopped.connect).toEqual([]);
      expect((await answers("an exec after SIGSTOP to everything", sandbox.run(["echo", "ok"]))).stdout).toBe("ok\n");
    });

    it(`cannot listen where the host dials from beside, to hear the secret first, as ${label}`, async () => {
      await using sandbox = await Sandbox.create({ app, image: "sandfleet/python", ...(user ? { user } : {}) });
      expect(await attack(sandbox, "squat")).toEqual({ listening: false, error: "Address already in use" });
      expect((await sandbox.run(["echo", "ok"])).stdout).toBe("ok\n");
    });

    it(`cannot take the host's way in from beside (join a namespace, take the reserved uid), as ${label}`, async () => {
      await using sandbox = await Sandbox.create({ app, image: "sandfleet/python", ...(user ? { user } : {}) });
      const ways = await attack(sandbox, "beside");
      expect(Object.keys(ways)).toHaveLength(2);
      for (const [way, result] of Object.entries(ways)) {
        expect(result, way).toMatchObject({
          exit: 1,
          stderr: expect.stringMatching(
            /cannot reach the supervisor: (joining the network of container .*: operation not permitted|open .*: permission denied|holding process \d+: operation not permitted)/,
          ) as unknown,
        });
      }
    });
  }

  it("cannot stall the host's file calls with a pipe where the host reads or writes", async () => {
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox", user: "1000" });
    await sandbox.run(["mkfifo", "/tmp/out.txt"], { check: true });
    await expect(answers("a file read of a FIFO", sandbox.files.readText("/tmp/out.txt"))).rejects.toThrow(
      /not a regular file/,
    );
    await expect(answers("a file write to a FIFO", sandbox.files.write("/tmp/out.txt", "x"))).rejects.toThrow(
      /not a regular file/,
    );
    expect((await answers("an exec after the file calls", sandbox.run(["echo", "ok"]))).stdout).toBe("ok\n");
  });

  it("cannot be given the host's connection uid, in any spelling, through the API", async () => {
    for (const user of [
      String(SUPERVISOR_CONTROL_UID),
      `${String(SUPERVISOR_CONTROL_UID)}:0`,
      `+0${String(SUPERVISOR_CONTROL_UID)}`,
    ]) {
      await expect(Sandbox.create({ app, image: "sandfleet/busybox", user }), user).rejects.toThrow(
        /reserved for the host's connection/,
      );
    }
    await using sandbox = await Sandbox.create({ app, image: "sandfleet/busybox" });
    await expect(sandbox.run(["id"], { user: String(SUPERVISOR_CONTROL_UID) })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it("refuses to start as the host's connection uid when an image's own USER is that uid", async () => {
    const image = await ensureImage(docker, {
      app,
      name: "reserved-user",
      base: "sandfleet/busybox",
      steps: [{ user: String(SUPERVISOR_CONTROL_UID) }],
    });
    const sandbox = await Sandbox.create({ app, image: image.imageRef }).catch((error: unknown) => error);
    if (sandbox instanceof Sandbox) {
      await using made = sandbox;
      expect(await answers("the refused sandbox's end", made.wait())).toBe(2);
      const { stderr } = await made.logs();
      const said = await readAll(stderr);
      expect(said.toString()).toContain(`refusing to run as uid ${String(SUPERVISOR_CONTROL_UID)}`);
    } else {
      expect(String(sandbox)).toContain(`refusing to run as uid ${String(SUPERVISOR_CONTROL_UID)}`);
    }
  });
});
