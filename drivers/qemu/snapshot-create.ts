import {
  parseSnapshotXml,
  updateDomainDisk,
  VirtError,
  type DomainDef,
  type DomainIdentity,
  type SnapshotCreateOptions,
} from 'virtkit';
import {
  COMMIT_STEP,
  metadataSteps,
  type DomainAccess,
  type QemuContext,
  type Transaction,
} from './access.js';
import {
  assertFormat,
  backingPath,
  canonical,
  diskImage,
  fileSize,
  imageInfo,
  diskImageInfos,
  recordingBitmaps,
  type DiskImage,
} from './images.js';
import type { JournalStep } from './journal.js';
import { assertStorableName } from './layout.js';
import { captureMoments, type DomainState } from './metadata.js';
import { clearRevertDisks } from './metadata-paths.js';
import { redefineSnapshot } from './snapshot-redefine.js';
import { prepareSnapshot, type PreparedSnapshot } from './snapshot-prepare.js';

/**
 * `virDomainSnapshotCreateXML` for a shut-off domain: internal snapshots (`qemu-img snapshot
 * -c` on every disk, all or none), external disk-only snapshots (new qcow2 overlays, the
 * domain then points at them), `noMetadata`, or metadata-only `redefine`.
 *
 * @returns the snapshot's name.
 * @internal
 */
export async function createSnapshot(
  ctx: QemuContext,
  access: DomainAccess,
  domain: DomainIdentity,
  xml: string,
  options: SnapshotCreateOptions,
): Promise<string> {
  return access.write(domain, 'snapshot-create', options, async (state, tx) => {
    if (options.redefine === true) return redefineSnapshot(ctx, state, xml, options, tx);
    const parsed = parseSnapshotXml(xml, {
      offline: true,
      validate: options.validate === true,
      now: Math.floor(ctx.clock() / 1000),
    });
    const name = parsed.name ?? '';
    assertStorableName('snapshot', name);
    if (state.snapshots.has(name))
      throw new VirtError('OPERATION_FAILED', `domain moment ${name} already exists`);
    const prepared = prepareSnapshot({ ...parsed, name }, state.def, options, state.snapshots.current);
    const work =
      prepared.kind === 'internal'
        ? await internalSteps(ctx, state, prepared)
        : await externalSteps(ctx, state, prepared, options.reuseExt === true);
    await commitSnapshot(ctx, state, tx, prepared, work, options.noMetadata === true);
    return name;
  });
}

interface SnapshotWork {
  readonly steps: JournalStep[];
  /** The domain definition after the snapshot (changed by external snapshots). */
  readonly domain: DomainDef;
}

async function commitSnapshot(
  ctx: QemuContext,
  state: DomainState,
  tx: Transaction,
  prepared: PreparedSnapshot,
  work: SnapshotWork,
  noMetadata: boolean,
): Promise<void> {
  const before = captureMoments(state.snapshots);
  const domainChanged = work.domain !== state.def;
  state.def = work.domain;
  const parent = state.snapshots.current;
  // libvirt: the revert overlays of the current snapshot are now the new snapshot's business.
  if (!noMetadata) {
    clearRevertDisks(state.snapshots, (_s, n) => n === parent);
    state.snapshots.add(prepared.def);
    state.snapshots.setCurrent(prepared.def.name);
  }
  const metadata = metadataSteps(
    ...(domainChanged ? [ctx.store.domainChange(work.domain)] : []),
    ctx.store.snapshotChange(state.name, before, state.snapshots),
  );
  await tx.run(`snapshot-create-${prepared.kind}`, [...work.steps, COMMIT_STEP, ...metadata]);
}

/** `qemu-img snapshot -c` on every internal disk, after checking the images. */
async function internalSteps(
  ctx: QemuContext,
  state: DomainState,
  prepared: PreparedSnapshot,
): Promise<SnapshotWork> {
  const name = prepared.def.name;
  const disks = (prepared.def.disks ?? []).filter((d) => d.snapshot === 'internal');
  const images = disks.map((d) => diskImage(state.def, d.name));
  const infos = await diskImageInfos(ctx, images);
  const steps: JournalStep[] = [];
  for (const [k, image] of images.entries()) {
    const info = infos[k]!;
    assertFormat(image, info);
    const clash = info.snapshots.find((s) => s.name === name || s.id === name);
    if (clash !== undefined) {
      const where = `image '${image.path}' of disk '${image.disk.target}'`;
      // qemu-img resolves a snapshot name as an id first, so a name equal to another
      // snapshot's id would later apply or delete that other snapshot.
      const message =
        clash.name === name
          ? `${where} already has an internal snapshot named '${name}'`
          : `snapshot name '${name}' is the id of internal snapshot '${clash.name}' in ${where}; ` +
            'qemu-img would take one for the other: choose another name';
      throw new VirtError('OPERATION_INVALID', message, { driver: 'qemu' });
    }
    steps.push({
      name: `snapshot ${image.disk.target}`,
      action: { kind: 'snapshot-create', image: image.path, name },
    });
  }
  return { steps, domain: state.def };
}

/** New overlays (or reused ones) for every external disk, carrying the recording bitmaps over. */
async function externalSteps(
  ctx: QemuContext,
  state: DomainState,
  prepared: PreparedSnapshot,
  reuse: boolean,
): Promise<SnapshotWork> {
  const steps: JournalStep[] = [];
  let domain = state.def;
  const targets = new Set<string>();
  const disks = (prepared.def.disks ?? []).filter((d) => d.snapshot === 'external');
  const images = disks.map((d) => diskImage(state.def, d.name));
  const backings = await diskImageInfos(ctx, images);
  for (const [k, disk] of disks.entries()) {
    const overlay = disk.source?.file ?? '';
    const image = images[k]!;
    const backing = backings[k]!;
    const canonicalOverlay = await canonical(overlay);
    if (targets.has(canonicalOverlay)) {
      throw new VirtError(
        'CONFIG_UNSUPPORTED',
        `external snapshot file '${overlay}' is used by more than one disk`,
      );
    }
    targets.add(canonicalOverlay);
    assertFormat(image, backing);
    const existing = reuse
      ? await reusedOverlay(ctx, image, overlay)
      : await freshOverlay(disk.name, overlay);
    if (!reuse) {
      steps.push({
        name: `overlay ${disk.name}`,
        action: {
          kind: 'overlay-create',
          image: overlay,
          backing: image.path,
          backingFormat: image.format,
          existedEmpty: existing,
        },
      });
    }
    steps.push(...(await bitmapCopies(ctx, disk.name, overlay, recordingBitmaps(backing), reuse)));
    domain = updateDomainDisk(domain, disk.name, { source: overlay, format: 'qcow2', type: 'file' });
  }
  return { steps, domain };
}

/** Without `reuseExt` the target must not exist or be empty (libvirt). @returns whether it exists (empty). */
async function freshOverlay(disk: string, overlay: string): Promise<boolean> {
  const size = await fileSize(overlay);
  if (size !== undefined && size > 0) {
    throw new VirtError(
      'CONFIG_UNSUPPORTED',
      `external snapshot file for disk ${disk} already exists and is not a block device: ${overlay}`,
    );
  }
  return size !== undefined;
}

/** With `reuseExt` the target must be a qcow2 image whose backing file is the disk's current image. */
async function reusedOverlay(ctx: QemuContext, image: DiskImage, overlay: string): Promise<boolean> {
  if ((await fileSize(overlay)) === undefined) {
    throw new VirtError('SYSTEM_ERROR', `missing existing file for disk ${image.disk.target}: ${overlay}`);
  }
  const info = await imageInfo(ctx, overlay);
  const backing = backingPath(overlay, info);
  const ok =
    info.format === 'qcow2' &&
    backing !== undefined &&
    (await canonical(backing)) === (await canonical(image.path)) &&
    (info.backingFormat === undefined || info.backingFormat === image.format);
  if (!ok) {
    throw new VirtError(
      'CONFIG_UNSUPPORTED',
      `reused external snapshot file '${overlay}' for disk '${image.disk.target}' must be a qcow2 image ` +
        `backed by '${image.path}' (${image.format})`,
    );
  }
  return true;
}

/** Re-creates the old image's recording bitmaps in the overlay (same names and granularity). */
async function bitmapCopies(
  ctx: QemuContext,
  disk: string,
  overlay: string,
  bitmaps: ReturnType<typeof recordingBitmaps>,
  reuse: boolean,
): Promise<JournalStep[]> {
  const present = reuse
    ? new Set((await imageInfo(ctx, overlay)).bitmaps.map((b) => b.name))
    : new Set<string>();
  return bitmaps
    .filter((b) => !present.has(b.name))
    .map((b) => ({
      name: `bitmap ${b.name} ${disk}`,
      action: { kind: 'bitmap-add', image: overlay, name: b.name, granularity: b.granularity },
    }));
}
