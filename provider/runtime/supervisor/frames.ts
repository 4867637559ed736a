/**
 * The supervisor's wire format, the same as supervisor/protocol/frame.go:
 * [kind u8][channel u32 BE][length u32 BE][payload], many channels over one
 * stream. Control payloads are JSON; data payloads are raw bytes.
 */

export const FRAME = {
  // client -> supervisor
  /** First on every connection, on channel 0: the sandbox's secret (AuthRequest), or nothing is served. */
  auth: "a",
  open: "o",
  input: "i",
  endInput: "e",
  signal: "s",
  resize: "r",
  // supervisor -> client
  hello: "h",
  started: "p",
  stdout: "1",
  stderr: "2",
  exit: "x",
  done: "d",
  failure: "f",
} as const;

export type FrameKind = (typeof FRAME)[keyof typeof FRAME];

export interface Frame {
  kind: string;
  channel: number;
  payload: Buffer;
}

const HEADER = 9;
/** The most one frame may carry; larger data is split. */
export const MAX_PAYLOAD = 1 << 20;

export function encodeFrame(kind: FrameKind, channel: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  if (payload.length > MAX_PAYLOAD) throw new RangeError(`frame payload of ${String(payload.length)} bytes`);
  const frame = Buffer.allocUnsafe(HEADER + payload.length);
  frame.write(kind, 0, "latin1");
  frame.writeUInt32BE(channel, 1);
  frame.writeUInt32BE(payload.length, 5);
  frame.set(payload, HEADER);
  return frame;
}

/** The first frame of every connection (supervisor/protocol's AuthRequest). */
export function authFrame(secret: string): Buffer {
  return encodeFrame(FRAME.auth, 0, Buffer.from(JSON.stringify({ secret }), "utf8"));
}

/** Cuts a byte stream into frames, however the bytes arrive. */
export class FrameParser {
  #pending: Buffer[] = [];
  #size = 0;

  /** The frames completed by this chunk; throws on a length no supervisor sends. */
  push(chunk: Buffer): Frame[] {
    this.#pending.push(chunk);
    this.#size += chunk.length;
    const frames: Frame[] = [];
    while (this.#size >= HEADER) {
      const head = this.#peek(HEADER);
      const length = head.readUInt32BE(5);
      if (length > MAX_PAYLOAD) throw new RangeError(`frame payload of ${String(length)} bytes`);
      if (this.#size < HEADER + length) break;
      const whole = this.#take(HEADER + length);
      frames.push({
        kind: String.fromCharCode(whole[0] ?? 0),
        channel: whole.readUInt32BE(1),
        payload: whole.subarray(HEADER),
      });
    }
    return frames;
  }

  #peek(n: number): Buffer {
    const first = this.#pending[0];
    if (first && first.length >= n) return first;
    const joined = Buffer.concat(this.#pending);
    this.#pending = [joined];
    return joined;
  }

  #take(n: number): Buffer {
    const joined = this.#peek(n);
    this.#pending = joined.length > n ? [joined.subarray(n)] : [];
    this.#size -= n;
    return joined.subarray(0, n);
  }
}
