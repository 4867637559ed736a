import { PassThrough, type Readable } from "node:stream";

// The engine writes this on the exec's stdout (and exits 126) when the
// command could not start at all.
const PREFIX = "OCI runtime exec failed";

/**
 * What the engine says when a command cannot start, said as the supervisor
 * says it: the exit code a shell would give (127: not found, 126: cannot
 * run) and one line on stderr. Then both paths fail alike.
 */
export function startFailure(output: string): { exitCode: number; message: string } | undefined {
  if (!output.startsWith(PREFIX)) return undefined;
  const notFound =
    /exec: "([^"]*)": executable file not found|exec: "([^"]*)": (?:stat [^:]*: )?no such file or directory/.exec(
      output,
    );
  if (notFound) return { exitCode: 127, message: `command not found: ${notFound[1] ?? notFound[2] ?? ""}` };
  const workdir = /chdir to cwd \("([^"]*)"\)/.exec(output);
  if (workdir) return { exitCode: 126, message: `working directory does not exist: ${workdir[1] ?? ""}` };
  const denied = /exec: "([^"]*)": (permission denied|exec format error)/.exec(output);
  if (denied) return { exitCode: 126, message: `command not executable: ${denied[1] ?? ""}: ${denied[2] ?? ""}` };
  return {
    exitCode: 126,
    message: output
      .slice(PREFIX.length)
      .replace(/^[:\s]+/, "")
      .trim(),
  };
}

/**
 * Streams that hold back the start of stdout until it is clear whether the
 * engine reported a start failure there; `settle` gets the exit code and
 * says which exit code to report.
 */
export function watchStartFailure(
  source: { stdout: Readable; stderr: Readable },
  exit: Promise<number>,
): { stdout: Readable; stderr: Readable; exitCode: Promise<number> } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  source.stderr.pipe(stderr, { end: false });
  const stderrEnded = new Promise<void>((resolve) => source.stderr.once("end", resolve));
  let held: Buffer[] = [];
  let size = 0;
  let deciding = true;
  source.stdout.on("data", (chunk: Buffer) => {
    if (!deciding) {
      stdout.write(chunk);
      return;
    }
    held.push(chunk);
    size += chunk.length;
    const start = Buffer.concat(held).toString("latin1", 0, PREFIX.length);
    if (!PREFIX.startsWith(start.slice(0, Math.min(start.length, PREFIX.length))) || size > 4096) {
      deciding = false;
      for (const piece of held) stdout.write(piece);
      held = [];
    }
  });
  const stdoutEnded = new Promise<void>((resolve) => source.stdout.once("end", resolve));
  const exitCode = Promise.all([exit, stdoutEnded, stderrEnded]).then(([code]) => {
    const failure =
      deciding && (code === 126 || code === 127) ? startFailure(Buffer.concat(held).toString("utf8")) : undefined;
    if (failure) stderr.write(`sandfleet: ${failure.message}\n`);
    else for (const piece of held) stdout.write(piece);
    stdout.end();
    stderr.end();
    return failure ? failure.exitCode : code;
  });
  exitCode.catch(() => {
    stdout.end();
    stderr.end();
  });
  return { stdout, stderr, exitCode };
}
