import type { VirtError } from 'virtkit';

/**
 * A buffered async iterator fed by the client: events wait in the buffer until read. When
 * the buffer holds more than `limit` unread events the stream fails with `overflow`, so a
 * slow reader learns it missed events instead of the buffer growing without bound.
 */
export class EventStream<E> implements AsyncIterableIterator<E> {
  readonly #buffer: E[] = [];
  readonly #waiters: { resolve(r: IteratorResult<E>): void; reject(err: unknown): void }[] = [];
  readonly #limit: number;
  readonly #overflow: () => VirtError;
  readonly #onEnd: () => void;
  #ended = false;
  #error: unknown;

  constructor(limit: number, overflow: () => VirtError, onEnd: () => void) {
    this.#limit = limit;
    this.#overflow = overflow;
    this.#onEnd = onEnd;
  }

  /** Delivers one event to a waiting reader or the buffer. */
  push(event: E): void {
    if (this.#ended) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) return waiter.resolve({ value: event, done: false });
    this.#buffer.push(event);
    if (this.#buffer.length > this.#limit) this.end(this.#overflow());
  }

  /**
   * Ends the stream. Without `error`, buffered events are still read, then done; with one,
   * the buffer is dropped and the next read throws it once.
   */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    if (error !== undefined) this.#buffer.length = 0;
    this.#onEnd();
    for (const waiter of this.#waiters.splice(0)) this.#settle(waiter);
  }

  next(): Promise<IteratorResult<E>> {
    const value = this.#buffer.shift();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    if (this.#ended) return new Promise((resolve, reject) => this.#settle({ resolve, reject }));
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<E>> {
    this.#buffer.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #settle(waiter: { resolve(r: IteratorResult<E>): void; reject(err: unknown): void }): void {
    if (this.#error !== undefined) {
      const error = this.#error;
      this.#error = undefined;
      waiter.reject(error);
    } else {
      waiter.resolve({ value: undefined, done: true });
    }
  }
}
