/**
 * The engine's multiplexed stream (logs and execs without a TTY): frames of
 * [stream id, 0, 0, 0, payload size (4 bytes, big-endian), payload]; stream
 * id 2 is stderr, anything else stdout.
 */
import type { Readable, Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";

const HEADER = 8;

/** Splits a live stream into stdout and stderr; both end when it does. */
export function demuxInto(source: Readable, stdout: Writable, stderr: Writable): void {
  let pending: Buffer = Buffer.alloc(0);
  source.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let offset = 0;
    while (pending.length - offset >= HEADER) {
      const size = pending.readUInt32BE(offset + 4);
      if (pending.length - offset - HEADER < size) break;
      const payload = pending.subarray(offset + HEADER, offset + HEADER + size);
      (pending[offset] === 2 ? stderr : stdout).write(payload);
      offset += HEADER + size;
    }
    pending = pending.subarray(offset);
  });
  const finish = () => {
    stdout.end();
    stderr.end();
  };
  source.once("end", finish);
  source.once("close", finish);
  // A stream handed over paused (an exec's connection) flows only when asked to.
  source.resume();
}

/** Splits a stream read whole. */
export function demuxBuffer(buffer: Buffer, stdout: Writable, stderr: Writable): void {
  let offset = 0;
  while (offset + HEADER <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    const payload = buffer.subarray(offset + HEADER, offset + HEADER + size);
    (buffer[offset] === 2 ? stderr : stdout).write(payload);
    offset += HEADER + size;
  }
  stdout.end();
  stderr.end();
}

/** Each JSON value of a newline-separated stream (progress, events), also given to `onItem` as it comes. */
export async function readJsonLines<T>(source: Readable, onItem: (item: T) => void = () => undefined): Promise<T[]> {
  const items: T[] = [];
  const take = (line: string) => {
    const item = JSON.parse(line) as T;
    items.push(item);
    onItem(item);
  };
  // A character split across two chunks is decoded whole.
  const decoder = new StringDecoder("utf8");
  let partial = "";
  for await (const chunk of source) {
    const lines = (partial + decoder.write(chunk as Buffer)).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) take(line);
  }
  partial += decoder.end();
  if (partial.trim()) take(partial);
  return items;
}
