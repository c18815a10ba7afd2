import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { link, rename, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { VirtError } from 'virtkit';
import { FILE_MODE } from './atomic-file.js';

/**
 * Who holds a lock file: pid, the process' start time (guards against pid reuse), a nonce
 * and the operation, as JSON.
 *
 * @internal
 */
export interface LockOwner {
  readonly pid: number;
  readonly start: string | undefined;
  readonly nonce: string;
  readonly operation: string;
}

/**
 * Options of {@link acquireFileLock}.
 *
 * @internal
 */
export interface LockOptions {
  /** What the lock is for, e.g. `domain 'vm'`; used in messages. */
  readonly what: string;
  /** Operation name recorded in the lock file. */
  readonly operation: string;
  /** How long to wait for a live holder. */
  readonly timeoutMs: number;
}

/**
 * Whether process `pid` (started at `start`, when known) is still alive.
 *
 * @internal
 */
export function isProcessAlive(pid: number, start?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (start === undefined) return true;
  const now = processStartTime(pid);
  return now === undefined || now === start;
}

/**
 * The start time of `pid` in clock ticks since boot (`/proc/<pid>/stat` field 22), when the
 * platform has procfs.
 *
 * @internal
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is parenthesised and may contain spaces: count from its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

const SELF_START = processStartTime(process.pid);

/** A lock file still empty after this long belongs to a creator that died before writing it. */
const TORN_LOCK_MS = 2000;

/**
 * Takes the lock file at `path` by exclusive creation. A lock whose holder died is taken
 * over (renamed aside, checked, removed); a live holder is waited for up to
 * `options.timeoutMs`.
 *
 * @returns a function that releases the lock (only if it is still ours).
 * @throws `OPERATION_TIMEOUT` naming the holder's pid when the wait times out.
 * @internal
 */
export async function acquireFileLock(path: string, options: LockOptions): Promise<() => Promise<void>> {
  const owner: LockOwner = {
    pid: process.pid,
    start: SELF_START,
    nonce: randomBytes(8).toString('hex'),
    operation: options.operation,
  };
  const text = JSON.stringify(owner);
  const deadline = Date.now() + options.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    if (await tryCreate(path, text)) return () => releaseFileLock(path, owner.nonce);
    const holder = readOwner(path);
    if (holder === 'gone') continue;
    if (holder === 'unreadable' && (await ageMs(path)) > TORN_LOCK_MS) {
      await takeOver(path, undefined);
      continue;
    }
    if (holder === 'unreadable' || isProcessAlive(holder.pid, holder.start)) {
      if (Date.now() >= deadline) throw busy(options, holder);
      await sleep(Math.min(5 * 2 ** Math.min(attempt, 4), 50));
      continue;
    }
    await takeOver(path, holder);
  }
}

async function releaseFileLock(path: string, nonce: string): Promise<void> {
  const holder = readOwner(path);
  if (typeof holder === 'object' && holder.nonce === nonce) rmSync(path, { force: true });
}

/** Exclusive creation of the lock file (synchronous: a few microseconds, no thread-pool round trips). */
async function tryCreate(path: string, text: string): Promise<boolean> {
  let fd: number;
  try {
    fd = openSync(path, 'wx', FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new VirtError('OPERATION_FAILED', `cannot create lock file '${path}': ${(err as Error).message}`, {
      cause: err,
      driver: 'qemu',
    });
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Reads the holder of a lock; `gone` when the file vanished, `unreadable` when it is empty
 * or torn (its creator is between `open` and `write`, or died there: see takeOver).
 */
function readOwner(path: string): LockOwner | 'gone' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (typeof o.pid !== 'number' || typeof o.nonce !== 'string') return 'unreadable';
    return { pid: o.pid, start: o.start, nonce: o.nonce, operation: String(o.operation ?? '') };
  } catch {
    return 'unreadable';
  }
}

/**
 * Removes a lock whose holder is dead. The file is renamed aside first, so that of several
 * processes racing for the same stale lock only one removes it; whoever finds a live lock in
 * its hands (another process took over and relocked in between) links it back.
 */
async function takeOver(path: string, stale: LockOwner | undefined): Promise<void> {
  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const taken = readOwner(aside);
  if (typeof taken === 'object' && taken.nonce !== stale?.nonce) {
    await link(aside, path).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

async function ageMs(path: string): Promise<number> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return 0;
  }
}

function busy(options: LockOptions, holder: LockOwner | 'unreadable'): VirtError {
  const who = holder === 'unreadable' ? 'another process' : `process ${holder.pid} (${holder.operation})`;
  return new VirtError(
    'OPERATION_TIMEOUT',
    `cannot acquire the lock of ${options.what}: it is held by ${who}; timed out after ${options.timeoutMs} ms`,
    {
      driver: 'qemu',
      details: holder === 'unreadable' ? {} : { pid: holder.pid, operation: holder.operation },
    },
  );
}

const QUEUES = Symbol.for('virtkit.qemu.queues.v1');

/**
 * Runs `work` after every earlier task queued under `key` in this process has finished
 * (one operation per domain at a time). The queue is process-wide, shared by every
 * connection and module copy, so two connections to one root never race each other.
 *
 * @internal
 */
export async function runExclusive<T>(key: string, work: () => Promise<T>): Promise<T> {
  const queues = processQueues();
  const previous = queues.get(key) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((resolve) => (done = resolve));
  const tail = previous.then(() => mine);
  queues.set(key, tail);
  try {
    await previous;
    return await work();
  } finally {
    done();
    if (queues.get(key) === tail) queues.delete(key);
  }
}

function processQueues(): Map<string, Promise<void>> {
  const g = globalThis as unknown as Record<symbol, Map<string, Promise<void>> | undefined>;
  return (g[QUEUES] ??= new Map());
}
