import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A stand-in for ssh, for engines at ssh:// addresses: it records its
 * arguments and runs the remote command (`docker system dial-stdio`) on this
 * host; a host named `unreachable...` fails as ssh would. Point
 * SANDFLEET_SSH at `path`.
 */
export function fakeSsh(): { path: string; calls: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), "sandfleet-ssh-"));
  const argsLog = join(dir, "args");
  const path = join(dir, "ssh");
  writeFileSync(
    path,
    `#!/bin/sh
printf '%s\\n' "$*" >> ${argsLog}
while [ "$1" != "--" ]; do shift; done
shift
case "$1" in unreachable*) echo "ssh: connect to host $1 port 22: Connection refused" >&2; exit 255;; esac
shift
exec "$@"
`,
  );
  chmodSync(path, 0o755);
  return { path, calls: () => readFileSync(argsLog, "utf8").trim().split("\n") };
}
