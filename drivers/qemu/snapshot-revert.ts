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
import { canonicalPaths } from './image-graph.js';
import {
  assertFormat,
  assertWritable,
  backingPath,
  canonical,
  imageChain,
  diskImageInfos,
  internalSnapshotImages,
  type DiskImage,
} from './images.js';
import type { JournalStep } from './journal.js';
import { captureMoments, type DomainState } from './metadata.js';
import { clearRevertDisks, metadataPaths } from './metadata-paths.js';
import { droppedImages, revertExternal } from './snapshot-revert-external.js';

const PART_2 = 'running qemu domains are not supported yet (part 2)';

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
 * domains: part 2), images holding persistent
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
    await checkImages(ctx, state, name, images);
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
    const drops = changed ? await dropSteps(ctx, state, restored) : [];
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
async function dropSteps(ctx: QemuContext, state: DomainState, restored: DomainDef): Promise<JournalStep[]> {
  const dropped = await droppedImages(ctx, state, restored);
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
): Promise<void> {
  if (images.length === 0)
    throw new VirtError('CONFIG_UNSUPPORTED', `snapshot '${name}' has no internal disk`);
  const [frozen, infos] = await Promise.all([frozenImages(ctx, state, images), diskImageInfos(ctx, images)]);
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
    const holder = frozen.get(await canonical(image.path));
    if (holder !== undefined) {
      throw new VirtError(
        'OPERATION_UNSUPPORTED',
        `cannot revert to internal snapshot '${name}': image '${image.path}' of ${what} is a read-only backing ` +
          `image of ${holder}; applying the snapshot would change it`,
      );
    }
  }
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
 * Images that must not change: the images external snapshots froze (recorded in their
 * `<domain>`) and, where the domain has moved on to another image, the backing chain of the
 * disk's current image. Maps canonical path to a description of who relies on it.
 */
async function frozenImages(
  ctx: QemuContext,
  state: DomainState,
  images: readonly DiskImage[],
): Promise<Map<string, string>> {
  const frozen = new Map<string, string>();
  for (const other of state.snapshots.names()) {
    const def = state.snapshots.require(other);
    for (const disk of def.disks ?? []) {
      const source = def.domain?.disks.find((d) => d.target === disk.name)?.source;
      if (disk.snapshot === 'external' && source !== undefined) {
        frozen.set(await canonical(source), `external snapshot '${other}'`);
      }
    }
  }
  for (const image of images) {
    const current = state.def.disks.find((d) => d.target === image.disk.target);
    if (current?.source === undefined || current.format !== 'qcow2') continue;
    if ((await canonical(current.source)) === (await canonical(image.path))) continue;
    let path = current.source;
    for (const info of (await imageChain(ctx, current.source)).slice(0, -1)) {
      const next = backingPath(path, info);
      if (next === undefined) break;
      const key = await canonical(next);
      if (!frozen.has(key)) frozen.set(key, `the current image of disk '${current.target}'`);
      path = next;
    }
  }
  return frozen;
}
