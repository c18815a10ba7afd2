import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rmdir, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { VirtError } from 'virtkit';

/**
 * Owner-only permissions for everything the driver creates.
 *
 * @internal
 */
export const DIR_MODE = 0o700;
/** @internal */
export const FILE_MODE = 0o600;

const TEMP_SUFFIX = '.tmp';

/**
 * Writes `content` to `path` atomically: a temporary file in the same directory (named
 * after the target and this process' pid), fsync, rename over the target, fsync the
 * directory. Readers see the old or the new content, never a mix, even after a crash. With
 * `durable: false` the fsyncs are skipped and the small write is done synchronously (still
 * atomic against a process crash, not against a power loss).
 *
 * @throws `WRITE_FAILED` when the file cannot be written.
 * @internal
 */
export async function writeFileAtomic(
  path: string,
  content: string,
  options: { durable?: boolean } = {},
): Promise<void> {
  if (options.durable === false) {
    writeFileQuick(path, content);
    return;
  }
  await writeFilesAtomic([{ path, content }], []);
}

/**
 * A file to write with {@link writeFilesAtomic}.
 *
 * @internal
 */
export interface FileWrite {
  readonly path: string;
  readonly content: string;
}

/**
 * Writes several files and removes others as one durable batch ({@link stageFiles} then
 * {@link publishFiles}). Each file is replaced atomically; the batch as a whole is not (the
 * journal covers that).
 *
 * @throws `WRITE_FAILED` when a file cannot be written or removed.
 * @internal
 */
export async function writeFilesAtomic(
  writes: readonly FileWrite[],
  removes: readonly string[],
): Promise<void> {
  await publishFiles(await stageFiles(writes), removes);
}

/**
 * A file written and fsynced under its temporary name, waiting to be renamed over its target.
 *
 * @internal
 */
export interface StagedFile {
  readonly path: string;
  readonly tmp: string;
}

/**
 * First half of an atomic write: every temporary file written and fsynced, concurrently (so
 * the file system can commit them together). Nothing is visible yet.
 *
 * @throws `WRITE_FAILED` (the temporary files are removed).
 * @internal
 */
export async function stageFiles(writes: readonly FileWrite[]): Promise<StagedFile[]> {
  const staged = writes.map((w) => ({ path: w.path, tmp: tempPathFor(w.path) }));
  try {
    await Promise.all(writes.map((w, i) => writeSynced(staged[i]?.tmp ?? '', w.content)));
  } catch (cause) {
    discardStaged(staged);
    throw writeFailed(writes.map((w) => w.path).join("', '"), cause);
  }
  return staged;
}

/**
 * Second half: renames the staged files over their targets, removes `removes`, then fsyncs
 * every directory touched, once.
 *
 * @throws `WRITE_FAILED`.
 * @internal
 */
export async function publishFiles(staged: readonly StagedFile[], removes: readonly string[]): Promise<void> {
  try {
    for (const f of staged) renameSync(f.tmp, f.path);
    for (const path of removes) rmSync(path, { force: true });
  } catch (cause) {
    discardStaged(staged);
    throw writeFailed([...staged.map((f) => f.path), ...removes].join("', '"), cause);
  }
  const dirs = new Set([...staged.map((f) => dirname(f.path)), ...removes.map((r) => dirname(r))]);
  await Promise.all([...dirs].map((d) => syncDir(d).catch(ignoreMissingDir)));
}

/**
 * Removes staged temporary files that will not be published.
 *
 * @internal
 */
export function discardStaged(staged: readonly StagedFile[]): void {
  for (const f of staged) rmSync(f.tmp, { force: true });
}

/**
 * Removes `path` (absent is fine); with `durable` (the default) the removal is fsynced.
 *
 * @internal
 */
export async function removeFileDurable(path: string, options: { durable?: boolean } = {}): Promise<void> {
  try {
    rmSync(path, { force: true });
  } catch (cause) {
    throw writeFailed(path, cause);
  }
  if (options.durable ?? true) await syncDir(dirname(path)).catch(ignoreMissingDir);
}

/**
 * fsyncs a directory so that renames and unlinks in it survive a power loss.
 *
 * @internal
 */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Creates `dir` (and parents) with mode 0700 when missing.
 *
 * @internal
 */
export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
}

/**
 * Removes `dir` when it exists and is empty; a non-empty or missing directory is left alone.
 *
 * @internal
 */
export async function removeDirIfEmpty(dir: string): Promise<void> {
  await rmdir(dir).catch(() => undefined);
}

/**
 * The file's text, or `undefined` when it does not exist.
 *
 * @internal
 */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new VirtError('READ_FAILED', `cannot read '${path}': ${(cause as Error).message}`, {
      cause,
      driver: 'qemu',
    });
  }
}

/**
 * Like {@link readTextIfExists}, synchronously (for the tiny files read on every operation).
 *
 * @internal
 */
export function readTextIfExistsSync(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new VirtError('READ_FAILED', `cannot read '${path}': ${(cause as Error).message}`, {
      cause,
      driver: 'qemu',
    });
  }
}

/**
 * Entries of `dir`, or none when it does not exist.
 *
 * @internal
 */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new VirtError('READ_FAILED', `cannot list '${dir}': ${(cause as Error).message}`, {
      cause,
      driver: 'qemu',
    });
  }
}

/**
 * Removes temporary files left in `dir` by writers that died (their pid is gone).
 *
 * @returns the removed paths.
 * @internal
 */
export async function sweepTempFiles(dir: string, isAlive: (pid: number) => boolean): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await listDir(dir)) {
    const pid = tempFileOwner(entry);
    if (pid === undefined || isAlive(pid)) continue;
    await unlink(join(dir, entry)).catch(() => undefined);
    removed.push(join(dir, entry));
  }
  return removed;
}

/** The pid encoded in a temporary file name `.<target>.<pid>.<random>.tmp`, if it is one. */
function tempFileOwner(entry: string): number | undefined {
  if (!entry.startsWith('.') || !entry.endsWith(TEMP_SUFFIX)) return undefined;
  const m = /\.(\d+)\.[0-9a-f]+\.tmp$/.exec(entry);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

async function writeSynced(path: string, content: string): Promise<void> {
  const fh = await open(path, 'wx', FILE_MODE);
  try {
    await fh.writeFile(content, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A small atomic write without fsync: temporary file, rename (synchronous, microseconds). */
function writeFileQuick(path: string, content: string): void {
  const tmp = tempPathFor(path);
  try {
    writeFileSync(tmp, content, { flag: 'wx', mode: FILE_MODE });
    renameSync(tmp, path);
  } catch (cause) {
    rmSync(tmp, { force: true });
    throw writeFailed(path, cause);
  }
}

function writeFailed(path: string, cause: unknown): VirtError {
  return new VirtError('WRITE_FAILED', `cannot write '${path}': ${(cause as Error).message}`, {
    cause,
    driver: 'qemu',
  });
}

function ignoreMissingDir(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}

function tempPathFor(path: string): string {
  return join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`,
  );
}
