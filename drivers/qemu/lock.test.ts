import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isVirtError } from 'virtkit';
import { acquireFileLock, isProcessAlive, processStartTime, runExclusive } from './lock.js';

let dir: string;
let path: string;
const opts = { what: "domain 'vm'", operation: 'test', timeoutMs: 150 };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtkit-lock-'));
  path = join(dir, 'vm.lock');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('acquireFileLock', () => {
  it('creates an owner-only lock file naming this process and removes it on release', async () => {
    const release = await acquireFileLock(path, opts);
    const owner = JSON.parse(readFileSync(path, 'utf8')) as { pid: number; operation: string };
    expect(owner.pid).toBe(process.pid);
    expect(owner.operation).toBe('test');
    await release();
    expect(existsSync(path)).toBe(false);
  });

  it('waits for a live holder, then fails with OPERATION_TIMEOUT (libvirt: lock wait too long) naming its pid', async () => {
    const release = await acquireFileLock(path, opts);
    const err = await acquireFileLock(path, opts).catch((e: unknown) => e);
    expect(isVirtError(err, 'OPERATION_TIMEOUT')).toBe(true);
    expect((err as Error).message).toContain(`process ${process.pid} (test)`);
    expect((err as Error).message).toContain('timed out after');
    await release();
  });

  it('gets the lock once the holder releases it', async () => {
    const release = await acquireFileLock(path, opts);
    setTimeout(() => void release(), 30);
    const second = await acquireFileLock(path, { ...opts, timeoutMs: 2000 });
    await second();
    expect(existsSync(path)).toBe(false);
  });

  it('takes over the lock of a dead process and leaves nothing aside', async () => {
    writeFileSync(path, JSON.stringify({ pid: deadPid(), nonce: 'x', operation: 'crashed' }));
    const release = await acquireFileLock(path, opts);
    expect((JSON.parse(readFileSync(path, 'utf8')) as { pid: number }).pid).toBe(process.pid);
    await release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('takes over an old empty lock file (creator died before writing it)', async () => {
    writeFileSync(path, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    const release = await acquireFileLock(path, opts);
    await release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('does not release a lock that is no longer its own', async () => {
    const release = await acquireFileLock(path, opts);
    writeFileSync(path, JSON.stringify({ pid: process.pid, nonce: 'other', operation: 'x' }));
    await release();
    expect(existsSync(path)).toBe(true);
  });
});

describe('process liveness', () => {
  it('knows this process and a finished one', () => {
    expect(isProcessAlive(process.pid, processStartTime(process.pid))).toBe(true);
    expect(isProcessAlive(deadPid())).toBe(false);
    expect(isProcessAlive(-1)).toBe(false);
  });

  it('treats a reused pid with another start time as dead', () => {
    expect(isProcessAlive(process.pid, 'not-the-start-time')).toBe(
      processStartTime(process.pid) === undefined,
    );
  });
});

describe('runExclusive', () => {
  it('runs tasks of one key one at a time, in order, even when one fails', async () => {
    const order: string[] = [];
    const task =
      (name: string, ms: number, fail = false) =>
      async () => {
        order.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, ms));
        order.push(`end ${name}`);
        if (fail) throw new Error(name);
        return name;
      };
    const results = await Promise.allSettled([
      runExclusive('k', task('a', 20, true)),
      runExclusive('k', task('b', 1)),
      runExclusive('other', task('c', 1)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(order.indexOf('end a')).toBeLessThan(order.indexOf('start b'));
    expect(order.indexOf('start c')).toBeLessThan(order.indexOf('end a'));
  });
});
