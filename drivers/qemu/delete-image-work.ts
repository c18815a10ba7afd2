import { VirtError, type DomainDef, type SnapshotDef } from 'virtkit';
import type { QemuContext } from './access.js';
import { compactionSteps, planCompaction } from './image-compaction.js';
import { collectRefs, loadImageGraph, type ImageRef } from './image-graph.js';
import { fileSize } from './images.js';
import type { JournalStep } from './journal.js';
import type { DomainState } from './metadata.js';
import {
  foldRedirect,
  metadataPaths,
  promoteRevertDisks,
  redirectDomain,
  redirectSnapshots,
} from './metadata-paths.js';

/**
 * The outcome of {@link deleteImageWork}: the image steps (after the commit point) and the new
 * domain definition.
 *
 * @internal
 */
export interface DeleteImageWork {
  readonly steps: readonly JournalStep[];
  readonly domain: DomainDef;
}

/**
 * Removes snapshots from the tree (`remove`) and plans what that means for the images:
 * images nothing needs any more are unlinked, unreferenced images left with one dependent
 * are folded (see `planCompaction`), and the metadata (domain sources, every snapshot's
 * `<domain>`, `<disks>`, `<revertDisks>`) is redirected to the images that took over the
 * data; a parent left without children gets its `<revertDisks>` as `<disks>`. The image graph
 * is read only for disks where a removed snapshot referenced something else than the
 * domain's current image (external snapshots, internal ones in older images).
 *
 * @throws `OPERATION_UNSUPPORTED` when a needed fold would remove an image holding internal
 * snapshots that stay; `OPERATION_FAILED` when an image cannot be inspected.
 * @internal
 */
export async function deleteImageWork(
  ctx: QemuContext,
  state: DomainState,
  doomed: readonly SnapshotDef[],
  remove: () => void,
): Promise<DeleteImageWork> {
  const list = state.snapshots;
  const disks = involvedDisks(state.def, doomed);
  if (disks.size === 0) {
    remove();
    promoteRevertDisks(list);
    return { steps: [], domain: state.def };
  }
  const before = await presentRefs(await collectRefs(state.def, list), disks, doomed);
  const nodes = await loadImageGraph(ctx, state.def, before, disks);
  const paths = metadataPaths(state.def, list);
  remove();
  promoteRevertDisks(list);
  const after = await collectRefs(state.def, list);
  const plan = planCompaction({ nodes, before, after, fold: true });
  const redirect = await foldRedirect(paths, plan.redirects, nodes);
  const domain = redirectDomain(state.def, redirect);
  redirectSnapshots(list, redirect);
  return { steps: compactionSteps(plan), domain };
}

/**
 * The references without those to missing images of removed snapshots (nothing to merge).
 *
 * @throws `OPERATION_INVALID` when an image that stays needed is missing.
 */
async function presentRefs(
  refs: readonly ImageRef[],
  disks: ReadonlySet<string>,
  doomed: readonly SnapshotDef[],
): Promise<ImageRef[]> {
  const gone = new Set(doomed.map((d) => d.name));
  const out: ImageRef[] = [];
  for (const ref of refs) {
    if (!disks.has(ref.disk) || (await fileSize(ref.path)) !== undefined) {
      out.push(ref);
      continue;
    }
    if (ref.holder.kind !== 'current' && gone.has(ref.holder.snapshot)) continue;
    const who = ref.holder.kind === 'current' ? 'the domain' : `snapshot '${ref.holder.snapshot}'`;
    throw new VirtError(
      'OPERATION_INVALID',
      `image '${ref.path}' of disk '${ref.disk}' needed by ${who} is missing; ` +
        'delete that snapshot with metadataOnly to forget it',
    );
  }
  return out;
}

/**
 * Disks where a removed snapshot references an image other than the disk's current one.
 */
function involvedDisks(def: DomainDef, doomed: readonly SnapshotDef[]): Set<string> {
  const out = new Set<string>();
  for (const snap of doomed) {
    for (const d of snap.disks ?? []) {
      const image = snap.domain?.disks.find((x) => x.target === d.name)?.source;
      const current = def.disks.find((x) => x.target === d.name)?.source;
      if (image === undefined) continue;
      if (d.snapshot === 'external' || (d.snapshot === 'internal' && image !== current)) out.add(d.name);
    }
  }
  return out;
}
