import {
  defaultExternalSnapshotPath,
  renameDomainDef,
  updateDomainDisk,
  VirtError,
  type DomainDef,
  type SnapshotDef,
  type SnapshotDiskDef,
} from 'virtkit';
import { COMMIT_STEP, metadataSteps, type QemuContext, type Transaction } from './access.js';
import { compactionSteps, planCompaction } from './image-compaction.js';
import { canonicalPaths, collectRefs, loadImageGraph, type ImageNode } from './image-graph.js';
import { assertFormat, canonical, diskImage, fileSize, imageInfos, recordingBitmaps } from './images.js';
import type { JournalStep } from './journal.js';
import { captureMoments, type DomainState } from './metadata.js';
import { clearRevertDisks, metadataPaths } from './metadata-paths.js';

/**
 * Revert to an external (disk-only, shut-off) snapshot, libvirt ≥ 9.7's way: the snapshot's
 * frozen images are never touched; before the commit point a fresh qcow2 overlay is created
 * on the frozen image of every external disk (`<image minus extension>.revert-<unix time>`,
 * recording bitmaps carried over); after it the definition is restored from the snapshot's
 * `<domain>` with the overlays as sources (disks the snapshot left out keep their current
 * image), the overlays are recorded in the snapshot's `<revertDisks>` when it has children
 * and in its `<disks>` otherwise, the previous current snapshot's `<revertDisks>` are
 * cleared, and the images of the state being left that nothing needs any more are removed.
 *
 * @throws `OPERATION_INVALID` when a frozen image is missing; `CONFIG_UNSUPPORTED` when its
 * format differs from the snapshot's definition.
 * @internal
 */
export async function revertExternal(
  ctx: QemuContext,
  state: DomainState,
  tx: Transaction,
  name: string,
  snap: SnapshotDef & { readonly domain: DomainDef },
): Promise<void> {
  const list = state.snapshots;
  const external = (snap.disks ?? []).filter((d) => d.snapshot === 'external');
  const frozen = external.map((d) => diskImage(snap.domain, d.name));
  for (const image of frozen) {
    if ((await fileSize(image.path)) === undefined) {
      throw new VirtError(
        'OPERATION_INVALID',
        `image '${image.path}' of disk '${image.disk.target}' frozen by snapshot '${name}' is missing`,
      );
    }
  }
  const infos = await imageInfos(
    ctx,
    frozen.map((i) => i.path),
  );
  const taken = new Set(metadataPaths(state.def, list));
  const stamp = Math.floor(ctx.clock() / 1000);
  const steps: JournalStep[] = [];
  const overlays: ImageNode[] = [];
  let def = keepUnsnapshotted(renameDomainDef(snap.domain, state.name), state.def, snap);
  for (const [k, image] of frozen.entries()) {
    const info = infos[k]!;
    assertFormat(image, info);
    const target = image.disk.target;
    const path = await overlayPath(image.path, stamp, taken);
    steps.push({
      name: `overlay ${target}`,
      action: {
        kind: 'overlay-create',
        image: path,
        backing: image.path,
        backingFormat: image.format,
        existedEmpty: false,
      },
    });
    for (const b of recordingBitmaps(info)) {
      steps.push({
        name: `bitmap ${b.name} ${target}`,
        action: { kind: 'bitmap-add', image: path, name: b.name, granularity: b.granularity },
      });
    }
    def = updateDomainDisk(def, target, { source: path, format: 'qcow2', type: 'file' });
    overlays.push(await overlayNode(path, target, image.path));
  }
  const before = captureMoments(list);
  const dropped = await droppedImages(ctx, state, def, overlays);
  const previous = list.current;
  const droppedKeys = new Set(dropped.map((n) => n.key));
  const revertKeys = await canonicalPaths(revertDiskPaths(state));
  clearRevertDisks(
    list,
    (s, n) =>
      n === previous ||
      (s.revertDisks ?? []).some((d) => droppedKeys.has(revertKeys.get(d.source?.file ?? '') ?? '')),
  );
  const entries = (snap.disks ?? []).map((d) => overlayEntry(d, overlays));
  const { revertDisks: _old, ...rest } = list.require(name);
  list.update(
    list.childCount(name) > 0 ? { ...rest, name, revertDisks: entries } : { ...rest, name, disks: entries },
  );
  list.setCurrent(name);
  state.def = def;
  const metadata = metadataSteps(
    ctx.store.domainChange(def),
    ctx.store.snapshotChange(state.name, before, list),
  );
  const drops = compactionSteps({ unlink: dropped, folds: [], redirects: new Map() });
  await tx.run('snapshot-revert-external', [...steps, COMMIT_STEP, ...metadata, ...drops]);
}

/**
 * The images of the state being left that nothing reaches once the domain uses `def`: the
 * previous top images of the disks whose source changes, and whatever only they needed —
 * but only images the metadata records as snapshot or revert overlays (`<disks>`,
 * `<revertDisks>`): base images, images the user pointed the definition at and `noMetadata`
 * overlays are left alone. `overlays` are images about to be created (with their backing files).
 * With `currentOverlays` (an internal revert, which discards the current state) the overlays
 * of the current images' chains (images with a backing file) count as recorded too, whatever
 * the metadata says — e.g. a revert overlay whose snapshot was deleted since.
 *
 * @internal
 */
export async function droppedImages(
  ctx: QemuContext,
  state: DomainState,
  def: DomainDef,
  overlays: readonly ImageNode[] = [],
  currentOverlays = false,
): Promise<ImageNode[]> {
  const moved = (target: string, source: string | undefined): boolean => {
    const next = def.disks.find((x) => x.target === target)?.source;
    return source !== undefined && next !== undefined && next !== source;
  };
  const disks = new Set(state.def.disks.filter((d) => moved(d.target, d.source)).map((d) => d.target));
  if (disks.size === 0) return [];
  const before = await collectRefs(state.def, state.snapshots);
  const after = await collectRefs(def, state.snapshots);
  const nodes = await loadImageGraph(ctx, state.def, before, disks);
  for (const o of overlays) nodes.set(o.key, o);
  const owned = new Set((await canonicalPaths(overlayRecords(state))).values());
  if (currentOverlays) {
    for (const ref of before.filter((r) => r.holder.kind === 'current' && disks.has(r.disk))) {
      const seen = new Set<string>();
      for (
        let n = nodes.get(ref.key);
        n?.backing !== undefined && !seen.has(n.key);
        n = nodes.get(n.backing)
      ) {
        seen.add(n.key);
        owned.add(n.key);
      }
    }
  }
  return [...planCompaction({ nodes, before, after, fold: false, owned }).unlink];
}

/** Disks the snapshot did not take keep the domain's current image (their state is not reverted). */
function keepUnsnapshotted(restored: DomainDef, current: DomainDef, snap: SnapshotDef): DomainDef {
  let def = restored;
  for (const disk of restored.disks) {
    const taken = snap.disks?.find((d) => d.name === disk.target)?.snapshot === 'external';
    const now = current.disks.find((d) => d.target === disk.target);
    if (taken || now?.source === undefined || now.source === disk.source) continue;
    def = updateDomainDisk(def, disk.target, { source: now.source, format: now.format, type: now.type });
  }
  return def;
}

/** A free overlay name next to the frozen image: not on disk, not in the metadata, not planned. */
async function overlayPath(frozen: string, stamp: number, taken: Set<string>): Promise<string> {
  for (let n = 0; ; n++) {
    const path = defaultExternalSnapshotPath(frozen, n === 0 ? `revert-${stamp}` : `revert-${stamp}-${n}`);
    if (taken.has(path) || (await fileSize(path)) !== undefined) continue;
    taken.add(path);
    return path;
  }
}

async function overlayNode(path: string, disk: string, backing: string): Promise<ImageNode> {
  return {
    key: await canonical(path),
    path,
    disk,
    format: 'qcow2',
    backing: await canonical(backing),
    writable: true,
    snapshots: [],
    bitmaps: [],
  };
}

function overlayEntry(disk: SnapshotDiskDef, overlays: readonly ImageNode[]): SnapshotDiskDef {
  const overlay = overlays.find((o) => o.disk === disk.name);
  if (disk.snapshot !== 'external' || overlay === undefined) return disk;
  return {
    name: disk.name,
    snapshot: 'external',
    type: 'file',
    driverType: 'qcow2',
    source: { file: overlay.path },
  };
}

/** The overlay files the snapshots record (external `<disks>` and `<revertDisks>`). */
function overlayRecords(state: DomainState): string[] {
  return state.snapshots.names().flatMap((n) => {
    const snap = state.snapshots.require(n);
    return [...(snap.disks ?? []), ...(snap.revertDisks ?? [])]
      .filter((d) => d.snapshot === 'external')
      .flatMap((d) => (d.source?.file === undefined ? [] : [d.source.file]));
  });
}

function revertDiskPaths(state: DomainState): string[] {
  return state.snapshots
    .names()
    .flatMap((n) => state.snapshots.require(n).revertDisks ?? [])
    .flatMap((d) => (d.source?.file === undefined ? [] : [d.source.file]));
}
