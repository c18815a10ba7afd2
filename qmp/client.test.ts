import { describe, expect, it } from 'vitest';
import { isVirtError, type VirtError } from 'virtkit';
import { QmpClient } from 'virtkit/qmp';
import { GREETING, scriptedServer } from './testing/scripted-peer.js';

async function rejection(p: Promise<unknown>): Promise<VirtError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isVirtError(err)) throw new Error(`expected a VirtError, got ${String(err)}`);
  return err;
}

describe('QmpClient handshake', () => {
  it('reads the greeting, sends qmp_capabilities with an id and no oob', async () => {
    await using server = await scriptedServer();
    await using qmp = await QmpClient.connect(server.path);
    const peer = await server.peer;
    expect(qmp.greeting).toEqual({
      version: { qemu: { major: 7, minor: 2, micro: 22 }, package: 'Debian 1:7.2+dfsg-7' },
      capabilities: ['oob'],
    });
    expect(peer.received).toEqual([{ execute: 'qmp_capabilities', id: 'virtkit-1' }]);
  });

  it('fails with NO_CONNECT when nothing listens, and waits for the socket when asked', async () => {
    const err = await rejection(QmpClient.connect('/nonexistent/virtkit/qmp.sock'));
    expect(err.code).toBe('NO_CONNECT');
    expect(err.details).toMatchObject({ path: '/nonexistent/virtkit/qmp.sock', errno: 'ENOENT' });

    const late = await rejection(
      QmpClient.connect('/nonexistent/qmp.sock', { waitForSocket: true, timeoutMs: 100 }),
    );
    expect(late.code).toBe('OPERATION_TIMEOUT');
  });

  it('refuses a peer whose first line is not the greeting', async () => {
    await using server = await scriptedServer({ greeting: { return: {} } });
    const err = await rejection(QmpClient.connect(server.path));
    expect(err.code).toBe('INTERNAL_ERROR');
    expect(err.message).toContain('expected the QMP greeting');
  });

  it('refuses a malformed greeting and garbage instead of a greeting', async () => {
    await using s1 = await scriptedServer({ greeting: { QMP: { version: 'seven' } } });
    expect((await rejection(QmpClient.connect(s1.path))).code).toBe('INTERNAL_ERROR');
    await using s2 = await scriptedServer({ greeting: 'SSH-2.0-OpenSSH_9.2\r\n' });
    const err = await rejection(QmpClient.connect(s2.path));
    expect(err.message).toContain('not JSON');
    expect(err.details.qmpLine).toBe('SSH-2.0-OpenSSH_9.2');
  });

  it('fails with OPERATION_FAILED when the peer hangs up before the greeting', async () => {
    await using server = await scriptedServer({ greeting: null });
    const connecting = rejection(QmpClient.connect(server.path));
    (await server.peer).end();
    const err = await connecting;
    expect(err.code).toBe('OPERATION_FAILED');
    expect(err.message).toContain('end of file from QEMU monitor');
  });

  it('times out when no greeting comes, and aborts', async () => {
    await using server = await scriptedServer({ greeting: null });
    const err = await rejection(QmpClient.connect(server.path, { timeoutMs: 50 }));
    expect(err.code).toBe('OPERATION_TIMEOUT');
    const ac = new AbortController();
    const p = QmpClient.connect(server.path, { signal: ac.signal });
    ac.abort();
    expect((await rejection(p)).code).toBe('OPERATION_ABORTED');
  });

  it('fails when qmp_capabilities is refused or the peer hangs up', async () => {
    await using s1 = await scriptedServer({
      capabilities: false,
      onCommand: (cmd, peer) => peer.error(cmd, 'CommandNotFound', 'nope'),
    });
    const err = await rejection(QmpClient.connect(s1.path));
    expect(err.details).toMatchObject({ qmpClass: 'CommandNotFound', qmpCommand: 'qmp_capabilities' });
    await using s2 = await scriptedServer({ capabilities: false, onCommand: (_cmd, peer) => peer.end() });
    expect((await rejection(QmpClient.connect(s2.path))).code).toBe('OPERATION_FAILED');
  });
});

describe('QmpClient commands', () => {
  it('runs concurrent commands answered out of order, each with its own id', async () => {
    await using server = await scriptedServer();
    await using qmp = await QmpClient.connect(server.path);
    const peer = await server.peer;
    const a = qmp.execute('query-status');
    const b = qmp.execute<string>('echo', { text: 'hi' });
    const [ca, cb] = [await peer.nextCommand(), await peer.nextCommand()];
    expect(cb).toEqual({ execute: 'echo', arguments: { text: 'hi' }, id: 'virtkit-3' });
    peer.reply(cb, 'hi');
    peer.reply(ca, { status: 'paused', running: false });
    expect(await a).toEqual({ status: 'paused', running: false });
    expect(await b).toBe('hi');
  });

  it('turns an error reply into INTERNAL_ERROR with the QMP class and description', async () => {
    await using server = await scriptedServer({
      onCommand: (cmd, peer) => peer.error(cmd, 'GenericError', "Node 'x' not found"),
    });
    await using qmp = await QmpClient.connect(server.path);
    const err = await rejection(qmp.execute('blockdev-del', { 'node-name': 'x' }));
    expect(err.code).toBe('INTERNAL_ERROR');
    expect(err.message).toBe(
      "internal error: unable to execute QEMU command 'blockdev-del': Node 'x' not found",
    );
    expect(err.details).toEqual({
      qmpClass: 'GenericError',
      desc: "Node 'x' not found",
      qmpCommand: 'blockdev-del',
    });
    expect(err.driver).toBe('qemu');
  });

  it('drops replies with an unknown or missing id', async () => {
    await using server = await scriptedServer({
      onCommand: (cmd, peer) => {
        peer.send({ return: 'stale', id: 'virtkit-999' });
        peer.send({ error: { class: 'GenericError', desc: 'JSON parse error' } });
        peer.reply(cmd, 'ok');
      },
    });
    await using qmp = await QmpClient.connect(server.path);
    expect(await qmp.execute('x-ping')).toBe('ok');
  });

  it('times out one command, drops its late reply and keeps working', async () => {
    await using server = await scriptedServer();
    await using qmp = await QmpClient.connect(server.path, { commandTimeoutMs: 30 });
    const peer = await server.peer;
    const err = await rejection(qmp.execute('query-status'));
    expect(err.code).toBe('OPERATION_TIMEOUT');
    expect(err.details).toMatchObject({ qmpCommand: 'query-status', timeoutMs: 30 });
    peer.reply(await peer.nextCommand(), { status: 'running', running: true });
    const next = qmp.execute('query-status', undefined, { timeoutMs: 1000 });
    peer.reply(await peer.nextCommand(), { status: 'paused', running: false });
    expect((await next).status).toBe('paused');
  });

  it('aborts a command, and sends nothing for an already aborted signal', async () => {
    await using server = await scriptedServer();
    await using qmp = await QmpClient.connect(server.path);
    const peer = await server.peer;
    const ac = new AbortController();
    const p = qmp.execute('stop', undefined, { signal: ac.signal });
    ac.abort(new Error('user'));
    const err = await rejection(p);
    expect(err.code).toBe('OPERATION_ABORTED');
    expect((err.cause as Error).message).toBe('user');
    expect((await peer.nextCommand()).execute).toBe('stop');
    const before = peer.received.length;
    expect((await rejection(qmp.execute('cont', undefined, { signal: ac.signal }))).code).toBe(
      'OPERATION_ABORTED',
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(peer.received.length).toBe(before);
  });

  it('refuses arguments that are not JSON', async () => {
    await using server = await scriptedServer();
    await using qmp = await QmpClient.connect(server.path);
    const err = await rejection(qmp.execute('x', { n: 1n }));
    expect(err.code).toBe('INVALID_ARG');
  });
});

describe('QmpClient against a broken peer', () => {
  it('fails every pending command when a line is not JSON, and closes', async () => {
    await using server = await scriptedServer();
    await using qmp = await QmpClient.connect(server.path);
    const peer = await server.peer;
    const pending = [qmp.execute('query-status'), qmp.execute('query-block')];
    await peer.nextCommand();
    peer.raw('{"return": {}, "id": "virtkit-2"\n');
    for (const p of pending) {
      const err = await rejection(p);
      expect(err.code).toBe('INTERNAL_ERROR');
      expect(err.message).toContain('QMP protocol error: a line from QEMU is not JSON');
    }
    expect((await qmp.closed)?.code).toBe('INTERNAL_ERROR');
    expect(qmp.isClosed).toBe(true);
    expect((await rejection(qmp.execute('query-status'))).code).toBe('OPERATION_INVALID');
  });

  it('refuses JSON that is not a QMP message', async () => {
    for (const line of ['[1,2]', '"hello"', '{"hello": 1}', '{"QMP": {}}']) {
      await using server = await scriptedServer();
      await using qmp = await QmpClient.connect(server.path);
      (await server.peer).raw(`${line}\n`);
      expect((await qmp.closed)?.code).toBe('INTERNAL_ERROR');
    }
  });

  it('caps the line length with a typed error', async () => {
    await using server = await scriptedServer();
    await using qmp = await QmpClient.connect(server.path, { maxLineBytes: 4096 });
    const peer = await server.peer;
    const p = qmp.execute('query-named-block-nodes');
    await peer.nextCommand();
    peer.raw(`{"return": "${'x'.repeat(3000)}`);
    peer.raw('x'.repeat(3000));
    const err = await rejection(p);
    expect(err.code).toBe('INTERNAL_ERROR');
    expect(err.details).toMatchObject({ maxLineBytes: 4096, qmpCommand: 'query-named-block-nodes' });
    expect(err.message).toContain('longer than 4096 bytes');
  });

  it('accepts a line of almost 64 MiB by default', async () => {
    await using server = await scriptedServer();
    await using qmp = await QmpClient.connect(server.path);
    const peer = await server.peer;
    const p = qmp.execute<string>('x-big');
    const cmd = await peer.nextCommand();
    const big = 'y'.repeat(8 * 1024 * 1024);
    peer.reply(cmd, big);
    expect((await p).length).toBe(big.length);
  });

  it('fails pending commands with OPERATION_FAILED when the socket closes mid-reply', async () => {
    await using server = await scriptedServer();
    await using qmp = await QmpClient.connect(server.path);
    const peer = await server.peer;
    const p = qmp.execute('query-status');
    await peer.nextCommand();
    peer.raw('{"return": {"status": "runn');
    peer.end();
    const err = await rejection(p);
    expect(err.code).toBe('OPERATION_FAILED');
    expect(err.message).toContain('end of file from QEMU monitor');
    expect(err.message).toContain('in the middle of a message');
    expect(err.details.qmpCommand).toBe('query-status');
  });

  it('refuses a second greeting', async () => {
    await using server = await scriptedServer();
    await using qmp = await QmpClient.connect(server.path);
    (await server.peer).send(GREETING);
    expect((await qmp.closed)?.message).toContain('unexpected second greeting');
  });
});

describe('QmpClient close', () => {
  it('fails pending commands on close(), is idempotent, and reports no reason', async () => {
    await using server = await scriptedServer();
    const qmp = await QmpClient.connect(server.path);
    const closes: unknown[] = [];
    qmp.on('close', (r) => closes.push(r));
    const failed = rejection(qmp.execute('query-status'));
    await qmp.close();
    await qmp.close();
    await qmp[Symbol.asyncDispose]();
    expect((await failed).code).toBe('OPERATION_FAILED');
    expect(await qmp.closed).toBeUndefined();
    expect(closes).toEqual([undefined]);
  });
});
