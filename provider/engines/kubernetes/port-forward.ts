import { Duplex } from "node:stream";
import type { V1Pod } from "@kubernetes/client-node";
import type WebSocket from "ws";
import type { Data } from "ws";
import { EngineError } from "../../errors.ts";
import type { KubeApis } from "./api.ts";
import { openExec } from "./exec-failure.ts";
import { asBuffer, EXEC_PROTOCOLS } from "./kube-http/exec-channels.ts";

/** The forward's channels for its one port: the bytes, and the kubelet's error. */
const DATA_CHANNEL = 0;
const ERROR_CHANNEL = 1;

/** How much may wait for the API server before a writer is held back. */
const SEND_HIGH_WATER_BYTES = 1 << 20;
/** The most of the kubelet's error that is kept (it is read only for its kind). */
const MAX_ERROR_CHARS = 4096;

/**
 * One TCP connection to `port` of pod `podId`, through the API server's
 * pods/portforward subresource (a WebSocket; its channel 0 carries the
 * bytes, channel 1 the kubelet's error, and the first frame of each starts
 * with the port's number, two bytes little-endian, which is not the pod's). The pod and port are the caller's,
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
  const [{ http, namespace }, { openSocket }] = await Promise.all([apis(), import("./kube-http/socket.ts")]);
  // The WebSocket once open; whether it has closed; writers waiting for it to take what was sent.
  const opened: { socket?: WebSocket; closed: boolean; waiting: Set<() => void> } = {
    closed: false,
    waiting: new Set(),
  };
  const stream = new Duplex({
    read() {
      // The reader wants more: the API server's connection is read again.
      opened.socket?.resume();
    },
    write(chunk: Buffer, _encoding, done) {
      const { socket } = opened;
      if (socket && !opened.closed) socket.send(Buffer.concat([Buffer.from([DATA_CHANNEL]), chunk]));
      // A fast writer to a slow pod is held back here, so that what waits for the API server stays bounded.
      let called = false;
      const check = () => {
        const { socket } = opened;
        const raw = socket?._socket;
        if (called) return;
        if (opened.closed || !socket || !raw || stream.destroyed || socket.bufferedAmount < SEND_HIGH_WATER_BYTES) {
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
      for (const waiting of [...opened.waiting]) waiting();
      opened.socket?.terminate();
      done(error);
    },
  });
  let said = "";
  const socket = await openExec(
    readPod,
    podId,
    undefined,
    "port-forward",
  )(() =>
    openSocket(
      http,
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(podId)}/portforward`,
      { ports: port },
      EXEC_PROTOCOLS,
    ),
  );
  opened.socket = socket;
  // Each channel's first two bytes are the port's number: what is left of them to skip.
  const prefix = [2, 2];
  socket.on("message", (data: Data) => {
    if (stream.destroyed) return;
    let bytes = asBuffer(data);
    const channel = bytes[0];
    if (channel !== DATA_CHANNEL && channel !== ERROR_CHANNEL) {
      // A channel of no port asked for: the kubelet's stream is not what this reads.
      stream.destroy(new EngineError(`the cluster's forward to port ${String(port)} of ${podId} spoke out of turn`));
      return;
    }
    bytes = bytes.subarray(1);
    const skip = Math.min(prefix[channel] ?? 0, bytes.length);
    prefix[channel] = (prefix[channel] ?? 0) - skip;
    bytes = bytes.subarray(skip);
    if (bytes.length === 0) return;
    if (channel === ERROR_CHANNEL) {
      said += bytes.toString("utf8");
      // The kubelet's error is a line, then the end: a server that keeps talking on it is cut off there.
      if (said.length >= MAX_ERROR_CHARS) stream.destroy(new EngineError(forwardRefusal(podId, port, said)));
    }
    // A slow reader pauses the connection, so that a pod sending fast fills no memory of this process.
    else if (!stream.push(bytes)) socket.pause();
  });
  socket.on("error", (error) => stream.destroy(error));
  socket.on("close", () => {
    opened.closed = true;
    for (const waiting of [...opened.waiting]) waiting();
    // The kubelet's word on why ends it as an error; else it is a plain end.
    if (said.trim()) stream.destroy(new EngineError(forwardRefusal(podId, port, said)));
    else stream.push(null);
  });
  // The socket came paused (openSocket), its port frames already there: read from now on.
  socket.resume();
  if (stream.destroyed) socket.terminate();
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
