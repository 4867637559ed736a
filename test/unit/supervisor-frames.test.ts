import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  authFrame,
  encodeFrame,
  FrameParser,
  MAX_PAYLOAD,
  type Frame,
  type FrameKind,
} from "../../provider/runtime/supervisor/frames.ts";
import { startFailure } from "../../provider/runtime/supervisor/engine-start-failure.ts";

// The same vectors the supervisor's Go tests read (supervisor/protocol/vectors_test.go): both
// sides agree on every byte, every refusal, and the words of each.
const shared = JSON.parse(readFileSync(new URL("../../supervisor/protocol/vectors.json", import.meta.url), "utf8")) as {
  auth: { secret: string; wire: string };
  frames: { name: string; kind: string; channel: number; payload: string; wire: string }[];
  largest: { kind: string; channel: number; fill: string; bytes: number; header: string };
  refused: { name: string; wire: string; error: string; before?: number }[];
  unwritable: { name: string; kind: string; channel: number; bytes: number; error: string }[];
};
const vectors = shared.frames;

/** Every frame a parser takes from these bytes, fed `cut` bytes at a time, and what it says at their end. */
function readAll(wire: Buffer, cut: number): { frames: Frame[]; error?: string } {
  const parser = new FrameParser();
  const frames: Frame[] = [];
  try {
    for (let at = 0; at < wire.length; at += cut) frames.push(...parser.push(wire.subarray(at, at + cut)));
    parser.end();
    return { frames };
  } catch (error) {
    return { frames, error: (error as Error).message };
  }
}

describe("the supervisor's frames", () => {
  it.each(vectors)("encode as the shared vectors say: $name", (v) => {
    expect(encodeFrame(v.kind as FrameKind, v.channel, Buffer.from(v.payload, "hex")).toString("hex")).toBe(v.wire);
  });

  it("decode from the shared vectors however the bytes are cut", () => {
    const wire = Buffer.concat(vectors.map((v) => Buffer.from(v.wire, "hex")));
    for (let cut = 1; cut <= wire.length; cut++) {
      const { frames, error } = readAll(wire, cut);
      expect(error).toBeUndefined();
      expect(frames.map((f) => ({ kind: f.kind, channel: f.channel, payload: f.payload.toString("hex") }))).toEqual(
        vectors.map((v) => ({ kind: v.kind, channel: v.channel, payload: v.payload })),
      );
    }
  });

  it("carry the largest payload there is, both ways", () => {
    const { kind, channel, fill, bytes, header } = shared.largest;
    const payload = Buffer.alloc(bytes, Buffer.from(fill, "hex"));
    const frame = encodeFrame(kind as FrameKind, channel, payload);
    expect(frame.subarray(0, 9).toString("hex")).toBe(header);
    const [read] = readAll(frame, 64 * 1024).frames;
    expect(read?.payload.equals(payload)).toBe(true);
  });

  it.each(shared.refused)("refuse what the shared vectors refuse, in the same words: $name", (v) => {
    const wire = Buffer.from(v.wire, "hex");
    for (const cut of [1, 4, wire.length]) {
      const { frames, error } = readAll(wire, cut);
      expect(frames).toHaveLength(v.before ?? 0);
      expect(error).toContain(v.error);
    }
  });

  it.each(shared.unwritable)("are never made with more than the largest payload: $name", (v) => {
    expect(() => encodeFrame(v.kind as FrameKind, v.channel, Buffer.alloc(v.bytes))).toThrow(v.error);
    expect(MAX_PAYLOAD).toBeLessThan(v.bytes);
  });

  it("open every connection with the secret as the shared vector says", () => {
    expect(authFrame(shared.auth.secret).toString("hex")).toBe(shared.auth.wire);
  });
});

describe("an engine exec that could not start", () => {
  const oci = (detail: string) =>
    `OCI runtime exec failed: exec failed: unable to start container process: ${detail}: unknown\r\n`;

  it("reads as the supervisor says it", () => {
    expect(startFailure(oci('exec: "nope": executable file not found in $PATH'))).toEqual({
      exitCode: 127,
      message: "command not found: nope",
    });
    expect(startFailure(oci('chdir to cwd ("/x") set in config.json failed: no such file or directory'))).toEqual({
      exitCode: 126,
      message: "working directory does not exist: /x",
    });
    expect(startFailure(oci('exec: "/etc/passwd": permission denied'))).toEqual({
      exitCode: 126,
      message: "command not executable: /etc/passwd: permission denied",
    });
  });

  it("leaves a command's own output alone", () => {
    expect(startFailure("OCI is a fine acronym\n")).toBeUndefined();
    expect(startFailure("hello\n")).toBeUndefined();
  });
});
