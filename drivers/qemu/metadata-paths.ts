import {
  updateDomainDisk,
  type DomainDef,
  type MomentList,
  type SnapshotDef,
  type SnapshotDiskDef,
} from 'virtkit';
import { canonicalPaths, type ImageNode } from './image-graph.js';

/**
 * Where a path of the metadata moves: a new image path and its format.
 *
 * @internal
 */
export interface PathTarget {
  readonly path: string;
  readonly format: string;
}

/**
 * Maps a metadata path to its new place, or `undefined` when it stays.
 *
 * @internal
 */
export type Redirect = (path: string) => PathTarget | undefined;

/**
 * Every image path the metadata names: the domain's disk sources and, for every snapshot,
 * the sources of its `<domain>` (and `<inactiveDomain>`), `<disks>` and `<revertDisks>`.
 *
 * @internal
 */
export function metadataPaths(def: DomainDef, list: MomentList<SnapshotDef>): string[] {
  const out = domainPaths(def);
  for (const name of list.names()) {
    const snap = list.require(name);
    if (snap.domain !== undefined) out.push(...domainPaths(snap.domain));
    if (snap.inactiveDomain !== undefined) out.push(...domainPaths(snap.inactiveDomain));
    for (const d of [...(snap.disks ?? []), ...(snap.revertDisks ?? [])])
      if (d.source?.file !== undefined) out.push(d.source.file);
  }
  return out;
}

/**
 * A {@link Redirect} for the folds of a compaction: every path whose image was folded away
 * names the image that took over its data.
 *
 * @internal
 */
export async function foldRedirect(
  paths: Iterable<string>,
  redirects: ReadonlyMap<string, string>,
  nodes: ReadonlyMap<string, ImageNode>,
): Promise<Redirect> {
  const keys = redirects.size === 0 ? new Map<string, string>() : await canonicalPaths(paths);
  return (path) => {
    const key = keys.get(path);
    const to = key === undefined ? undefined : redirects.get(key);
    const node = to === undefined ? undefined : nodes.get(to);
    return node === undefined ? undefined : { path: node.path, format: node.format };
  };
}

/**
 * The definition with redirected disk sources (and formats).
 *
 * @internal
 */
export function redirectDomain(def: DomainDef, redirect: Redirect): DomainDef {
  let out = def;
  for (const disk of def.disks) {
    const to = disk.source === undefined ? undefined : redirect(disk.source);
    if (to !== undefined) out = updateDomainDisk(out, disk.target, { source: to.path, format: to.format });
  }
  return out;
}

/**
 * Redirects the paths of every snapshot in place (`<domain>`, `<inactiveDomain>`, `<disks>`,
 * `<revertDisks>`). @returns whether a definition changed.
 *
 * @internal
 */
export function redirectSnapshots(list: MomentList<SnapshotDef>, redirect: Redirect): boolean {
  return updateEach(list, (snap) => {
    const domain = snap.domain === undefined ? undefined : redirectDomain(snap.domain, redirect);
    const inactive =
      snap.inactiveDomain === undefined ? undefined : redirectDomain(snap.inactiveDomain, redirect);
    const disks = redirectDisks(snap.disks, redirect);
    const revertDisks = redirectDisks(snap.revertDisks, redirect);
    if (
      domain === snap.domain &&
      inactive === snap.inactiveDomain &&
      disks === snap.disks &&
      revertDisks === snap.revertDisks
    )
      return snap;
    return { ...snap, domain, inactiveDomain: inactive, disks, revertDisks };
  });
}

/**
 * libvirt's promotion after a delete: a snapshot left without children whose revert
 * overlays were kept in `<revertDisks>` gets them as its `<disks>`. @returns whether any did.
 *
 * @internal
 */
export function promoteRevertDisks(list: MomentList<SnapshotDef>): boolean {
  return updateEach(list, (snap, name) => {
    if (snap.revertDisks === undefined || list.childCount(name) > 0) return snap;
    const { revertDisks, ...rest } = snap;
    return { ...rest, disks: revertDisks };
  });
}

/**
 * Removes the `<revertDisks>` of snapshots for which `drop` holds (libvirt clears the previous
 * current snapshot's revert overlays when they are discarded or frozen). @returns whether any went.
 *
 * @internal
 */
export function clearRevertDisks(
  list: MomentList<SnapshotDef>,
  drop: (snap: SnapshotDef, name: string) => boolean,
): boolean {
  return updateEach(list, (snap, name) => {
    if (snap.revertDisks === undefined || !drop(snap, name)) return snap;
    const { revertDisks: _gone, ...rest } = snap;
    return rest;
  });
}

function updateEach(
  list: MomentList<SnapshotDef>,
  change: (snap: SnapshotDef, name: string) => SnapshotDef,
): boolean {
  let changed = false;
  for (const name of list.names()) {
    const snap = list.require(name);
    const next = change(snap, name);
    if (next === snap) continue;
    list.update({ ...next, name });
    changed = true;
  }
  return changed;
}

function redirectDisks(
  disks: readonly SnapshotDiskDef[] | undefined,
  redirect: Redirect,
): readonly SnapshotDiskDef[] | undefined {
  if (disks === undefined) return undefined;
  let changed = false;
  const out = disks.map((d) => {
    const to = d.source?.file === undefined ? undefined : redirect(d.source.file);
    if (to === undefined) return d;
    changed = true;
    return { ...d, source: { ...d.source, file: to.path }, driverType: to.format };
  });
  return changed ? out : disks;
}

function domainPaths(def: DomainDef): string[] {
  return def.disks.flatMap((d) => (d.source === undefined ? [] : [d.source]));
}
