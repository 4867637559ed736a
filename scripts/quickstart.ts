/**
 * `npm run quickstart` (scripts/quickstart runs it twice):
 *   --first-sandbox  a sandbox made, used and removed through the runtime API,
 *                    as soon as the runtime's parts are installed;
 *   (no argument)    examples/quickstart provisioned with the real `pulumi up`
 *                    on the local file backend, commands run in its sandboxes,
 *                    and how to tear it down (`npm run quickstart -- --destroy`).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { Sandbox, Sandfleet } from "../provider/index.ts";

/** Seconds since `npm run quickstart` began, as the bash part recorded it. */
function sinceStart(): string {
  const started = Number(process.env.SANDFLEET_QUICKSTART_STARTED);
  return Number.isFinite(started) && started > 0 ? ` (${Math.round(Date.now() / 1000 - started)} s in)` : "";
}

if (process.argv.includes("--first-sandbox")) {
  const sandfleet = new Sandfleet();
  const command = 'echo "hello from $(id -un) in $(hostname), network interfaces: $(ls /sys/class/net)"';
  {
    // Removed when the block ends, as `await using` promises.
    await using sandbox = await sandfleet.sandboxes.create({
      app: "quickstart-runtime",
      image: "sandfleet/busybox",
      user: "sandbox",
      memoryMiB: 128,
      timeoutMs: 120_000,
    });
    const { stdout } = await sandbox.run(["sh", "-c", command], { check: true });
    console.log(`
A first sandbox${sinceStart()}, made through the runtime (sandfleet.sandboxes.create, README "Runtime"):
$ sh -c '${command}'
${stdout.trimEnd()}
`);
  }
  process.exit(0);
}

const root = new URL("..", import.meta.url).pathname;
const projectDir = new URL("../examples/quickstart/", import.meta.url).pathname;
const stateDir = `${root}.pulumi-state`;
const stack = "quickstart";
mkdirSync(stateDir, { recursive: true });

function pulumi(args: string[], options: { capture?: boolean; allowFailure?: boolean } = {}): string {
  const result = spawnSync("pulumi", [...args, "--non-interactive"], {
    cwd: projectDir,
    env: { ...process.env, PULUMI_BACKEND_URL: `file://${stateDir}`, PULUMI_CONFIG_PASSPHRASE: "" },
    stdio: ["ignore", options.capture ? "pipe" : "inherit", "inherit"],
    encoding: "utf8",
  });
  if (result.error) {
    // No exit status to report: pulumi did not start (not on PATH: the quickstart builds it).
    console.error(
      `\npulumi ${args.join(" ")} could not start: ${result.error.message}; \`npm run quickstart\` builds the Pulumi CLI`,
    );
    process.exit(1);
  }
  if (result.status !== 0 && !options.allowFailure) {
    console.error(
      `\npulumi ${args.join(" ")} failed (${result.signal ? `killed by ${result.signal}` : `exit ${String(result.status)}`})`,
    );
    process.exit(1);
  }
  return result.stdout;
}

if (process.argv.includes("--destroy")) {
  const stacks = JSON.parse(pulumi(["stack", "ls", "--json"], { capture: true })) as { name: string }[];
  if (!stacks.some(({ name }) => name === stack)) {
    console.log(`Nothing to tear down: no ${stack} stack in ${stateDir} (npm run quickstart makes it).`);
    process.exit(0);
  }
  // --remove takes the stack too (pulumi destroy alone ends by advising a `pulumi stack rm` the quickstart would have run).
  pulumi(["destroy", "--remove", "--yes", "--skip-preview", "--stack", stack]);
  console.log(`\nThe quickstart's sandboxes are gone; npm run quickstart makes them again.`);
  process.exit(0);
}

pulumi(["stack", "select", "--create", stack], { capture: true });
pulumi(["up", "--yes", "--skip-preview", "--stack", stack]);
const outputs = JSON.parse(pulumi(["stack", "output", "--json", "--stack", stack], { capture: true })) as {
  sandboxes: Record<string, string>;
};

const hello = await Sandbox.fromId(outputs.sandboxes.hello ?? "");
const python = await Sandbox.fromId(outputs.sandboxes.python ?? "");
const helloCommand = 'echo "$GREETING, running as $(id -un), network interfaces: $(ls /sys/class/net)"';
const pythonCommand =
  "import platform; print(f'python {platform.python_version()} on the gVisor kernel {platform.release()}')";
const greeting = await hello.run(["sh", "-c", helloCommand], { check: true });
const kernel = await python.run(["python3", "-c", pythonCommand], { check: true });

console.log(`
Provisioned by pulumi up${sinceStart()}:
hello  $ sh -c '${helloCommand}'
${greeting.stdout.trimEnd()}
python $ python3 -c "${pythonCommand}"
${kernel.stdout.trimEnd()}

Tear it down with:  npm run quickstart -- --destroy`);
