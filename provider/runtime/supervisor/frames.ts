/**
 * The supervisor's wire format, the same as supervisor/protocol/frame.go:
 * [kind u8][channel u32 BE][length u32 BE][payload], many channels over one
 * stream. Control payloads are JSON; data payloads are raw bytes. The frame
 * kinds, limits and messages are declared in supervisor/protocol/protocol.json
 * (protocol.ts is generated from it).
 */
import { FRAME, FRAME_HEADER_BYTES as HEADER, MAX_PAYLOAD, type AuthRequest, type FrameKind } from "./protocol.ts";

export { FRAME, MAX_PAYLOAD, type FrameKind };

export interface Frame {
  kind: string;
  channel: number;
  payload: Buffer;
}

/** Why a length is refused, in the words supervisor/protocol/frame.go uses too. */
function oversized(length: number): RangeError {
  return new RangeError(`frame payload of ${String(length)} bytes exceeds ${String(MAX_PAYLOAD)}`);
}

export function encodeFrame(kind: FrameKind, channel: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  if (payload.length > MAX_PAYLOAD) throw oversized(payload.length);
  const frame = Buffer.allocUnsafe(HEADER + payload.length);
  frame.write(kind, 0, "latin1");
  frame.writeUInt32BE(channel, 1);
  frame.writeUInt32BE(payload.length, 5);
  frame.set(payload, HEADER);
  return frame;
}

/** A control frame's payload: the message as JSON. */
export function jsonPayload(message: object): Buffer {
  return Buffer.from(JSON.stringify(message), "utf8");
}

/**
 * A control frame's message, as the protocol types it: plain JSON.parse, no
 * checking on this path (commands' latency), so readers keep their defaults
 * for a field that is missing. Undefined for a payload that is not JSON.
 */
export function parsePayload<T>(payload: Buffer): Partial<T> | undefined {
  try {
    return JSON.parse(payload.toString("utf8")) as Partial<T>;
  } catch {
    return undefined;
  }
}

/** The first frame of every connection (supervisor/protocol's AuthRequest). */
export function authFrame(secret: string): Buffer {
  const request: AuthRequest = { secret };
  return encodeFrame(FRAME.auth, 0, jsonPayload(request));
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
      if (length > MAX_PAYLOAD) throw oversized(length);
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

  /** The stream has ended: throws when it ended inside a frame. */
  end(): void {
    if (this.#size > 0) throw new Error("the stream ended inside a frame");
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
