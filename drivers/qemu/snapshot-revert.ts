import {
  assertOptions,
  isExternalSnapshot,
  KNOWN_OPTIONS,
  renameDomainDef,
  VirtError,
  type DomainDef,
  type DomainIdentity,
  type SnapshotDef,
  type SnapshotRevertOptions,
} from 'virtkit';
import { COMMIT_STEP, metadataSteps, type DomainAccess, type QemuContext } from './access.js';
import { compactionSteps } from './image-compaction.js';
import { canonicalPaths, collectRefs, loadImageGraph, type ImageNode } from './image-graph.js';
import {
  assertFormat,
  assertWritable,
  canonical,
  diskImageInfos,
  internalSnapshotImages,
  type DiskImage,
} from './images.js';
import type { JournalStep } from './journal.js';
import { captureMoments, type DomainState } from './metadata.js';
import { clearRevertDisks, metadataPaths } from './metadata-paths.js';
import { droppedImages, revertExternal } from './snapshot-revert-external.js';

const PART_2 =
  'reverting to a running or paused state (a snapshot with memory, or the running/paused option) is not supported yet by the qemu driver: it reverts the disks of shut-off domains';

/**
 * `virDomainRevertToSnapshot` for a shut-off domain and an internal snapshot, all-or-nothing
 * across disks: a temporary safety snapshot `virtkit-revert-<id>` is taken on every image
 * first, then the target is applied; a failure (or a crash, through the journal) applies the
 * safety snapshots back. After the commit point the domain definition is restored from the
 * snapshot, the snapshot becomes current and the safety snapshots are dropped. A definition
 * that changed is reported as DEFINED/FROM_SNAPSHOT (semantics §d.2).
 *
 * External snapshots are reverted by `revertExternal` (fresh overlays on the frozen images).
 *
 * @throws `OPERATION_UNSUPPORTED` for snapshots with memory or `running`/`paused` (running
 * domains are not supported yet), images holding persistent
 * bitmaps (QEMU refuses to apply internal snapshots then) or images that are read-only
 * backing files of external snapshots; `SNAPSHOT_REVERT_RISKY` without a `<domain>`.
 * @internal
 */
export async function revertSnapshot(
  ctx: QemuContext,
  access: DomainAccess,
  domain: DomainIdentity,
  name: string,
  options: SnapshotRevertOptions,
): Promise<void> {
  assertOptions(options, KNOWN_OPTIONS.revertSnapshot, 'snapshot.revert');
  const changed = await access.write(domain, 'snapshot-revert', options, async (state, tx) => {
    const snap = state.snapshots.require(name);
    const domainDef = validateTarget(state, name, snap, options);
    if (isExternalSnapshot(snap)) {
      await revertExternal(ctx, state, tx, name, { ...snap, domain: domainDef });
      return true;
    }
    const images = internalSnapshotImages(snap, state.def);
    const overlays = await checkImages(ctx, state, name, images);
    const safety = `virtkit-revert-${tx.journalId}`;
    const steps: JournalStep[] = [
      ...images.map((i) => ({
        name: `safety ${i.disk.target}`,
        action: { kind: 'snapshot-create' as const, image: i.path, name: safety },
      })),
      ...images.map((i) => ({
        name: `apply ${i.disk.target}`,
        action: { kind: 'snapshot-apply' as const, image: i.path, name, safety },
      })),
    ];
    const before = captureMoments(state.snapshots);
    const restored = renameDomainDef(domainDef, state.name);
    const changed = ctx.store.domainXml(restored) !== ctx.store.domainXml(state.def);
    const drops = changed ? await dropSteps(ctx, state, restored, overlays) : [];
    state.def = restored;
    state.snapshots.setCurrent(name);
    const metadata = metadataSteps(
      ctx.store.domainChange(restored),
      ctx.store.snapshotChange(state.name, before, state.snapshots),
    );
    const cleanup = images.map((i) => ({
      name: `drop safety ${i.disk.target}`,
      action: { kind: 'snapshot-delete' as const, image: i.path, name: safety },
    }));
    await tx.run('snapshot-revert-internal', [...steps, COMMIT_STEP, ...metadata, ...cleanup, ...drops]);
    return changed;
  });
  if (changed) ctx.events.domainEvent({ domain, event: 'DEFINED', detail: 'FROM_SNAPSHOT' });
}

/**
 * When the restored definition uses other images (an internal snapshot in an image the
 * domain had moved away from), the images of the state being left that nothing needs any
 * more are removed after the commit point, and `<revertDisks>` naming them are forgotten.
 */
async function dropSteps(
  ctx: QemuContext,
  state: DomainState,
  restored: DomainDef,
  overlays: readonly ImageNode[],
): Promise<JournalStep[]> {
  const found = await droppedImages(ctx, state, restored, [], true);
  const dropped = [...found, ...overlays.filter((o) => !found.some((n) => n.key === o.key))];
  if (dropped.length === 0) return [];
  const keys = new Set(dropped.map((n) => n.key));
  const paths = await canonicalPaths(metadataPaths(state.def, state.snapshots));
  clearRevertDisks(state.snapshots, (s) =>
    (s.revertDisks ?? []).some((d) => keys.has(paths.get(d.source?.file ?? '') ?? '')),
  );
  return compactionSteps({ unlink: dropped, folds: [], redirects: new Map() });
}

/** libvirt's revert validation for a shut-off persistent domain. @returns the snapshot's `<domain>`. */
function validateTarget(
  state: DomainState,
  name: string,
  snap: SnapshotDef,
  options: SnapshotRevertOptions,
): DomainDef {
  if (snap.memory?.snapshot === 'external') {
    throw new VirtError('OPERATION_UNSUPPORTED', `${PART_2}: snapshot '${name}' has memory state`);
  }
  if (snap.domain === undefined) {
    throw new VirtError(
      'SNAPSHOT_REVERT_RISKY',
      `snapshot '${name}' lacks domain '${state.name}' rollback info`,
    );
  }
  switch (snap.state) {
    case 'shutdown':
    case 'shutoff':
    case 'crashed':
      if (options.running === true || options.paused === true)
        throw new VirtError('OPERATION_UNSUPPORTED', PART_2);
      return snap.domain;
    case 'running':
    case 'paused':
      throw new VirtError('OPERATION_UNSUPPORTED', `${PART_2}: snapshot '${name}' has memory state`);
    case 'pmsuspended':
      throw new VirtError(
        'OPERATION_UNSUPPORTED',
        "qemu doesn't support reversion of snapshot taken in PMSUSPENDED state",
      );
    case 'disk-snapshot':
    case 'blocked':
    case undefined:
      throw new VirtError(
        'INTERNAL_ERROR',
        `Invalid target domain state '${snap.state ?? 'nostate'}'. Refusing snapshot reversion`,
      );
  }
}

/**
 * Everything that would make `qemu-img snapshot -a` fail or do harm, checked on every image
 * before anything changes.
 */
async function checkImages(
  ctx: QemuContext,
  state: DomainState,
  name: string,
  images: readonly DiskImage[],
): Promise<ImageNode[]> {
  if (images.length === 0)
    throw new VirtError('CONFIG_UNSUPPORTED', `snapshot '${name}' has no internal disk`);
  const infos = await diskImageInfos(ctx, images);
  for (const [k, image] of images.entries()) {
    const what = `disk '${image.disk.target}'`;
    await assertWritable(image.path, what);
    const info = infos[k]!;
    assertFormat(image, info);
    const named = info.snapshots.filter((s) => s.name === name);
    if (named.length !== 1) {
      const problem = named.length === 0 ? 'does not contain' : 'contains more than one';
      throw new VirtError(
        'OPERATION_INVALID',
        `image '${image.path}' of ${what} ${problem} internal snapshot '${name}'`,
      );
    }
    const byId = info.snapshots.find((s) => s.id === name && s.name !== name);
    if (byId !== undefined) {
      throw new VirtError(
        'OPERATION_UNSUPPORTED',
        `snapshot name '${name}' is also the id of internal snapshot '${byId.name}' in image '${image.path}'; ` +
          'qemu-img would apply that one',
      );
    }
    if (info.bitmaps.length > 0)
      throw bitmapConflict(
        state,
        name,
        image,
        info.bitmaps.map((b) => b.name),
      );
  }
  return currentOverlays(ctx, state, name, images);
}

function bitmapConflict(
  state: DomainState,
  name: string,
  image: DiskImage,
  bitmaps: readonly string[],
): VirtError {
  const checkpoints = bitmaps.filter((b) => state.checkpoints.has(b));
  const others = bitmaps.filter((b) => !state.checkpoints.has(b));
  const parts = [
    checkpoints.length > 0 ? `checkpoints ${checkpoints.map((c) => `'${c}'`).join(', ')}` : undefined,
    others.length > 0 ? `bitmaps ${others.map((c) => `'${c}'`).join(', ')}` : undefined,
  ].filter((p) => p !== undefined);
  return new VirtError(
    'OPERATION_UNSUPPORTED',
    `cannot revert to internal snapshot '${name}': image '${image.path}' of disk '${image.disk.target}' holds ` +
      `persistent dirty bitmaps (${parts.join('; ')}) and qemu-img cannot apply an internal snapshot then; ` +
      'delete the checkpoints first',
    { driver: 'qemu', details: { checkpoints, bitmaps } },
  );
}

/**
 * Who reads the active data of the images an internal revert applies the snapshot to, from
 * the references of the metadata and the backing forest of the disks (read only when some
 * reference of the disk names another image):
 *
 * - an external snapshot whose frozen image is the image or lies above it, and an internal
 *   snapshot in an image above it, would see their data change: refused, naming them (deleting
 *   them makes the revert possible; an external delete folds the overlays back);
 * - the current state, when the disk's current image is an overlay above it: the overlays
 *   between are used by nothing else (else the point above refused), so the revert discards
 *   them with the rest of the current state. They are returned, to be unlinked after the
 *   commit point; the restored definition points the disk at the image again.
 *
 * @throws `OPERATION_UNSUPPORTED` naming the snapshots to delete, or a read-only overlay.
 */
async function currentOverlays(
  ctx: QemuContext,
  state: DomainState,
  name: string,
  images: readonly DiskImage[],
): Promise<ImageNode[]> {
  const refs = await collectRefs(state.def, state.snapshots);
  const keys = new Map(
    await Promise.all(images.map(async (i) => [i.disk.target, await canonical(i.path)] as const)),
  );
  const disks = new Set(
    refs.filter((r) => keys.has(r.disk) && r.key !== keys.get(r.disk)).map((r) => r.disk),
  );
  const nodes =
    disks.size === 0 ? new Map<string, ImageNode>() : await loadImageGraph(ctx, state.def, refs, disks);
  const discard = new Map<string, ImageNode>();
  for (const image of images) {
    const key = keys.get(image.disk.target)!;
    const external = new Set<string>();
    const internal = new Set<string>();
    const readOnly: string[] = [];
    for (const ref of refs.filter((r) => r.disk === image.disk.target && r.holder.kind !== 'current')) {
      const above = chainAbove(nodes, ref.key, key);
      if (above === undefined || (ref.holder.kind === 'internal' && above.length === 0)) continue;
      if (ref.holder.kind === 'frozen') external.add(ref.holder.snapshot);
      else if (ref.holder.kind === 'internal') internal.add(ref.holder.snapshot);
    }
    const current = refs.find((r) => r.disk === image.disk.target && r.holder.kind === 'current');
    const above = current === undefined ? undefined : (chainAbove(nodes, current.key, key) ?? []);
    for (const k of above ?? []) {
      const node = nodes.get(k)!;
      if (!node.writable) readOnly.push(node.path);
      else discard.set(k, node);
    }
    if (external.size === 0 && internal.size === 0 && readOnly.length === 0) continue;
    const list = (names: Set<string>): string => [...names].map((n) => `'${n}'`).join(', ');
    const readers = [
      external.size > 0 ? `external snapshot${external.size > 1 ? 's' : ''} ${list(external)}` : undefined,
      internal.size > 0
        ? `internal snapshot${internal.size > 1 ? 's' : ''} ${list(internal)} in an overlay above it`
        : undefined,
    ].filter((p) => p !== undefined);
    const what = `cannot revert to internal snapshot '${name}': image '${image.path}' of disk '${image.disk.target}'`;
    if (readers.length === 0) {
      throw new VirtError(
        'OPERATION_UNSUPPORTED',
        `${what} is the backing image of the read-only current image '${readOnly.join("', '")}'; ` +
          'make it writable or point the disk elsewhere (defineDomain) to revert',
        { driver: 'qemu', details: { images: readOnly } },
      );
    }
    const doomed = [...external, ...internal];
    throw new VirtError(
      'OPERATION_UNSUPPORTED',
      `${what} is a read-only backing image of ${readers.join(' and of ')}; applying the snapshot would change ` +
        `their data. Delete ${list(new Set(doomed))} first (deleting an external snapshot merges its overlay ` +
        'back), then revert',
      { driver: 'qemu', details: { snapshots: doomed } },
    );
  }
  return [...discard.values()];
}

/**
 * The images from `from` down its backing chain before reaching `to` (empty when `from` is
 * `to`), or `undefined` when the chain does not reach `to`.
 */
function chainAbove(nodes: ReadonlyMap<string, ImageNode>, from: string, to: string): string[] | undefined {
  const out: string[] = [];
  const seen = new Set<string>();
  for (let k: string | undefined = from; k !== undefined && !seen.has(k); k = nodes.get(k)?.backing) {
    if (k === to) return out;
    seen.add(k);
    out.push(k);
  }
  return undefined;
}
