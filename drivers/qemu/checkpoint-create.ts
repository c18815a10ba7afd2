import {
  alignCheckpointDisks,
  assertOptions,
  defaultCheckpointBitmapNames,
  parseCheckpointXml,
  redefineMakesCurrent,
  VirtError,
  type CheckpointCreateOptions,
  type CheckpointDef,
  type DomainIdentity,
} from 'virtkit';
import {
  COMMIT_STEP,
  metadataSteps,
  type DomainAccess,
  type QemuContext,
  type Transaction,
} from './access.js';
import { assertFormat, diskImage, diskImageInfos, imageChain, type DiskImage } from './images.js';
import type { JournalStep } from './journal.js';
import { assertStorableName } from './layout.js';
import { captureMoments, type DomainState } from './metadata.js';
import type { ImageInfo } from './qemu-img.js';

const CREATE_OPTIONS = ['redefine', 'redefineValidate', 'signal', 'onProgress'];

type NamedCheckpoint = CheckpointDef & { readonly name: string };

/**
 * `virDomainCheckpointCreateXML` for a shut-off domain (libvirt refuses it; virtkit adds a
 * persistent, recording bitmap named after the checkpoint to the top image of every `bitmap`
 * disk with `qemu-img bitmap --add`, all or none), or metadata-only `redefine`.
 *
 * @returns the checkpoint's name.
 * @throws `INVALID_ARG` for `quiesce` (as libvirt's qemu driver), `OPERATION_FAILED` for a
 * taken name, `CONFIG_UNSUPPORTED` for a non-qcow2 disk or a bitmap name other than the
 * checkpoint's, `OPERATION_INVALID` when an image already has that bitmap,
 * `CHECKPOINT_INCONSISTENT` when `redefineValidate` finds a missing or broken bitmap.
 * @internal
 */
export async function createCheckpoint(
  ctx: QemuContext,
  access: DomainAccess,
  domain: DomainIdentity,
  xml: string,
  options: CheckpointCreateOptions,
): Promise<string> {
  assertOptions(options, CREATE_OPTIONS, 'createCheckpoint');
  return access.write(domain, 'checkpoint-create', options, async (state, tx) => {
    if (options.redefine === true) return redefineCheckpoint(ctx, state, xml, options, tx);
    const parsed = parseCheckpointXml(xml, { now: Math.floor(ctx.clock() / 1000) });
    const name = parsed.name ?? '';
    assertStorableName('checkpoint', name);
    if (state.checkpoints.has(name))
      throw new VirtError('OPERATION_FAILED', `domain moment ${name} already exists`);
    const current = state.checkpoints.current;
    const def: NamedCheckpoint = {
      ...alignCheckpointDisks(parsed, state.def),
      name,
      ...(current === undefined ? {} : { parent: current }),
      domain: state.def,
    };
    const steps = await bitmapSteps(ctx, state, def);
    const before = captureMoments(state.checkpoints);
    state.checkpoints.add(def);
    state.checkpoints.setCurrent(name);
    const metadata = ctx.store.checkpointChange(state.name, before, state.checkpoints);
    await tx.run('checkpoint-create', [...steps, COMMIT_STEP, ...metadataSteps(metadata)]);
    return name;
  });
}

/** `bitmap --add` on the top image of every `bitmap` disk, after checking each image. */
async function bitmapSteps(
  ctx: QemuContext,
  state: DomainState,
  def: NamedCheckpoint,
): Promise<JournalStep[]> {
  const images: DiskImage[] = [];
  for (const disk of def.disks ?? []) {
    if (disk.checkpoint === 'no') continue;
    if ((disk.bitmap ?? def.name) !== def.name) {
      throw new VirtError(
        'CONFIG_UNSUPPORTED',
        `bitmap for disk '${disk.name}' must match checkpoint name '${def.name}'`,
      );
    }
    const image = diskImage(state.def, disk.name);
    if (image.format !== 'qcow2') {
      throw new VirtError(
        'CONFIG_UNSUPPORTED',
        `checkpoint for disk ${disk.name} unsupported for storage type ${image.format}`,
      );
    }
    images.push(image);
  }
  const infos = await diskImageInfos(ctx, images);
  const steps: JournalStep[] = [];
  for (const [k, image] of images.entries()) {
    const info = infos[k]!;
    assertFormat(image, info);
    if (info.bitmaps.some((b) => b.name === def.name)) {
      throw new VirtError(
        'OPERATION_INVALID',
        `image '${image.path}' of disk '${image.disk.target}' already has a bitmap named '${def.name}'`,
      );
    }
    steps.push({
      name: `bitmap ${image.disk.target}`,
      action: { kind: 'bitmap-add', image: image.path, name: def.name },
    });
  }
  return steps;
}

/** libvirt's checkpoint redefinition (semantics §b.7): metadata only, current set automatically. */
async function redefineCheckpoint(
  ctx: QemuContext,
  state: DomainState,
  xml: string,
  options: CheckpointCreateOptions,
  tx: Transaction,
): Promise<string> {
  const parsed = parseCheckpointXml(xml, { redefine: true });
  const name = parsed.name ?? '';
  assertStorableName('checkpoint', name);
  const list = state.checkpoints;
  list.checkRedefine(name, parsed.parent);
  if (parsed.domain !== undefined && parsed.domain.uuid !== state.def.uuid) {
    throw new VirtError('INVALID_ARG', `definition for checkpoint ${name} must use uuid ${state.def.uuid}`);
  }
  const def: NamedCheckpoint =
    parsed.domain === undefined
      ? { ...defaultCheckpointBitmapNames({ ...parsed, name }), name }
      : { ...alignCheckpointDisks({ ...parsed, name }, parsed.domain), name, domain: parsed.domain };
  if (options.redefineValidate === true) await validateBitmaps(ctx, state, def);
  const makeCurrent = redefineMakesCurrent(list, def.parent);
  const before = captureMoments(list);
  if (list.has(name)) list.replace(def);
  else list.add(def);
  if (makeCurrent) list.setCurrent(name);
  await tx.run('checkpoint-redefine', [
    COMMIT_STEP,
    ...metadataSteps(ctx.store.checkpointChange(state.name, before, list)),
  ]);
  return name;
}

/** `redefineValidate`: each bitmap chain must be valid on the domain's current images. */
async function validateBitmaps(ctx: QemuContext, state: DomainState, def: NamedCheckpoint): Promise<void> {
  for (const disk of def.disks ?? []) {
    if (disk.checkpoint === 'no') continue;
    const bitmap = disk.bitmap ?? def.name;
    const broken = new VirtError(
      'CHECKPOINT_INCONSISTENT',
      `missing or broken bitmap '${bitmap}' for disk '${disk.name}'`,
    );
    const domDisk = state.def.disks.find((d) => d.target === disk.name);
    if (domDisk?.source === undefined || domDisk.format !== 'qcow2') throw broken;
    if (!bitmapChainValid(await imageChain(ctx, domDisk.source), bitmap)) throw broken;
  }
}

/**
 * libvirt's rule for a usable checkpoint bitmap: the top image has it, the images having it
 * form a contiguous run from the top, every one recording and none inconsistent (`in-use`).
 *
 * @internal
 */
export function bitmapChainValid(chain: readonly ImageInfo[], bitmap: string): boolean {
  let run = true;
  let found = 0;
  for (const info of chain) {
    const b = info.bitmaps.find((x) => x.name === bitmap);
    if (b === undefined) {
      run = false;
      continue;
    }
    if (!run || !b.flags.includes('auto') || b.flags.includes('in-use')) return false;
    found++;
  }
  return found > 0;
}
