import { describe, expect, it } from 'vitest';
import { isVirtError, type VirtError } from 'virtkit';
import { QmpClient, type QmpJobInfo } from 'virtkit/qmp';
import { scriptedServer, type Peer, type ReceivedCommand } from './testing/scripted-peer.js';

/** A peer that runs one job through `statuses`, answering query-jobs from its state. */
function jobPeer(statuses: readonly string[], error?: string) {
  const state: { job: QmpJobInfo | undefined; dismissed: boolean } = { job: undefined, dismissed: false };
  const onCommand = (cmd: ReceivedCommand, peer: Peer): void => {
    switch (cmd.execute) {
      case 'blockdev-create':
        state.job = {
          id: 'j1',
          type: 'create',
          status: 'created',
          'current-progress': 0,
          'total-progress': 1,
        };
        peer.reply(cmd, {});
        peer.event('JOB_STATUS_CHANGE', { id: 'j1', status: 'created' });
        setTimeout(() => advance(peer), 5);
        return;
      case 'query-jobs':
        return peer.reply(cmd, state.job === undefined ? [] : [state.job]);
      case 'job-dismiss':
        state.dismissed = true;
        state.job = undefined;
        peer.reply(cmd, {});
        return peer.event('JOB_STATUS_CHANGE', { id: 'j1', status: 'null' });
    }
  };
  const advance = (peer: Peer): void => {
    peer.event('JOB_STATUS_CHANGE', { id: 'other', status: 'running' });
    for (const status of statuses) {
      const done = status === 'concluded';
      state.job = {
        ...state.job!,
        status: status as QmpJobInfo['status'],
        'current-progress': done ? 1 : 0,
        ...(done && error !== undefined ? { error } : {}),
      };
      peer.event('JOB_STATUS_CHANGE', { id: 'j1', status });
    }
  };
  return { state, onCommand };
}

describe('QmpClient.waitJob', () => {
  it('follows a job to concluded, reports progress and dismisses it', async () => {
    const script = jobPeer(['running', 'waiting', 'pending', 'concluded']);
    await using server = await scriptedServer({ onCommand: script.onCommand });
    await using qmp = await QmpClient.connect(server.path);
    await qmp.execute('blockdev-create', { 'job-id': 'j1', options: { driver: 'qcow2' } });
    const seen: string[] = [];
    const info = await qmp.waitJob('j1', { onProgress: (j) => seen.push(j.status) });
    expect(info).toMatchObject({ id: 'j1', status: 'concluded', 'current-progress': 1 });
    expect(seen[0]).toBe('created');
    expect(seen.at(-1)).toBe('concluded');
    expect(script.state.dismissed).toBe(true);
  });

  it('throws OPERATION_FAILED with the job error read from query-jobs', async () => {
    const script = jobPeer(['running', 'concluded'], "Snapshot 'nope' does not exist");
    await using server = await scriptedServer({ onCommand: script.onCommand });
    await using qmp = await QmpClient.connect(server.path);
    await qmp.execute('blockdev-create', { 'job-id': 'j1', options: { driver: 'qcow2' } });
    const err = (await qmp.waitJob('j1').catch((e: unknown) => e)) as VirtError;
    expect(isVirtError(err, 'OPERATION_FAILED')).toBe(true);
    expect(err.message).toBe("operation failed: QEMU job 'j1' failed: Snapshot 'nope' does not exist");
    expect(err.details).toEqual({ jobId: 'j1', jobType: 'create', error: "Snapshot 'nope' does not exist" });
    expect(script.state.dismissed).toBe(true);
  });

  it('returns at once for a job already concluded, and can leave it undismissed', async () => {
    const script = jobPeer(['concluded']);
    await using server = await scriptedServer({ onCommand: script.onCommand });
    await using qmp = await QmpClient.connect(server.path);
    await qmp.execute('blockdev-create', { 'job-id': 'j1', options: { driver: 'qcow2' } });
    await new Promise((r) => setTimeout(r, 30));
    expect((await qmp.waitJob('j1', { dismiss: false })).status).toBe('concluded');
    expect(script.state.dismissed).toBe(false);
  });

  it('fails for an unknown job, on timeout, on abort and when the connection ends', async () => {
    const script = jobPeer([]);
    await using server = await scriptedServer({ onCommand: script.onCommand });
    const qmp = await QmpClient.connect(server.path);
    const unknown = await qmp.waitJob('nope').catch((e: unknown) => e);
    expect(isVirtError(unknown, 'OPERATION_INVALID')).toBe(true);
    await qmp.execute('blockdev-create', { 'job-id': 'j1', options: { driver: 'qcow2' } });
    const timeout = await qmp.waitJob('j1', { timeoutMs: 30 }).catch((e: unknown) => e);
    expect(isVirtError(timeout, 'OPERATION_TIMEOUT')).toBe(true);
    const ac = new AbortController();
    const aborted = qmp.waitJob('j1', { signal: ac.signal });
    setTimeout(() => ac.abort(), 10);
    expect(isVirtError(await aborted.catch((e: unknown) => e), 'OPERATION_ABORTED')).toBe(true);
    const closing = qmp.waitJob('j1');
    setTimeout(() => void (async () => (await server.peer).end())(), 10);
    const closed = (await closing.catch((e: unknown) => e)) as VirtError;
    expect(isVirtError(closed, 'OPERATION_FAILED')).toBe(true);
    expect(closed.message).toContain("while waiting for QEMU job 'j1'");
  });
});
