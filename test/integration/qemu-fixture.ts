// Shared helpers of the qemu integration tests: real qemu-img / qemu-io on temp images.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { connect, isVirtError, type Connection, type ConnectOptions } from 'virtkit';
import { findBinary } from '../helpers/binaries.js';

/** qemu-img and qemu-io, or undefined (skip with a printed reason; a failure in CI). */
export const QEMU_IMG = findBinary('qemu-img');
export const QEMU_IO = QEMU_IMG === undefined ? undefined : findBinary('qemu-io');
export const HAVE_QEMU = QEMU_IMG !== undefined && QEMU_IO !== undefined;

/** Size of a test disk and of one data slot written with a pattern. */
export const DISK_SIZE = 16 * 1024 * 1024;
export const SLOT = 64 * 1024;
export const SLOTS = 4;

/** One disk of a test domain. */
export interface TestDisk {
  readonly target: string;
  readonly path: string;
  readonly format: 'qcow2' | 'raw';
}

/** A temp directory with an images dir and an embedded root. */
export interface World {
  readonly dir: string;
  readonly images: string;
  readonly root: string;
  readonly uri: string;
  cleanup(): void;
}

export function newWorld(prefix = 'virtkit-qemu-'): World {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const images = join(dir, 'images');
  mkdirSync(images);
  const root = join(dir, 'root');
  return {
    dir,
    images,
    root,
    uri: `qemu:///embed?root=${encodeURIComponent(root)}`,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function open(world: World, options: ConnectOptions = {}): Promise<Connection> {
  return connect(world.uri, options);
}

/** Creates `targets` as images in `world.images`. */
export function makeDisks(
  world: World,
  targets: readonly string[],
  format: 'qcow2' | 'raw' = 'qcow2',
): TestDisk[] {
  return targets.map((target) => {
    const path = join(world.images, `${target}.${format}`);
    img(['create', '-q', '-f', format, path, String(DISK_SIZE)]);
    return { target, path, format };
  });
}

/** libvirt domain XML with the given disks (type qemu). */
export function domainXml(name: string, disks: readonly TestDisk[], extra = ''): string {
  const d = disks
    .map(
      (x) =>
        `    <disk type='file' device='disk'>\n      <driver name='qemu' type='${x.format}'/>\n` +
        `      <source file='${x.path}'/>\n      <target dev='${x.target}' bus='virtio'/>\n    </disk>`,
    )
    .join('\n');
  return `<domain type='qemu'>\n  <name>${name}</name>\n  <memory unit='KiB'>65536</memory>\n  <vcpu>1</vcpu>\n  <os><type arch='x86_64' machine='q35'>hvm</type></os>\n  <devices>\n${d}\n${extra}  </devices>\n</domain>\n`;
}

/** Runs qemu-img; returns stdout. */
export function img(args: readonly string[]): string {
  return execFileSync(QEMU_IMG ?? 'qemu-img', [...args], { encoding: 'utf8' });
}

/** `qemu-img info --output=json` (top image). */
export function info(path: string): {
  format: string;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  snapshots?: { name: string; id: string }[];
  'format-specific'?: { data?: { bitmaps?: { name: string; flags: string[]; granularity: number }[] } };
} {
  return JSON.parse(img(['info', '--output=json', '-U', path])) as ReturnType<typeof info>;
}

export function snapshotNames(path: string): string[] {
  return (info(path).snapshots ?? []).map((s) => s.name).sort();
}

export function bitmapNames(path: string): string[] {
  return (info(path)['format-specific']?.data?.bitmaps ?? []).map((b) => b.name).sort();
}

export function backingOf(path: string): string | undefined {
  return info(path)['full-backing-filename'];
}

/** Writes pattern `p` into slot `slot` of an image (qcow2 or raw, with its backing chain). */
export function writeSlot(path: string, format: string, slot: number, p: number): void {
  execFileSync(QEMU_IO ?? 'qemu-io', ['-f', format, '-c', `write -P ${p} ${slot * SLOT} ${SLOT}`, path], {
    stdio: 'pipe',
  });
}

/** Writes one pattern per slot: `patterns[i]` into slot i (0 leaves the slot alone). */
export function writeSlots(path: string, format: string, patterns: readonly number[]): void {
  const cmds = patterns.flatMap((p, i) => (p === 0 ? [] : ['-c', `write -P ${p} ${i * SLOT} ${SLOT}`]));
  if (cmds.length > 0) execFileSync(QEMU_IO ?? 'qemu-io', ['-f', format, ...cmds, path], { stdio: 'pipe' });
}

/**
 * Whether every slot of the image reads back exactly `patterns` (0 = never written), and the
 * area after the slots reads zero.
 */
export function holds(path: string, format: string, patterns: readonly number[]): boolean {
  const cmds = patterns.flatMap((p, i) => ['-c', `read -P ${p} ${i * SLOT} ${SLOT}`]);
  cmds.push('-c', `read -P 0 ${patterns.length * SLOT} ${SLOT}`);
  const r = spawnSync(QEMU_IO ?? 'qemu-io', ['-r', '-U', '-f', format, ...cmds, path], { encoding: 'utf8' });
  return r.status === 0 && !r.stdout.includes('verification failed');
}

/** Whether internal snapshot `snap` of a qcow2 image holds `patterns` (read from a converted copy). */
export function snapshotHolds(
  path: string,
  snap: string,
  patterns: readonly number[],
  scratch: string,
): boolean {
  const out = join(scratch, `snapcheck-${process.pid}-${Date.now()}.qcow2`);
  img(['convert', '-U', '-l', `snapshot.name=${snap}`, '-O', 'qcow2', path, out]);
  try {
    return holds(out, 'qcow2', patterns);
  } finally {
    rmSync(out, { force: true });
  }
}

/** sha256 of a file. */
export function hashFile(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Every file under `dir` (relative path → sha256), for byte-identical checks. */
export function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = hashFile(p);
    }
  };
  walk(dir);
  return out;
}

/** Every file under `dir`, relative, sorted (to spot stray files). */
export function listTree(dir: string): string[] {
  return Object.keys(hashTree(dir)).sort();
}

/** Codes of malformed XML: libvirt reports libxml2 parse errors as XML_DETAIL, others as XML_ERROR. */
export const MALFORMED = /^XML_(ERROR|DETAIL)$/;

/** A pattern matching exactly `code`, or `code` itself when it is a pattern already. */
export function exactly(code: string | RegExp): RegExp {
  return typeof code === 'string' ? new RegExp(`^${code}$`) : code;
}

/** The error code a promise rejects with, or 'ok'. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (isVirtError(err)) return err.code;
    throw err;
  }
}

/** The error a promise rejects with (fails when it resolves). */
export async function errorOf(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

/**
 * `qemu-img check` of every image file under `dir`: the files it does not find clean (leaked
 * clusters, corruptions), with its first lines. Formats without checks (raw) count as clean.
 */
export function uncleanImages(dir: string): string[] {
  const out: string[] = [];
  for (const rel of listTree(dir)) {
    const r = spawnSync(QEMU_IMG ?? 'qemu-img', ['check', '-U', join(dir, rel)], { encoding: 'utf8' });
    if (r.status === 0 || /does not support checks/.test(r.stderr)) continue;
    out.push(`${rel}: ${`${r.stdout}${r.stderr}`.split('\n').slice(0, 2).join(' ')}`);
  }
  return out;
}
