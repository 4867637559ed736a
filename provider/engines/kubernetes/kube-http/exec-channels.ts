import type { Readable, Writable } from "node:stream";
import type WebSocket from "ws";
import type { Data } from "ws";

/** The exec subresource's channel protocols, newest first: v5 carries the end of stdin, v4 does not. */
export const EXEC_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
/** The closing status (a metav1.Status as JSON). */
const STATUS = 3;
/** v5: "this channel is closed", the channel's number after it. */
const CLOSE = 255;

/** How much stdin may wait for the API server before its reading pauses. */
const STDIN_HIGH_WATER_BYTES = 1 << 20;

/** A closing status of the exec subresource: Success, or Failure with the exit code as a cause. */
export interface ExecStatus {
  status?: string;
  message?: string;
  reason?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
}

/**
 * Joins an open exec WebSocket to the caller's streams: channel 1 to
 * stdout, 2 to stderr (each pausing the socket while its reader is behind),
 * 3 to `onStatus`; stdin's bytes go out on channel 0, and its end, on v5, as
 * a close of channel 0 (the command sees end of file).
 */
export function joinExecChannels(
  socket: WebSocket,
  streams: { stdout: Writable; stderr: Writable; stdin?: Readable },
  onStatus: (status: ExecStatus) => void,
): void {
  let behind = 0;
  let ended = false;
  const deliver = (into: Writable, bytes: Buffer) => {
    if (into.destroyed || into.writableEnded) return;
    if (!into.write(bytes)) {
      behind++;
      if (behind === 1) socket.pause();
      into.once("drain", () => {
        behind--;
        if (behind === 0) socket.resume();
      });
    }
  };
  socket.on("message", (data: Data) => {
    const bytes = asBuffer(data);
    if (bytes.length === 0) return;
    const channel = bytes[0];
    const rest = bytes.subarray(1);
    if (channel === STDOUT) deliver(streams.stdout, rest);
    else if (channel === STDERR) deliver(streams.stderr, rest);
    else if (channel === STATUS && rest.length > 0 && !ended) {
      // The status is the exec's last word: what the server sends after it (or never closing) is not the command's.
      ended = true;
      streams.stdout.end();
      streams.stderr.end();
      onStatus(statusOf(rest.toString("utf8")));
      socket.close();
    }
  });
  // The socket came paused (openSocket): it is read from now on, nothing it said lost.
  socket.resume();
  const { stdin } = streams;
  if (!stdin) return;
  stdin.on("data", (chunk: Buffer | string) => {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    socket.send(Buffer.concat([Buffer.from([STDIN]), bytes]), () => {
      if (socket.bufferedAmount < STDIN_HIGH_WATER_BYTES) stdin.resume();
    });
    if (socket.bufferedAmount >= STDIN_HIGH_WATER_BYTES) stdin.pause();
  });
  stdin.on("end", () => {
    if (socket.protocol === EXEC_PROTOCOLS[0] && socket.readyState === 1) socket.send(Buffer.from([CLOSE, STDIN]));
  });
}

/**
 * The status as sandfleet reads it: whatever the server sent (null, a list,
 * causes that are not a list), only the fields of their expected types are
 * kept, so that reading it never throws inside the socket's listener.
 */
function statusOf(text: string): ExecStatus {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { status: "Failure", message: text.slice(0, 300) };
  }
  const object = isRecord(parsed) ? parsed : {};
  const details = isRecord(object.details) ? object.details : {};
  const causes = (Array.isArray(details.causes) ? (details.causes as unknown[]) : []).filter(isRecord).map((c) => ({
    ...(typeof c.reason === "string" ? { reason: c.reason } : {}),
    ...(typeof c.message === "string" ? { message: c.message } : {}),
  }));
  return {
    ...(typeof object.status === "string" ? { status: object.status } : {}),
    ...(typeof object.message === "string" ? { message: object.message.slice(0, 300) } : {}),
    ...(typeof object.reason === "string" ? { reason: object.reason } : {}),
    details: { causes },
  };
}

/** What the command could not be run at all ends with, and what a status with no believable code is read as. */
const NOT_RUN = 126;

/**
 * The exit code in an exec's closing status: Success is 0, a failure names
 * its code as a cause. A code is what a process can end with, 1 to 255 in
 * decimal digits: a failure that claims 0, a negative, a fraction or words
 * is not a code, and is never read as success.
 */
export function exitCodeOf(status: ExecStatus): number {
  if (status.status === "Success") return 0;
  const causes = Array.isArray(status.details?.causes) ? status.details.causes : [];
  const cause = causes.find((c) => isRecord(c) && c.reason === "ExitCode");
  const code = typeof cause?.message === "string" && /^[0-9]{1,3}$/.test(cause.message) ? Number(cause.message) : 0;
  return code >= 1 && code <= 255 ? code : NOT_RUN;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function asBuffer(data: Data): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
