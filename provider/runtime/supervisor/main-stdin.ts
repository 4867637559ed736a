import { Writable } from "node:stream";
import type { Engine } from "../../engines/port.ts";
import { failureOf, type SupervisorConnection } from "./connection.ts";
import { supervisorConnection } from "./connections.ts";
import { FRAME } from "./frames.ts";
import { OP } from "./protocol.ts";

/**
 * The stdin of a sandbox's main command, as a writable stream: the first
 * write opens a channel to the supervisor, which holds the command's end of
 * the pipe; `end()` closes it. An open one does not keep the Node process running.
 */
export function mainStdin(docker: Engine, containerId: string): Writable {
  let opened: Promise<{ connection: SupervisorConnection; channel: number }> | undefined;
  let failed: Error | undefined;
  const open = () =>
    (opened ??= supervisorConnection(docker, containerId).then((connection) => ({
      connection,
      channel: connection.openChannel(
        { op: OP.stdin },
        {
          frame(frame) {
            if (frame.kind === FRAME.failure) failed = failureOf(frame.payload);
          },
          lost(error) {
            failed = error;
          },
        },
        { holdsProcess: false },
      ),
    })));
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      open().then(({ connection, channel }) => {
        if (failed) callback(failed);
        else connection.sendInput(channel, chunk, callback);
      }, callback);
    },
    final(callback) {
      open().then(({ connection, channel }) => {
        connection.send(FRAME.endInput, channel, undefined, () => {
          callback(failed);
        });
      }, callback);
    },
  });
}
