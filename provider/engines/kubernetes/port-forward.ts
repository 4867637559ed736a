import { Duplex, PassThrough, Writable } from "node:stream";
import type { V1Pod } from "@kubernetes/client-node";
import { EngineError } from "../../errors.ts";
import type { KubeApis } from "./api.ts";
import { openExec } from "./exec-failure.ts";

/** What is used of the library's WebSocket (the `ws` package's). */
interface ForwardSocket {
  on(event: "close", listener: () => void): void;
  on(event: "error", listener: (error: Error) => void): void;
  close(): void;
  terminate?(): void;
  /** Stops and starts reading the API server's connection (the `ws` package's flow control). */
  pause?(): void;
  resume?(): void;
  /** Bytes sent and not yet taken by the API server's connection. */
  readonly bufferedAmount?: number;
  /** The connection itself, whose `drain` says the API server took what waited. */
  readonly _socket?: { once(event: "drain" | "close", listener: () => void): void };
}

/** How much may wait for the API server before a writer is held back. */
const SEND_HIGH_WATER_BYTES = 1 << 20;

/**
 * One TCP connection to `port` of pod `podId`, through the API server's
 * pods/portforward subresource (a WebSocket; its channel 0 carries the
 * bytes, channel 1 the kubelet's error). The pod and port are the caller's,
 * checked before: this only opens. The API server connects to the port on
 * the pod's own loopback address, in its network namespace.
 *
 * The protocol has no half-close: the stream ends when either side closes
 * the connection. A local end of writing (FIN) is therefore not passed on,
 * so that a client that half-closes still hears the answer.
 */
export async function openPortForward(
  apis: () => Promise<KubeApis>,
  readPod: () => Promise<V1Pod>,
  podId: string,
  port: number,
): Promise<Duplex> {
  const { lib, config, namespace } = await apis();
  const toPod = new PassThrough();
  // The WebSocket once open; whether it has closed; writers waiting for it to take what was sent.
  const opened: { socket?: ForwardSocket; closed: boolean; waiting: Set<() => void> } = {
    closed: false,
    waiting: new Set(),
  };
  const stream = new Duplex({
    read() {
      // The reader wants more: the API server's connection is read again.
      opened.socket?.resume?.();
    },
    write(chunk: Buffer, _encoding, done) {
      toPod.write(chunk);
      // A fast writer to a slow pod is held back here, so that what waits for the API server stays bounded.
      let called = false;
      const check = () => {
        const { socket } = opened;
        const raw = socket?._socket;
        if (called) return;
        if (
          opened.closed ||
          !socket ||
          !raw ||
          stream.destroyed ||
          (socket.bufferedAmount ?? 0) < SEND_HIGH_WATER_BYTES
        ) {
          called = true;
          opened.waiting.delete(check);
          done();
        } else {
          opened.waiting.add(check);
          raw.once("drain", check);
        }
      };
      check();
    },
    final(done) {
      done();
    },
    destroy(error, done) {
      toPod.destroy();
      for (const waiting of [...opened.waiting]) waiting();
      const { socket } = opened;
      if (socket) (socket.terminate ?? socket.close).call(socket);
      done(error);
    },
  });
  const fromPod = new Writable({
    write(chunk: Buffer, _encoding, done) {
      // A slow reader pauses the connection, so that a pod sending fast fills no memory of this process.
      if (!stream.push(chunk)) opened.socket?.pause?.();
      done();
    },
  });
  let said = "";
  const errors = new Writable({
    write(chunk: Buffer, _encoding, done) {
      said += chunk.toString("utf8");
      done();
    },
  });
  const forward = new lib.PortForward(config, true);
  const socket = (await openExec(
    readPod,
    podId,
    undefined,
    "port-forward",
  )(() => forward.portForward(namespace, podId, [port], fromPod, errors, toPod))) as unknown as ForwardSocket;
  opened.socket = socket;
  socket.on("error", (error) => stream.destroy(error));
  socket.on("close", () => {
    opened.closed = true;
    for (const waiting of [...opened.waiting]) waiting();
    // The kubelet's word on why ends it as an error; else it is a plain end.
    if (said.trim()) stream.destroy(new EngineError(forwardRefusal(podId, port, said)));
    else stream.push(null);
  });
  if (stream.destroyed) (socket.terminate ?? socket.close).call(socket);
  return stream;
}

/**
 * The kubelet's refusal in a line fit for whoever holds a tunnel or a token:
 * its own words name the node's paths and the container's ids, which say
 * nothing useful to them.
 */
export function forwardRefusal(podId: string, port: number, said: string): string {
  const where = `port ${String(port)} of sandbox pod ${podId}`;
  if (/connection refused/i.test(said)) return `nothing listens on ${where} (connection refused)`;
  if (/timed? ?out/i.test(said)) return `${where} did not answer in time`;
  return `the cluster could not forward to ${where}`;
}
