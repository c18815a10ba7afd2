// A scripted QMP peer on a real unix socket, for the client's protocol unit tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ReceivedCommand {
  readonly execute: string;
  readonly arguments?: Record<string, unknown>;
  readonly id?: string;
}

export const GREETING = {
  QMP: {
    version: { qemu: { micro: 22, minor: 2, major: 7 }, package: 'Debian 1:7.2+dfsg-7' },
    capabilities: ['oob'],
  },
};

export interface PeerOptions {
  /** What to send first: the greeting by default, a raw line, or nothing. */
  readonly greeting?: unknown;
  /** Answer qmp_capabilities with {} (default true). */
  readonly capabilities?: boolean;
  /** Called for every other command. */
  readonly onCommand?: (cmd: ReceivedCommand, peer: Peer) => void;
}

export class Peer {
  readonly received: ReceivedCommand[] = [];
  readonly #socket: Socket;
  readonly #waiters: ((cmd: ReceivedCommand) => void)[] = [];
  readonly #unread: ReceivedCommand[] = [];
  #buffer = '';

  constructor(socket: Socket, options: PeerOptions) {
    this.#socket = socket;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      this.#buffer += chunk.toString('utf8');
      for (let nl = this.#buffer.indexOf('\n'); nl !== -1; nl = this.#buffer.indexOf('\n')) {
        const cmd = JSON.parse(this.#buffer.slice(0, nl)) as ReceivedCommand;
        this.#buffer = this.#buffer.slice(nl + 1);
        this.received.push(cmd);
        if (cmd.execute === 'qmp_capabilities' && options.capabilities !== false) {
          this.reply(cmd, {});
          continue;
        }
        const waiter = this.#waiters.shift();
        if (waiter === undefined) this.#unread.push(cmd);
        else waiter(cmd);
        options.onCommand?.(cmd, this);
      }
    });
  }

  /** The next command (other than qmp_capabilities) not yet returned by this method. */
  nextCommand(): Promise<ReceivedCommand> {
    const cmd = this.#unread.shift();
    if (cmd !== undefined) return Promise.resolve(cmd);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  send(message: unknown): void {
    this.raw(`${JSON.stringify(message)}\r\n`);
  }

  raw(data: string | Buffer): void {
    this.#socket.write(data);
  }

  reply(cmd: ReceivedCommand, value: unknown): void {
    this.send({ return: value, id: cmd.id });
  }

  error(cmd: ReceivedCommand, klass: string, desc: string): void {
    this.send({ error: { class: klass, desc }, id: cmd.id });
  }

  event(event: string, data?: Record<string, unknown>): void {
    this.send({ event, ...(data === undefined ? {} : { data }), timestamp: { seconds: 1, microseconds: 2 } });
  }

  end(): void {
    this.#socket.end();
  }
}

export interface ScriptedServer extends AsyncDisposable {
  readonly path: string;
  /** The next peer that connects. */
  readonly peer: Promise<Peer>;
}

export async function scriptedServer(options: PeerOptions = {}): Promise<ScriptedServer> {
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-qmp-'));
  const path = join(dir, 'qmp.sock');
  const sockets = new Set<Socket>();
  let onPeer: (p: Peer) => void = () => undefined;
  const peer = new Promise<Peer>((resolve) => (onPeer = resolve));
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const p = new Peer(socket, options);
    if (options.greeting === undefined) p.send(GREETING);
    else if (typeof options.greeting === 'string') p.raw(options.greeting);
    else if (options.greeting !== null) p.send(options.greeting);
    onPeer(p);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    peer,
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
