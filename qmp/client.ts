import type { Socket } from 'node:net';
import { EventEmitter } from 'eventemitter3';
import type { VirtError } from 'virtkit';
import type { QmpArguments, QmpCommandName, QmpCommandReturn } from './commands.js';
import { openSocket } from './connect-socket.js';
import { closedWhile, commandError, eof, excerpt, guard, protocolError, qmpError } from './errors.js';
import { EventStream } from './event-stream.js';
import { waitJob, type QmpWaitJobOptions } from './jobs.js';
import { LineSplitter } from './line-splitter.js';
import { classify, parseEvent, parseGreeting, type QmpMessage } from './messages.js';
import type {
  QmpClientEvents,
  QmpConnectOptions,
  QmpEventsOptions,
  QmpExecuteOptions,
  QmpExecuteRest,
  QmpWaitOptions,
} from './options.js';
import type { QmpEvent, QmpGreeting, QmpJobInfo } from './types.js';

interface Pending {
  readonly command: string;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

const DEFAULT_MAX_LINE = 64 * 1024 * 1024;

/**
 * A client for QEMU's machine protocol over a unix socket: greeting and capabilities,
 * commands with ids (several may be in flight), typed errors, events as a stream, job
 * helpers. It needs no native code. See `docs/qmp.md`.
 *
 * The socket must be private: create it in a directory only its owner can enter (mode
 * 0700), because anyone who can connect to it controls the VM.
 *
 * @example
 * ```ts
 * await using qmp = await QmpClient.connect('/run/vm/qmp.sock', { waitForSocket: true });
 * const { status } = await qmp.execute('query-status');
 * ```
 *
 * @public
 */
export class QmpClient implements AsyncDisposable {
  /** The socket path. */
  readonly path: string;
  readonly #socket: Socket;
  readonly #splitter: LineSplitter;
  readonly #emitter = new EventEmitter<QmpClientEvents>();
  readonly #pending = new Map<string, Pending>();
  readonly #streams = new Set<{ names?: ReadonlySet<string>; stream: EventStream<QmpEvent> }>();
  readonly #commandTimeoutMs: number | undefined;
  readonly #closed: Promise<VirtError | undefined>;
  #greeting: QmpGreeting | undefined;
  #onGreeting: ((err?: VirtError) => void) | undefined;
  #closeReason: VirtError | undefined;
  #state: 'greeting' | 'ready' | 'closing' | 'closed' = 'greeting';
  #nextId = 1;

  private constructor(path: string, socket: Socket, options: QmpConnectOptions) {
    this.path = path;
    this.#socket = socket;
    this.#splitter = new LineSplitter(options.maxLineBytes ?? DEFAULT_MAX_LINE);
    this.#commandTimeoutMs = options.commandTimeoutMs;
    this.#closed = new Promise((resolve) => this.#emitter.once('close', resolve));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#fail(eof(path, this.#splitter.pendingBytes, err)));
    socket.on('end', () => this.#fail(eof(path, this.#splitter.pendingBytes)));
    socket.on('close', () => this.#finish());
  }

  /**
   * Connects to a QMP socket, reads the greeting and leaves capabilities negotiation
   * (`qmp_capabilities`; out-of-band execution is not enabled).
   *
   * @throws `NO_CONNECT` when nothing listens on `path`, `SYSTEM_ERROR` for other socket
   * errors, `OPERATION_TIMEOUT` / `OPERATION_ABORTED`, `INTERNAL_ERROR` when the peer does
   * not speak QMP (no greeting, malformed lines).
   */
  static async connect(path: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    let cancelled = false;
    let connected = false;
    let client: QmpClient | undefined;
    const what = `connecting to QMP socket '${path}'`;
    return guard<QmpClient>(what, { timeoutMs, signal: options.signal }, { path }, (resolve, reject) => {
      const run = async (): Promise<QmpClient> => {
        const socket = await openSocket(path, options.waitForSocket === true, () => cancelled);
        client = new QmpClient(path, socket, options);
        if (cancelled) socket.destroy();
        await client.#handshake();
        return client;
      };
      run().then((c) => {
        connected = true;
        resolve(c);
      }, reject);
      return () => {
        cancelled = true;
        if (!connected && client !== undefined) client.#socket.destroy();
      };
    });
  }

  /** The greeting QEMU sent: its version and offered capabilities. */
  get greeting(): QmpGreeting {
    return this.#greeting!;
  }

  /** Whether the connection has ended (or {@link QmpClient.close} was called). */
  get isClosed(): boolean {
    return this.#state === 'closing' || this.#state === 'closed';
  }

  /**
   * Resolves once the connection has ended: with the reason (QEMU exited, protocol error),
   * or `undefined` after {@link QmpClient.close}.
   */
  get closed(): Promise<VirtError | undefined> {
    return this.#closed;
  }

  /**
   * Sends a command and resolves with its `return` value. Known commands
   * ({@link QmpCommandMap}) are typed; any other takes an explicit result type.
   *
   * @throws `INTERNAL_ERROR` with `details.qmpClass`, `details.desc` and `details.qmpCommand`
   * when QEMU answers with an error; `OPERATION_TIMEOUT` / `OPERATION_ABORTED` (the command
   * may still run in QEMU; its late reply is dropped); `OPERATION_FAILED` when the connection
   * ends before the reply; `OPERATION_INVALID` on a closed client; `INVALID_ARG` when the
   * arguments cannot be serialized.
   */
  execute<C extends QmpCommandName>(command: C, ...rest: QmpExecuteRest<C>): Promise<QmpCommandReturn<C>>;
  /**
   * Sends any other command; `T` is the type of its `return` value. Same errors as for a
   * known command.
   */
  execute<T = unknown, C extends string = string>(
    command: C extends QmpCommandName ? never : C,
    args?: QmpArguments,
    options?: QmpExecuteOptions,
  ): Promise<T>;
  execute(command: string, args?: QmpArguments, options: QmpExecuteOptions = {}): Promise<unknown> {
    if (this.#state !== 'ready') {
      return Promise.reject(this.#closedError(command));
    }
    const id = `virtkit-${this.#nextId++}`;
    let line: string;
    try {
      line = `${JSON.stringify(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id })}\n`;
    } catch (err) {
      return Promise.reject(
        qmpError(
          'INVALID_ARG',
          `invalid argument: cannot serialize arguments of '${command}'`,
          { qmpCommand: command },
          err,
        ),
      );
    }
    const timeoutMs = options.timeoutMs ?? this.#commandTimeoutMs;
    const what = `waiting for the reply to QEMU command '${command}'`;
    return guard<unknown>(
      what,
      { timeoutMs, signal: options.signal },
      { qmpCommand: command },
      (resolve, reject) => {
        this.#pending.set(id, { command, resolve, reject });
        this.#socket.write(line);
        return () => this.#pending.delete(id);
      },
    );
  }

  /**
   * Adds a listener; `event` receives every QMP event, `close` the end of the connection.
   */
  on<K extends keyof QmpClientEvents>(name: K, listener: (...args: QmpClientEvents[K]) => void): this {
    this.#emitter.on(name, listener as never);
    return this;
  }

  /** Removes a listener added with {@link QmpClient.on}. */
  off<K extends keyof QmpClientEvents>(name: K, listener: (...args: QmpClientEvents[K]) => void): this {
    this.#emitter.off(name, listener as never);
    return this;
  }

  /**
   * The events from now on as an async iterator. Iteration ends when the connection ends
   * (after the events already received); it fails with `OPERATION_ABORTED` when `signal`
   * aborts and with `OPERATION_FAILED` when more than `bufferSize` events are left unread
   * (unread events are dropped in both cases).
   *
   * @example
   * ```ts
   * for await (const e of qmp.events({ names: ['STOP', 'RESUME'] })) console.log(e.event);
   * ```
   */
  events(options: QmpEventsOptions = {}): AsyncIterableIterator<QmpEvent> {
    const { signal } = options;
    const limit = options.bufferSize ?? 10_000;
    const onAbort = (): void =>
      stream.end(qmpError('OPERATION_ABORTED', 'operation aborted: reading QMP events', {}, signal?.reason));
    const entry = {
      ...(options.names === undefined ? {} : { names: new Set(options.names) }),
      stream: new EventStream<QmpEvent>(
        limit,
        () =>
          qmpError('OPERATION_FAILED', `operation failed: more than ${limit} unread QMP events`, { limit }),
        () => {
          this.#streams.delete(entry);
          signal?.removeEventListener('abort', onAbort);
        },
      ),
    };
    const stream = entry.stream;
    this.#streams.add(entry);
    if (this.#state === 'closed') stream.end();
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    return stream;
  }

  /**
   * Resolves with the next event called `name` that `predicate` accepts. Start waiting
   * before sending the command that causes the event, or it may pass unseen.
   *
   * @throws `OPERATION_TIMEOUT`, `OPERATION_ABORTED`, or `OPERATION_FAILED` when the
   * connection ends first.
   */
  waitForEvent<N extends string>(
    name: N,
    predicate?: (event: QmpEvent<N>) => boolean,
    options: QmpWaitOptions = {},
  ): Promise<QmpEvent<N>> {
    const details = { event: name };
    return guard<QmpEvent<N>>(`waiting for QMP event '${name}'`, options, details, (resolve, reject) => {
      const onEvent = (e: QmpEvent): void => {
        if (e.event !== name) return;
        try {
          if (predicate === undefined || predicate(e as QmpEvent<N>)) resolve(e as QmpEvent<N>);
        } catch (err) {
          reject(err);
        }
      };
      const onClose = (reason: VirtError | undefined): void =>
        reject(closedWhile(`waiting for QMP event '${name}'`, reason, details));
      this.#emitter.on('event', onEvent);
      this.#emitter.on('close', onClose);
      if (this.#state === 'closed') onClose(this.#closeReason);
      return () => {
        this.#emitter.off('event', onEvent);
        this.#emitter.off('close', onClose);
      };
    });
  }

  /**
   * Waits until job `id` is `concluded` (following `JOB_STATUS_CHANGE` events), reads its
   * result from `query-jobs`, dismisses it (`job-dismiss`) and returns its last info.
   * Start the job with `auto-dismiss: false` where the command has that option.
   *
   * @throws `OPERATION_FAILED` with `details.jobId` and `details.error` when the job failed;
   * `OPERATION_INVALID` when no job has that id; `OPERATION_TIMEOUT` / `OPERATION_ABORTED`
   * (the job keeps running: cancel it with `job-cancel`).
   */
  waitJob(id: string, options: QmpWaitJobOptions = {}): Promise<QmpJobInfo> {
    return waitJob(this, id, options);
  }

  /**
   * Closes the connection; commands still waiting fail with `OPERATION_FAILED`. Resolves
   * once the socket is closed. Calling it again does nothing more.
   */
  async close(): Promise<void> {
    if (!this.isClosed) {
      this.#fail(
        qmpError('OPERATION_FAILED', `operation failed: QMP connection to '${this.path}' was closed`),
      );
      this.#closeReason = undefined;
    }
    await this.#closed;
  }

  /** Same as {@link QmpClient.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #handshake(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#onGreeting = (err) => (err === undefined ? resolve() : reject(err));
    });
    this.#state = 'ready';
    await this.execute('qmp_capabilities');
  }

  #onData(chunk: Buffer): void {
    if (this.isClosed) return;
    const lines = this.#splitter.push(chunk);
    if (lines === undefined) {
      const limit = this.#splitter.maxLineBytes;
      return this.#fail(
        protocolError(`a line from QEMU is longer than ${limit} bytes`, { maxLineBytes: limit }),
      );
    }
    for (const line of lines) {
      if (this.isClosed) return;
      if (line.trim() !== '') this.#onLine(line);
    }
  }

  #onLine(line: string): void {
    const message = classify(line);
    if (message.kind === 'invalid')
      return this.#fail(protocolError(message.reason, { qmpLine: excerpt(line) }));
    if (this.#state === 'greeting') return this.#onFirstMessage(message, line);
    switch (message.kind) {
      case 'greeting':
        return this.#fail(protocolError('unexpected second greeting', { qmpLine: excerpt(line) }));
      case 'event':
        return this.#dispatch(parseEvent(message.value));
      case 'return':
      case 'error':
        return this.#reply(message);
    }
  }

  #onFirstMessage(message: QmpMessage, line: string): void {
    const greeting = message.kind === 'greeting' ? parseGreeting(message.value) : undefined;
    if (greeting === undefined) {
      return this.#fail(protocolError('expected the QMP greeting', { qmpLine: excerpt(line) }));
    }
    this.#greeting = greeting;
    this.#onGreeting?.();
  }

  #reply(message: QmpMessage & { kind: 'return' | 'error' }): void {
    // A reply nobody waits for answers a command that timed out or was aborted: drop it.
    const pending = typeof message.id === 'string' ? this.#pending.get(message.id) : undefined;
    if (pending === undefined) return;
    if (message.kind === 'return') pending.resolve(message.value.return);
    else pending.reject(commandError(pending.command, message.value.error));
  }

  #dispatch(event: QmpEvent): void {
    for (const { names, stream } of this.#streams) {
      if (names === undefined || names.has(event.event)) stream.push(event);
    }
    try {
      this.#emitter.emit('event', event);
    } catch (err) {
      // A throwing listener must not break the protocol state: report it like EventEmitter would.
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  /** Ends the connection for `reason`: every pending command fails with it. */
  #fail(reason: VirtError): void {
    if (this.isClosed) return;
    this.#state = 'closing';
    this.#closeReason = reason;
    this.#onGreeting?.(reason);
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      pending.reject(
        closedWhile(`waiting for the reply to QEMU command '${pending.command}'`, reason, {
          qmpCommand: pending.command,
        }),
      );
    }
    this.#socket.destroy();
  }

  #finish(): void {
    if (this.#state === 'closed') return;
    if (this.#state !== 'closing') this.#fail(eof(this.path, this.#splitter.pendingBytes));
    this.#state = 'closed';
    for (const { stream } of [...this.#streams]) stream.end();
    this.#emitter.emit('close', this.#closeReason);
  }

  #closedError(command: string): VirtError {
    return qmpError('OPERATION_INVALID', `operation invalid: QMP connection to '${this.path}' is closed`, {
      qmpCommand: command,
    });
  }
}
