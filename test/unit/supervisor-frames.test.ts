import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  authFrame,
  encodeFrame,
  FrameParser,
  MAX_PAYLOAD,
  type FrameKind,
} from "../../provider/runtime/supervisor/frames.ts";
import { startFailure } from "../../provider/runtime/supervisor/engine-start-failure.ts";

interface Vector {
  kind: string;
  channel: number;
  payload: string;
  wire: string;
}

// The same vectors the supervisor's Go tests read: both sides agree on every byte.
const shared = JSON.parse(readFileSync(new URL("../../supervisor/testdata/frames.json", import.meta.url), "utf8")) as {
  frames: Vector[];
  auth: { secret: string; wire: string };
};
const vectors = shared.frames;

describe("the supervisor's frames", () => {
  it("encode as the shared vectors say", () => {
    for (const v of vectors) {
      expect(encodeFrame(v.kind as FrameKind, v.channel, Buffer.from(v.payload, "hex")).toString("hex")).toBe(v.wire);
    }
  });

  it("decode from the shared vectors however the bytes are cut", () => {
    const wire = Buffer.concat(vectors.map((v) => Buffer.from(v.wire, "hex")));
    for (let cut = 1; cut <= wire.length; cut++) {
      const parser = new FrameParser();
      const frames = [];
      for (let at = 0; at < wire.length; at += cut) frames.push(...parser.push(wire.subarray(at, at + cut)));
      expect(frames.map((f) => ({ kind: f.kind, channel: f.channel, payload: f.payload.toString("hex") }))).toEqual(
        vectors.map((v) => ({ kind: v.kind, channel: v.channel, payload: v.payload })),
      );
    }
  });

  it("open every connection with the secret as the shared vector says", () => {
    expect(authFrame(shared.auth.secret).toString("hex")).toBe(shared.auth.wire);
  });

  it("refuses a length no supervisor sends, before waiting for it", () => {
    expect(() => new FrameParser().push(Buffer.from("3100000001ffffffff", "hex"))).toThrow(RangeError);
    expect(() => encodeFrame("i", 1, Buffer.alloc(MAX_PAYLOAD + 1))).toThrow(RangeError);
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
