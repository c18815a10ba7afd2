// virtkit/qmp against a real qemu-system-x86_64 (TCG, no machine, paused): every QEMU a test
// starts is killed by its pid in afterEach, also when the test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isVirtError, type VirtError } from 'virtkit';
import { QmpClient, type QmpEvent } from 'virtkit/qmp';
import { findBinary } from '../helpers/binaries.js';

const QEMU = findBinary('qemu-system-x86_64');

interface Vm {
  readonly child: ChildProcess;
  readonly dir: string;
  readonly socket: string;
  readonly exited: Promise<number | null>;
}

const started: Vm[] = [];

function startQemu(): Vm {
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-qmp-it-'));
  chmodSync(dir, 0o700); // the QMP socket must be reachable by its owner only
  const socket = join(dir, 'qmp.sock');
  const args = ['-machine', 'none', '-nodefaults', '-display', 'none', '-accel', 'tcg', '-S'];
  args.push('-qmp', `unix:${socket},server=on,wait=off`);
  const child = spawn(QEMU!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const vm = { child, dir, socket, exited };
  started.push(vm);
  return vm;
}

async function connectTo(vm: Vm): Promise<QmpClient> {
  return QmpClient.connect(vm.socket, { waitForSocket: true, timeoutMs: 30_000 });
}

async function failure(p: Promise<unknown>): Promise<VirtError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isVirtError(err)) throw new Error(`expected a VirtError, got ${String(err)}`);
  return err;
}

afterEach(async () => {
  for (const vm of started.splice(0)) {
    if (vm.child.exitCode === null && vm.child.signalCode === null) {
      process.kill(vm.child.pid!, 'SIGKILL');
      await vm.exited;
    }
    rmSync(vm.dir, { recursive: true, force: true });
  }
});

describe.runIf(QEMU !== undefined)('virtkit/qmp against qemu-system-x86_64', () => {
  it('connects (greeting, capabilities) to a private socket and queries the status', async () => {
    const vm = startQemu();
    await using qmp = await connectTo(vm);
    expect(statSync(vm.dir).mode & 0o777).toBe(0o700);
    expect(qmp.greeting.version.qemu.major).toBeGreaterThanOrEqual(7);
    expect(qmp.greeting.capabilities).toContain('oob');
    expect(await qmp.execute('query-status')).toMatchObject({ status: 'prelaunch', running: false });
    const version = await qmp.execute('query-version');
    expect(version.qemu).toEqual(qmp.greeting.version.qemu);
    expect(await qmp.execute('human-monitor-command', { 'command-line': 'info status' })).toContain(
      'VM status',
    );
  });

  it('runs concurrent commands and matches every reply to its command', async () => {
    await using qmp = await connectTo(startQemu());
    const names = ['query-status', 'query-version', 'query-commands', 'query-jobs', 'query-block'] as const;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => qmp.execute(names[i % names.length]!) as Promise<unknown>),
    );
    results.forEach((r, i) => {
      switch (names[i % names.length]) {
        case 'query-status':
          expect(r).toMatchObject({ status: 'prelaunch' });
          break;
        case 'query-version':
          expect(r).toHaveProperty('qemu.major');
          break;
        case 'query-commands':
          expect((r as { name: string }[]).some((c) => c.name === 'blockdev-create')).toBe(true);
          break;
        default:
          expect(Array.isArray(r)).toBe(true);
      }
    });
  });

  it('reports QEMU errors with their class and keeps the connection usable', async () => {
    await using qmp = await connectTo(startQemu());
    const missing = await failure(qmp.execute('x-no-such-command'));
    expect(missing.code).toBe('INTERNAL_ERROR');
    expect(missing.details).toMatchObject({ qmpClass: 'CommandNotFound', qmpCommand: 'x-no-such-command' });
    const generic = await failure(qmp.execute('blockdev-del', { 'node-name': 'nope' }));
    expect(generic.details).toMatchObject({ qmpClass: 'GenericError', qmpCommand: 'blockdev-del' });
    expect(generic.message).toMatch(/^internal error: unable to execute QEMU command 'blockdev-del': .*nope/);
    expect((await qmp.execute('query-status')).status).toBe('prelaunch');
  });

  it('delivers STOP and RESUME events to waitForEvent, listeners and iterators', async () => {
    await using qmp = await connectTo(startQemu());
    const heard: string[] = [];
    qmp.on('event', (e) => heard.push(e.event));
    const stream = qmp.events({ names: ['STOP', 'RESUME'] });
    const resumed = qmp.waitForEvent('RESUME', undefined, { timeoutMs: 30_000 });
    await qmp.execute('cont');
    const e: QmpEvent<'RESUME'> = await resumed;
    expect(e.timestamp.seconds).toBeGreaterThan(0);
    expect((await qmp.execute('query-status')).status).toBe('running');
    const stopped = qmp.waitForEvent('STOP', undefined, { timeoutMs: 30_000 });
    await qmp.execute('stop');
    await stopped;
    expect((await qmp.execute('query-status')).status).toBe('paused');
    expect([(await stream.next()).value.event, (await stream.next()).value.event]).toEqual([
      'RESUME',
      'STOP',
    ]);
    await stream.return?.();
    expect(heard).toEqual(expect.arrayContaining(['RESUME', 'STOP']));
  });

  it('creates a qcow2 image with a blockdev-create job and waits for it to conclude', async () => {
    const vm = startQemu();
    await using qmp = await connectTo(vm);
    const file = join(vm.dir, 'disk.qcow2');
    writeFileSync(file, '', { mode: 0o600 });
    await qmp.execute('blockdev-add', { driver: 'file', filename: file, 'node-name': 'disk0-file' });
    await qmp.execute('blockdev-create', {
      'job-id': 'create0',
      options: { driver: 'qcow2', file: 'disk0-file', size: 64 * 1024 * 1024 },
    });
    const statuses: string[] = [];
    const info = await qmp.waitJob('create0', {
      timeoutMs: 60_000,
      onProgress: (j) => statuses.push(j.status),
    });
    expect(info).toMatchObject({ id: 'create0', type: 'create', status: 'concluded' });
    expect(info.error).toBeUndefined();
    expect(statuses.at(-1)).toBe('concluded');
    expect(await qmp.execute('query-jobs')).toEqual([]); // dismissed
    await qmp.execute('blockdev-add', { driver: 'qcow2', file: 'disk0-file', 'node-name': 'disk0' });
    const nodes = await qmp.execute('query-named-block-nodes', { flat: true });
    const disk = nodes.find((n) => n['node-name'] === 'disk0');
    expect(disk).toMatchObject({ drv: 'qcow2' });
    expect(disk?.['image']).toMatchObject({ format: 'qcow2', 'virtual-size': 64 * 1024 * 1024 });
  });

  it('reads a failed job error from query-jobs and dismisses the job', async () => {
    const vm = startQemu();
    await using qmp = await connectTo(vm);
    const file = join(vm.dir, 'bad.qcow2');
    writeFileSync(file, '', { mode: 0o600 });
    await qmp.execute('blockdev-add', { driver: 'file', filename: file, 'node-name': 'bad-file' });
    await qmp.execute('blockdev-create', {
      'job-id': 'bad',
      options: { driver: 'qcow2', file: 'bad-file', size: 1024 * 1024, 'cluster-size': 1000 },
    });
    const err = await failure(qmp.waitJob('bad', { timeoutMs: 60_000 }));
    expect(err.code).toBe('OPERATION_FAILED');
    expect(err.details).toMatchObject({ jobId: 'bad', jobType: 'create' });
    expect(String(err.details.error)).toMatch(/cluster size/i);
    expect(await qmp.execute('query-jobs')).toEqual([]);
  });

  it('times out a command while QEMU does not answer, then drops the late reply', async () => {
    const vm = startQemu();
    await using qmp = await connectTo(vm);
    process.kill(vm.child.pid!, 'SIGSTOP');
    try {
      const err = await failure(qmp.execute('query-status', undefined, { timeoutMs: 200 }));
      expect(err.code).toBe('OPERATION_TIMEOUT');
    } finally {
      process.kill(vm.child.pid!, 'SIGCONT');
    }
    expect((await qmp.execute('query-version')).qemu.major).toBeGreaterThanOrEqual(7);
    expect((await qmp.execute('query-status')).status).toBe('prelaunch');
  });

  it('quit: QEMU answers, closes the socket and exits; later commands are refused', async () => {
    const vm = startQemu();
    const qmp = await connectTo(vm);
    const closes: unknown[] = [];
    qmp.on('close', (reason) => closes.push(reason));
    expect(await qmp.execute('quit')).toEqual({});
    const reason = await qmp.closed;
    expect(reason?.code).toBe('OPERATION_FAILED');
    expect(reason?.message).toContain('end of file from QEMU monitor');
    expect(await vm.exited).toBe(0);
    expect(closes).toHaveLength(1);
    expect((await failure(qmp.execute('query-status'))).code).toBe('OPERATION_INVALID');
    await qmp.close();
  });

  it('fails every pending command when QEMU dies mid-conversation', async () => {
    const vm = startQemu();
    await using qmp = await connectTo(vm);
    const job = qmp.waitForEvent('JOB_STATUS_CHANGE');
    process.kill(vm.child.pid!, 'SIGSTOP');
    const pending = [qmp.execute('query-status'), qmp.execute('query-block'), job].map(failure);
    await new Promise((r) => setTimeout(r, 50));
    process.kill(vm.child.pid!, 'SIGKILL');
    for (const err of await Promise.all(pending)) {
      expect(err.code).toBe('OPERATION_FAILED');
      expect(err.message).toContain('end of file from QEMU monitor');
    }
    expect(qmp.isClosed).toBe(true);
  });
});
