// Data model of the external snapshot tests: what every snapshot and the current state must
// read, checked against the real images with qemu-io (one process for all reads), plus the
// image files that may exist (everything reachable from the metadata, nothing else).
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isVirtError, type Domain, type DomainSnapshot } from 'virtkit';
import { QEMU_IO, SLOT, holds, snapshotHolds, writeSlots, type World } from './qemu-fixture.js';

/** Slots per disk the model writes (64 KiB each). */
export const MODEL_SLOTS = 8;

/** Per disk, the pattern of every slot (0 = never written). */
export type DiskData = number[][];

/** A deterministic PRNG (mulberry32), so a failing random test can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the domain should hold: the current data and every snapshot's data. */
export class DataModel {
  current: DiskData;
  readonly snapshots = new Map<string, DiskData>();
  #next = 0;

  constructor(readonly disks: number) {
    this.current = Array.from({ length: disks }, () => new Array<number>(MODEL_SLOTS).fill(0));
  }

  /** Writes a fresh pattern into `slots` of every disk's current image. */
  async write(dom: Domain, slots: readonly number[]): Promise<void> {
    const sources = await currentSources(dom);
    for (let i = 0; i < this.disks; i++) {
      const p = this.#pattern();
      const row = this.current[i]!;
      for (const s of slots) row[s] = p;
      writeSlots(
        sources[i]!.path,
        sources[i]!.format,
        row.map((v, s) => (slots.includes(s) ? v : 0)),
      );
    }
  }

  snapshot(name: string): void {
    this.snapshots.set(name, clone(this.current));
  }

  revert(name: string): void {
    this.current = clone(this.snapshots.get(name)!);
  }

  forget(names: readonly string[]): void {
    for (const n of names) this.snapshots.delete(n);
  }

  #pattern(): number {
    this.#next = (this.#next % 250) + 1;
    return this.#next;
  }
}

function clone(d: DiskData): DiskData {
  return d.map((r) => [...r]);
}

/** A disk source with its format. */
export interface Source {
  readonly path: string;
  readonly format: string;
}

/** The disk sources (file and driver type) of a `<domain>` element, in document order. */
export function domainSources(xml: string): Source[] {
  return [...xml.matchAll(/<disk type='file'[^>]*>([\s\S]*?)<\/disk>/g)].map((m) => {
    const body = m[1] ?? '';
    return {
      path: /<source file='([^']+)'/.exec(body)?.[1] ?? '',
      format: /<driver name='qemu' type='([^']+)'/.exec(body)?.[1] ?? 'raw',
    };
  });
}

export async function currentSources(dom: Domain): Promise<Source[]> {
  return domainSources(await dom.getXml());
}

/** The `<domain>` sources of a snapshot and how each disk was snapshotted. */
export async function snapshotImages(snap: DomainSnapshot): Promise<{ source: Source; mode: string }[]> {
  const xml = await snap.getXml();
  const at = xml.search(/<domain[ >]/);
  const sources = domainSources(xml.slice(at));
  const modes = new Map(
    [...xml.slice(0, at).matchAll(/<disk name='([^']+)' snapshot='([^']+)'/g)].map((m) => [m[1], m[2]]),
  );
  const targets = [...xml.slice(at).matchAll(/<target dev='([^']+)'/g)].map((m) => m[1]);
  return sources.map((source, i) => ({ source, mode: modes.get(targets[i]) ?? 'no' }));
}

interface Check {
  readonly label: string;
  readonly source: Source;
  readonly patterns: readonly number[];
  readonly internal?: string;
}

/**
 * Every difference between the model and the domain: snapshot names, the current data, each
 * external snapshot's data read through its frozen images, each internal snapshot's data,
 * and image files that nothing reaches (or referenced images that are missing). Empty = ok.
 */
export async function differences(dom: Domain, model: DataModel, world: World): Promise<string[]> {
  const problems: string[] = [];
  const snaps = await dom.listSnapshots();
  const names = snaps.map((s) => s.name).sort();
  const expected = [...model.snapshots.keys()].sort();
  if (names.join() !== expected.join()) problems.push(`snapshots ${names.join()} != ${expected.join()}`);
  const checks: Check[] = (await currentSources(dom)).map((source, i) => ({
    label: `current disk ${i}`,
    source,
    patterns: model.current[i]!,
  }));
  const roots = checks.map((c) => c.source.path);
  for (const snap of snaps) {
    const data = model.snapshots.get(snap.name);
    for (const [i, { source, mode }] of (await snapshotImages(snap)).entries()) {
      if (mode === 'no') continue;
      roots.push(source.path);
      if (data === undefined) continue;
      const label = `snapshot ${snap.name} disk ${i} (${mode})`;
      checks.push({
        label,
        source,
        patterns: data[i]!,
        ...(mode === 'internal' ? { internal: snap.name } : {}),
      });
    }
  }
  problems.push(...readProblems(checks, world));
  problems.push(...strayProblems(roots, world));
  return problems;
}

function readProblems(checks: readonly Check[], world: World): string[] {
  const direct = checks.filter((c) => c.internal === undefined);
  const args = direct.flatMap((c) => [
    '-c',
    `open -r -U -o driver=${c.source.format} ${c.source.path}`,
    ...c.patterns.flatMap((p, s) => ['-c', `read -P ${p} ${s * SLOT} ${SLOT}`]),
    '-c',
    `read -P 0 ${c.patterns.length * SLOT} ${SLOT}`,
    '-c',
    'close',
  ]);
  const r = spawnSync(QEMU_IO ?? 'qemu-io', args, { encoding: 'utf8' });
  const ok = r.status === 0 && !/fail|can't|Could not/i.test(`${r.stdout}${r.stderr}`);
  const failed = ok ? [] : direct.filter((c) => !holds(c.source.path, c.source.format, c.patterns));
  if (!ok && failed.length === 0) failed.push(...direct);
  const internal = checks.filter(
    (c) => c.internal !== undefined && !snapshotHolds(c.source.path, c.internal, c.patterns, world.dir),
  );
  return [...failed, ...internal].map(
    (c) => `${c.label}: ${c.source.path} does not hold ${c.patterns.join(',')}`,
  );
}

/** Image files not reachable from `roots` through backing files, and roots that are missing. */
function strayProblems(roots: readonly string[], world: World): string[] {
  const reachable = new Set<string>();
  for (const root of roots) {
    for (
      let p: string | undefined = resolve(root);
      p !== undefined && !reachable.has(p);
      p = backingFile(p)
    ) {
      reachable.add(p);
    }
  }
  const files = readdirSync(world.images).map((f) => join(world.images, f));
  const stray = files.filter((f) => !reachable.has(f)).map((f) => `stray image ${f}`);
  const missing = [...reachable].filter((p) => !files.includes(p)).map((p) => `missing image ${p}`);
  return [...stray, ...missing];
}

/** The backing file recorded in a qcow2 header, or undefined (raw, no backing, missing file). */
export function backingFile(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const head = Buffer.alloc(20);
    if (readSync(fd, head, 0, 20, 0) < 20 || head.readUInt32BE(0) !== 0x514649fb) return undefined;
    const offset = Number(head.readBigUInt64BE(8));
    const size = head.readUInt32BE(16);
    if (offset === 0 || size === 0) return undefined;
    const name = Buffer.alloc(size);
    readSync(fd, name, 0, size, offset);
    return resolve(dirname(path), name.toString('utf8'));
  } finally {
    closeSync(fd);
  }
}

/** The names a delete removes, read from the tree before it (mirrors libvirt's modes). */
export async function doomedNames(
  snap: DomainSnapshot,
  mode: 'self' | 'children' | 'childrenOnly',
): Promise<string[]> {
  if (mode === 'self') return [snap.name];
  const below = (await snap.listChildren({ descendants: true })).map((s) => s.name);
  return mode === 'children' ? [snap.name, ...below] : below;
}

/** The parent's name, or null for a root. */
export async function parentName(snap: DomainSnapshot): Promise<string | null> {
  try {
    return (await snap.getParent()).name;
  } catch (err) {
    if (isVirtError(err, 'NO_DOMAIN_SNAPSHOT')) return null;
    throw err;
  }
}
