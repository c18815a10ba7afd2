import {
  assertOptions,
  KNOWN_OPTIONS,
  momentRemoveMode,
  type CheckpointDef,
  type DomainIdentity,
  type MomentDeleteOptions,
  type MomentList,
  type MomentRemoveMode,
} from 'virtkit';
import { COMMIT_STEP, metadataSteps, type DomainAccess, type QemuContext } from './access.js';
import { assertWritable, backingPath, imageChains } from './images.js';
import type { JournalStep } from './journal.js';
import { captureMoments, type DomainState } from './metadata.js';
import { doomedMoments } from './snapshot-delete.js';

/**
 * `virDomainCheckpointDelete` for a shut-off domain. The tree follows libvirt (semantics
 * §b.6). Unless `metadataOnly`, each removed checkpoint's bitmap is merged, on every image of
 * the disk's backing chain that has it, into the bitmap of its nearest surviving ancestor
 * tracking that disk (when that image has it), then removed — so incremental backups from
 * the ancestor stay correct. The merges run after the commit point and are finished by
 * recovery after a crash. A bitmap missing from every image is skipped.
 *
 * @throws `NO_DOMAIN_CHECKPOINT`, `OPERATION_INVALID` for a read-only image.
 * @internal
 */
export async function deleteCheckpoint(
  ctx: QemuContext,
  access: DomainAccess,
  domain: DomainIdentity,
  name: string,
  options: MomentDeleteOptions,
): Promise<void> {
  assertOptions(options, KNOWN_OPTIONS.deleteCheckpoint, 'checkpoint.delete');
  await access.write(domain, 'checkpoint-delete', options, async (state, tx) => {
    const list = state.checkpoints;
    list.require(name);
    const mode = momentRemoveMode(options);
    const doomed = doomedMoments(list, name, mode);
    const folds =
      options.metadataOnly === true ? [] : await foldSteps(ctx, state, doomed, survivor(list, name, mode));
    const before = captureMoments(list);
    list.remove(name, mode);
    const metadata = ctx.store.checkpointChange(state.name, before, list);
    await tx.run('checkpoint-delete', [COMMIT_STEP, ...metadataSteps(metadata), ...folds]);
  });
}

/** The checkpoint that inherits the removed ones' bits: the target itself when only its children go. */
function survivor(list: MomentList<CheckpointDef>, name: string, mode: MomentRemoveMode): string | undefined {
  return mode === 'childrenOnly' ? name : list.parentOf(name);
}

async function foldSteps(
  ctx: QemuContext,
  state: DomainState,
  doomed: readonly string[],
  heir: string | undefined,
): Promise<JournalStep[]> {
  const work = state.def.disks.flatMap((disk) => {
    if (disk.source === undefined || disk.format !== 'qcow2') return [];
    const bitmaps = doomed.map((n) => bitmapOf(state.checkpoints.require(n), disk.target)).filter(isString);
    if (bitmaps.length === 0) return [];
    return [
      { disk, source: disk.source, bitmaps, into: inheritingBitmap(state.checkpoints, heir, disk.target) },
    ];
  });
  const chains = await imageChains(
    ctx,
    work.map((w) => w.source),
  );
  const steps: JournalStep[] = [];
  for (const [k, { disk, source, bitmaps, into }] of work.entries()) {
    let path = source;
    for (const info of chains[k]!) {
      const present = new Set(info.bitmaps.map((b) => b.name));
      const here = bitmaps.filter((b) => present.has(b));
      if (here.length > 0) await assertWritable(path, `disk '${disk.target}'`);
      for (const bitmap of here) {
        steps.push({
          name: `fold ${bitmap} ${disk.target}`,
          action: {
            kind: 'bitmap-fold',
            image: path,
            name: bitmap,
            ...(into !== undefined && present.has(into) ? { into } : {}),
          },
        });
      }
      const next = backingPath(path, info);
      if (next === undefined) break;
      path = next;
    }
  }
  return steps;
}

/** The bitmap of the nearest surviving ancestor (from `heir` up) that tracks `disk`. */
function inheritingBitmap(
  list: MomentList<CheckpointDef>,
  heir: string | undefined,
  disk: string,
): string | undefined {
  for (let at = heir; at !== undefined; at = list.parentOf(at)) {
    const bitmap = bitmapOf(list.require(at), disk);
    if (bitmap !== undefined) return bitmap;
  }
  return undefined;
}

function bitmapOf(def: CheckpointDef, disk: string): string | undefined {
  const d = def.disks?.find((x) => x.name === disk);
  if (d === undefined || d.checkpoint === 'no') return undefined;
  return d.bitmap ?? def.name;
}

function isString(v: string | undefined): v is string {
  return v !== undefined;
}
