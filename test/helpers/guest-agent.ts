// A tiny QEMU guest agent client for tests: newline-delimited JSON over the agent's unix socket
// (no greeting, no capabilities step). `sync()` resynchronises with `guest-sync-delimited`: the
// agent puts a 0xFF byte before that reply, so everything read before it (stale replies, a
// partial line) is dropped, and only the reply carrying our fresh id counts.
import { randomInt } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';

/** An `{"error": …}` reply of the agent. */
export class GuestAgentError extends Error {
  override readonly name = 'GuestAgentError';
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`guest agent ${command}: ${errorClass}: ${desc}`);
  }
}

type Message = Record<string, unknown>;

export class GuestAgentClient implements AsyncDisposable {
  readonly #socket: Socket;
  #buffer = Buffer.alloc(0);
  #waiter: { accept: (m: Message) => void; fail: (e: Error) => void } | undefined;
  #closed: Error | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('error', (err) => this.#close(err));
    socket.on('close', () => this.#close(new Error('guest agent socket closed')));
  }

  /**
   * Connects to the agent's socket (QEMU's chardev, server side), retrying every 20 ms while it
   * does not exist yet or refuses (a QEMU just spawned). QEMU serves one client per chardev:
   * close this one before connecting another.
   */
  static async connect(path: string, options: { timeoutMs?: number } = {}): Promise<GuestAgentClient> {
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = createConnection(path);
          s.once('connect', () => {
            s.removeListener('error', reject); // no retry handler may stay armed (test-guest.md §9)
            resolve(s);
          });
          s.once('error', reject);
        });
        return new GuestAgentClient(socket);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || Date.now() > deadline) throw err;
        await sleep(20);
      }
    }
  }

  /**
   * Sends `guest-sync-delimited` with a fresh id every 500 ms until the agent answers with that
   * id. Requests written before qemu-ga opens its port stay queued and are answered in a burst
   * when it starts, so this also measures boot-to-agent with no polling delay.
   */
  sync(timeoutMs = 60_000): Promise<void> {
    return this.#serial(async () => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (Date.now() > deadline)
          throw new Error(`guest agent did not answer guest-sync within ${timeoutMs} ms`);
        const id = randomInt(1, 2 ** 31);
        this.#write({ execute: 'guest-sync-delimited', arguments: { id } });
        if ((await this.#next((m) => m['return'] === id, 500)) !== undefined) return;
      }
    });
  }

  /** Runs one command and returns its `return` value; an `error` reply is a {@link GuestAgentError}. */
  execute<T = unknown>(command: string, args?: object, options: { timeoutMs?: number } = {}): Promise<T> {
    return this.#serial(async () => {
      const timeoutMs = options.timeoutMs ?? 30_000;
      this.#write(args === undefined ? { execute: command } : { execute: command, arguments: args });
      const reply = await this.#next(() => true, timeoutMs);
      if (reply === undefined) throw new Error(`guest agent ${command}: no reply within ${timeoutMs} ms`);
      const error = reply['error'] as { class?: string; desc?: string } | undefined;
      if (error !== undefined) throw new GuestAgentError(command, error.class ?? '?', error.desc ?? '');
      return reply['return'] as T;
    });
  }

  /** Sends a command that has no reply on success (`guest-shutdown`). */
  send(command: string, args?: object): Promise<void> {
    return this.#serial(async () => {
      this.#write(args === undefined ? { execute: command } : { execute: command, arguments: args });
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #write(message: object): void {
    if (this.#closed !== undefined) throw this.#closed;
    this.#socket.write(`${JSON.stringify(message)}\n`);
  }

  /** The next reply `accept` takes (others are dropped), or undefined after `ms`. */
  #next(accept: (m: Message) => boolean, ms: number): Promise<Message | undefined> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        resolve(undefined);
      }, ms);
      timer.unref();
      this.#waiter = {
        accept: (m) => {
          if (!accept(m)) return;
          clearTimeout(timer);
          this.#waiter = undefined;
          resolve(m);
        },
        fail: (e) => {
          clearTimeout(timer);
          this.#waiter = undefined;
          reject(e);
        },
      };
    });
  }

  #read(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    const sentinel = this.#buffer.lastIndexOf(0xff);
    if (sentinel >= 0) this.#buffer = this.#buffer.subarray(sentinel + 1);
    for (let nl = this.#buffer.indexOf(0x0a); nl >= 0; nl = this.#buffer.indexOf(0x0a)) {
      const line = this.#buffer.subarray(0, nl).toString('utf8').trim();
      this.#buffer = this.#buffer.subarray(nl + 1);
      if (line === '') continue;
      let message: Message;
      try {
        message = JSON.parse(line) as Message;
      } catch {
        continue; // garbage before a resync
      }
      this.#waiter?.accept(message); // a reply nobody waits for is stale: dropped
    }
  }

  #close(err: Error): void {
    this.#closed ??= err;
    this.#waiter?.fail(this.#closed);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
