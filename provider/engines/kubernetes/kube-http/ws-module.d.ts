// The part of the `ws` package sandfleet uses (the package ships no types of its own).
declare module "ws" {
  import type { EventEmitter } from "node:events";
  import type { Agent, ClientRequest, IncomingMessage, Server } from "node:http";
  import type { Duplex } from "node:stream";

  type Data = Buffer | ArrayBuffer | Buffer[];

  interface ClientOptions {
    headers?: Record<string, string>;
    agent?: Agent;
    ca?: Buffer | string;
    cert?: Buffer | string;
    key?: Buffer | string;
    rejectUnauthorized?: boolean;
    servername?: string;
    perMessageDeflate?: boolean;
    handshakeTimeout?: number;
    maxPayload?: number;
  }

  class WebSocket extends EventEmitter {
    static readonly OPEN: number;
    constructor(address: string, protocols?: string | string[], options?: ClientOptions);
    readonly protocol: string;
    readonly readyState: number;
    readonly bufferedAmount: number;
    /** The connection under it (ws's own field): its ref and unref say whether it keeps the process alive. */
    readonly _socket: import("node:net").Socket | null;
    send(data: Buffer | string, callback?: (error?: Error) => void): void;
    close(code?: number, reason?: string): void;
    terminate(): void;
    pause(): void;
    resume(): void;
    on(event: "open", listener: () => void): this;
    on(event: "message", listener: (data: Data, isBinary: boolean) => void): this;
    on(event: "close", listener: (code: number, reason: Buffer) => void): this;
    on(event: "error", listener: (error: Error) => void): this;
    on(event: "unexpected-response", listener: (request: ClientRequest, response: IncomingMessage) => void): this;
    on(event: string, listener: (...args: never[]) => void): this;
    once(event: "open", listener: () => void): this;
    once(event: "close", listener: (code: number, reason: Buffer) => void): this;
    once(event: "error", listener: (error: Error) => void): this;
    once(event: string, listener: (...args: never[]) => void): this;
  }

  interface ServerOptions {
    server?: Server;
    port?: number;
    noServer?: boolean;
    handleProtocols?: (protocols: Set<string>, request: IncomingMessage) => string | false;
  }

  class WebSocketServer extends EventEmitter {
    constructor(options: ServerOptions);
    on(event: "connection", listener: (socket: WebSocket, request: IncomingMessage) => void): this;
    on(event: string, listener: (...args: never[]) => void): this;
    handleUpgrade(
      request: IncomingMessage,
      socket: Duplex,
      head: Buffer,
      callback: (socket: WebSocket, request: IncomingMessage) => void,
    ): void;
    close(callback?: () => void): void;
  }

  export { WebSocket, WebSocketServer };
  export type { ClientOptions, Data, ServerOptions };
  export default WebSocket;
}
