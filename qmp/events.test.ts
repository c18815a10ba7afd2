import { describe, expect, it } from 'vitest';
import { isVirtError } from 'virtkit';
import { QmpClient, type QmpEvent } from 'virtkit/qmp';
import { scriptedServer } from './testing/scripted-peer.js';

describe('QmpClient events', () => {
  it('delivers events to listeners and iterators, filtered by name, with typed data', async () => {
    await using server = await scriptedServer();
    await using qmp = await QmpClient.connect(server.path);
    const peer = await server.peer;
    const heard: string[] = [];
    qmp.on('event', (e) => heard.push(e.event));
    const all = qmp.events();
    const jobs = qmp.events({ names: ['JOB_STATUS_CHANGE'] });
    peer.event('STOP');
    peer.event('JOB_STATUS_CHANGE', { id: 'j1', status: 'running' });
    peer.event('RESUME');
    expect((await all.next()).value).toEqual({
      event: 'STOP',
      data: {},
      timestamp: { seconds: 1, microseconds: 2 },
    });
    expect((await all.next()).value.event).toBe('JOB_STATUS_CHANGE');
    expect((await all.next()).value.event).toBe('RESUME');
    expect((await jobs.next()).value.data).toEqual({ id: 'j1', status: 'running' });
    expect(heard).toEqual(['STOP', 'JOB_STATUS_CHANGE', 'RESUME']);
    await all.return?.();
    await jobs.return?.();
  });

  it('ends iteration when the connection closes, and with OPERATION_ABORTED on abort', async () => {
    await using server = await scriptedServer();
    const qmp = await QmpClient.connect(server.path);
    const peer = await server.peer;
    const ac = new AbortController();
    const aborted = qmp.events({ signal: ac.signal });
    const seen: string[] = [];
    const loop = (async () => {
      for await (const e of qmp.events()) seen.push(e.event);
    })();
    peer.event('STOP');
    await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    const err = await aborted.next().catch((e: unknown) => e);
    expect(isVirtError(err, 'OPERATION_ABORTED')).toBe(true);
    expect((await aborted.next()).done).toBe(true);
    peer.end();
    await loop;
    expect(seen).toEqual(['STOP']);
    expect((await qmp.events().next()).done).toBe(true);
  });

  it('fails a stream whose reader falls more than bufferSize events behind', async () => {
    await using server = await scriptedServer();
    await using qmp = await QmpClient.connect(server.path);
    const peer = await server.peer;
    const slow = qmp.events({ bufferSize: 2 });
    for (let i = 0; i < 3; i++) peer.event('RESET', { guest: false, reason: 'host-qmp-system-reset' });
    await qmp.waitForEvent('RESET', () => false, { timeoutMs: 50 }).catch(() => undefined);
    const err = await slow.next().catch((e: unknown) => e);
    expect(isVirtError(err, 'OPERATION_FAILED')).toBe(true);
    expect((await slow.next()).done).toBe(true);
  });

  it('waits for an event matching a predicate, with timeout, abort and close', async () => {
    await using server = await scriptedServer();
    const qmp = await QmpClient.connect(server.path);
    const peer = await server.peer;
    const done = qmp.waitForEvent('JOB_STATUS_CHANGE', (e) => e.data.status === 'concluded');
    peer.event('JOB_STATUS_CHANGE', { id: 'j1', status: 'running' });
    peer.event('JOB_STATUS_CHANGE', { id: 'j1', status: 'concluded' });
    const e: QmpEvent<'JOB_STATUS_CHANGE'> = await done;
    expect(e.data).toEqual({ id: 'j1', status: 'concluded' });

    const timeout = await qmp.waitForEvent('SHUTDOWN', undefined, { timeoutMs: 20 }).catch((x: unknown) => x);
    expect(isVirtError(timeout, 'OPERATION_TIMEOUT')).toBe(true);
    const ac = new AbortController();
    const p = qmp.waitForEvent('SHUTDOWN', undefined, { signal: ac.signal });
    ac.abort();
    expect(isVirtError(await p.catch((x: unknown) => x), 'OPERATION_ABORTED')).toBe(true);

    const closing = qmp.waitForEvent('SHUTDOWN');
    peer.end();
    const closed = await closing.catch((x: unknown) => x);
    expect(isVirtError(closed, 'OPERATION_FAILED')).toBe(true);
    expect((closed as Error).message).toContain("while waiting for QMP event 'SHUTDOWN'");
  });

  it('keeps the protocol going when an event listener throws', async () => {
    await using server = await scriptedServer({ onCommand: (cmd, peer) => peer.reply(cmd, 'pong') });
    await using qmp = await QmpClient.connect(server.path);
    const peer = await server.peer;
    const thrown: unknown[] = [];
    const onUncaught = (err: unknown): void => void thrown.push(err);
    process.prependListener('uncaughtException', onUncaught);
    try {
      qmp.on('event', () => {
        throw new Error('listener bug');
      });
      peer.event('STOP');
      expect(await qmp.execute('x-ping')).toBe('pong');
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(thrown.map((e) => (e as Error).message)).toEqual(['listener bug']);
  });
});
