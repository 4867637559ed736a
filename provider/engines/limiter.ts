/**
 * At most `size` calls of one kind in flight on an engine; the rest wait
 * their turn. An engine asked to remove a thousand containers at once gave
 * up on some ("did not receive an exit event") and left others stuck in
 * "Removal In Progress" until it restarted; paced, it keeps up.
 */
export class Limiter {
  readonly #size: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#size = size;
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#size) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#running++;
    try {
      return await call();
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }
}
