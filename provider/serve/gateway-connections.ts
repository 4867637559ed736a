import type { Socket } from "node:net";

/** How often open connections' tokens are checked again: a revocation or expiry cuts them within about this. */
export const SWEEP_INTERVAL_MS = 250;

/**
 * The browser-side connections the gateway holds open (keep-alive sockets,
 * streaming responses, WebSockets), by the token that admitted them. Each
 * sweep ends those whose token has expired (known here) or is no longer
 * valid (one listing of the engine's records for all of them), so that no
 * connection outlives its token by more than a sweep.
 */
export class OpenConnections {
  readonly #byToken = new Map<string, { expiresAtMs: number; sockets: Set<Socket> }>();
  /** Each socket's tokens, with how many of its requests under each are in progress. */
  readonly #bySocket = new Map<Socket, Map<string, number>>();
  readonly #refused: (tokens: string[]) => Promise<Set<string>>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** `refused` names which of the tokens are no longer valid. */
  constructor(refused: (tokens: string[]) => Promise<Set<string>>) {
    this.#refused = refused;
  }

  /**
   * Keeps a socket open only as long as this token is valid, for a request
   * (until the release it gives) and afterwards while the socket idles. An
   * idle keep-alive socket answers to the token of its next request alone.
   */
  hold(token: string, expiresAtMs: number, socket: Socket): () => void {
    if (socket.destroyed) return () => undefined;
    let tokens = this.#bySocket.get(socket);
    if (!tokens) {
      tokens = new Map();
      this.#bySocket.set(socket, tokens);
      socket.once("close", () => {
        this.#forget(socket);
      });
    }
    for (const [idle, active] of tokens) if (active === 0 && idle !== token) this.#unlink(idle, socket);
    tokens.set(token, (tokens.get(token) ?? 0) + 1);
    let entry = this.#byToken.get(token);
    if (!entry) {
      entry = { expiresAtMs, sockets: new Set() };
      this.#byToken.set(token, entry);
    }
    entry.sockets.add(socket);
    this.#schedule();
    let released = false;
    return () => {
      const active = tokens.get(token);
      if (released || active === undefined) return;
      released = true;
      tokens.set(token, active - 1);
    };
  }

  /** Stops sweeping (the server is closing its connections itself). */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  #unlink(token: string, socket: Socket): void {
    this.#bySocket.get(socket)?.delete(token);
    const entry = this.#byToken.get(token);
    entry?.sockets.delete(socket);
    if (entry?.sockets.size === 0) this.#byToken.delete(token);
  }

  #forget(socket: Socket): void {
    for (const token of [...(this.#bySocket.get(socket)?.keys() ?? [])]) this.#unlink(token, socket);
    this.#bySocket.delete(socket);
  }

  #schedule(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      void this.#sweep().finally(() => {
        this.#timer = undefined;
        if (this.#byToken.size > 0) this.#schedule();
      });
    }, SWEEP_INTERVAL_MS);
    this.#timer.unref();
  }

  async #sweep(): Promise<void> {
    const now = Date.now();
    for (const [token, entry] of this.#byToken) if (now >= entry.expiresAtMs) this.#cut(token);
    if (this.#byToken.size === 0) return;
    // An engine that fails or stalls leaves connections as they are until it answers; expiries still cut.
    let stalled: ReturnType<typeof setTimeout> | undefined;
    const refused = await Promise.race([
      this.#refused([...this.#byToken.keys()]).catch(() => new Set<string>()),
      new Promise<Set<string>>((resolve) => (stalled = setTimeout(resolve, 2000, new Set<string>()))),
    ]);
    clearTimeout(stalled);
    for (const token of refused) this.#cut(token);
  }

  #cut(token: string): void {
    for (const socket of [...(this.#byToken.get(token)?.sockets ?? [])]) {
      this.#forget(socket);
      socket.destroy();
    }
    this.#byToken.delete(token);
  }
}
