import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import type { DomainDef, MomentList, SnapshotDef } from 'virtkit';
import type { QemuContext } from './access.js';
import { diskFormat } from './domain-config.js';
import { backingPath, canonical, imageChains } from './images.js';
import type { BitmapInfo } from './qemu-img.js';

/**
 * Why an image must keep its data: it is the domain's current image of a disk, the image an
 * external snapshot froze (its `<domain>` source), or the image holding an internal snapshot.
 *
 * @internal
 */
export type RefHolder =
  | { readonly kind: 'current' }
  | { readonly kind: 'frozen'; readonly snapshot: string }
  | { readonly kind: 'internal'; readonly snapshot: string };

/**
 * One reference from the metadata to an image file.
 *
 * @internal
 */
export interface ImageRef {
  readonly path: string;
  /** Canonical path (the graph's key). */
  readonly key: string;
  readonly disk: string;
  readonly holder: RefHolder;
}

/**
 * An image file of a disk's backing forest.
 *
 * @internal
 */
export interface ImageNode {
  /** Canonical path. */
  readonly key: string;
  /** Absolute path used in commands and metadata. */
  readonly path: string;
  readonly disk: string;
  readonly format: string;
  /** Key of the backing image, if any. */
  readonly backing: string | undefined;
  /** Whether this process may write the file; read-only images are never changed or removed. */
  readonly writable: boolean;
  /** Names of the internal snapshots the image holds. */
  readonly snapshots: readonly string[];
  readonly bitmaps: readonly BitmapInfo[];
}

/**
 * The references the metadata holds: every disk's current image, and for every snapshot the
 * images of its external disks (frozen) and internal disks (holding the snapshot).
 *
 * @internal
 */
export async function collectRefs(def: DomainDef, snapshots: MomentList<SnapshotDef>): Promise<ImageRef[]> {
  const raw: Omit<ImageRef, 'key'>[] = [];
  for (const disk of def.disks) {
    if (disk.source !== undefined && disk.type === 'file')
      raw.push({ path: disk.source, disk: disk.target, holder: { kind: 'current' } });
  }
  for (const name of snapshots.names()) {
    const snap = snapshots.require(name);
    for (const d of snap.disks ?? []) {
      if (d.snapshot !== 'external' && d.snapshot !== 'internal') continue;
      const source = snap.domain?.disks.find((x) => x.target === d.name)?.source;
      if (source === undefined) continue;
      const kind = d.snapshot === 'external' ? 'frozen' : 'internal';
      raw.push({ path: source, disk: d.name, holder: { kind, snapshot: name } });
    }
  }
  const keys = await canonicalPaths(raw.map((r) => r.path));
  return raw.map((r) => ({ ...r, key: keys.get(r.path) ?? r.path }));
}

/**
 * Canonical paths of several files, as a map from each path.
 *
 * @internal
 */
export async function canonicalPaths(paths: Iterable<string>): Promise<Map<string, string>> {
  const distinct = [...new Set(paths)];
  const keys = await Promise.all(distinct.map((p) => canonical(p)));
  return new Map(distinct.map((p, i) => [p, keys[i]!]));
}

/**
 * The backing forest below the images that `refs` of `disks` name, read with `qemu-img info
 * --backing-chain`: the current images first, then the references not found in their chains.
 *
 * @internal
 */
export async function loadImageGraph(
  ctx: QemuContext,
  def: DomainDef,
  refs: readonly ImageRef[],
  disks: ReadonlySet<string>,
): Promise<Map<string, ImageNode>> {
  const nodes = new Map<string, ImageNode>();
  const roots = refs.filter((r) => disks.has(r.disk));
  const formats = new Map(def.disks.map((d) => [d.target, diskFormat(d)]));
  const rounds = [roots.filter((r) => r.holder.kind === 'current'), roots];
  for (const round of rounds) {
    const wanted = new Map<string, ImageRef>();
    for (const r of round) if (!nodes.has(r.key) && !wanted.has(r.key)) wanted.set(r.key, r);
    const list = [...wanted.values()];
    const chains = await imageChains(
      ctx,
      list.map((r) => r.path),
    );
    for (const [k, ref] of list.entries()) {
      let path: string | undefined = ref.path;
      for (const info of chains[k]!) {
        if (path === undefined) break;
        const key = await canonical(path);
        const next = backingPath(path, info);
        if (!nodes.has(key)) {
          nodes.set(key, {
            key,
            path,
            disk: ref.disk,
            format: info.format || (formats.get(ref.disk) ?? 'raw'),
            backing: next === undefined ? undefined : await canonical(next),
            writable: await isWritable(path),
            snapshots: info.snapshots.map((s) => s.name),
            bitmaps: info.bitmaps,
          });
        }
        path = next;
      }
    }
  }
  return nodes;
}

async function isWritable(path: string): Promise<boolean> {
  try {
    await access(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
