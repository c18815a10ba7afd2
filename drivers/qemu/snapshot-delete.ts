import {
  assertOptions,
  KNOWN_OPTIONS,
  momentRemoveMode,
  VirtError,
  type DomainIdentity,
  type MomentDeleteOptions,
  type MomentRemoveMode,
  type SnapshotDef,
} from 'virtkit';
import { COMMIT_STEP, metadataSteps, type DomainAccess, type QemuContext } from './access.js';
import { deleteImageWork } from './delete-image-work.js';
import { assertWritable, diskImageInfos, internalSnapshotImages } from './images.js';
import type { JournalStep } from './journal.js';
import { captureMoments, type DomainState } from './metadata.js';

/**
 * The moments a delete removes, descendants first (parents-first order reversed), then the
 * target itself unless `childrenOnly`.
 *
 * @internal
 */
export function doomedMoments(
  list: { list(from: string, flags: { descendants: true; topological: true }): string[] },
  name: string,
  mode: MomentRemoveMode,
): string[] {
  const descendants =
    mode === 'self' ? [] : list.list(name, { descendants: true, topological: true }).reverse();
  return mode === 'childrenOnly' ? descendants : [...descendants, name];
}

/**
 * `virDomainSnapshotDelete` for a shut-off domain, internal and external snapshots alike,
 * including what libvirt refuses (non-leaf external snapshots, several children, outside the
 * active chain, `children`/`childrenOnly` over external subtrees). The tree follows libvirt
 * (semantics §b.6). After the commit point the metadata is written, internal snapshots are
 * removed from every image with `qemu-img snapshot -d`, and the images are compacted (see
 * `deleteImageWork`): every remaining snapshot and the current state read the same bytes as
 * before, and no image nothing needs remains. Everything after the commit point is finished
 * by recovery after a crash; `signal` is honoured only before it. `metadataOnly` leaves the
 * images alone.
 *
 * @throws `OPERATION_INVALID` when an image lacks an internal snapshot or is read-only;
 * `OPERATION_UNSUPPORTED` when a merge would remove an image holding internal snapshots that
 * stay; `OPERATION_ABORTED` when `signal` fired before the commit point.
 * @internal
 */
export async function deleteSnapshot(
  ctx: QemuContext,
  access: DomainAccess,
  domain: DomainIdentity,
  name: string,
  options: MomentDeleteOptions,
): Promise<void> {
  assertOptions(options, KNOWN_OPTIONS.deleteSnapshot, 'snapshot.delete');
  await access.write(domain, 'snapshot-delete', options, async (state, tx) => {
    const list = state.snapshots;
    list.require(name);
    const mode = momentRemoveMode(options);
    const doomed = doomedMoments(list, name, mode).map((n) => list.require(n));
    const before = captureMoments(list);
    const remove = (): void => void list.remove(name, mode);
    if (options.metadataOnly === true) {
      remove();
      const metadata = ctx.store.snapshotChange(state.name, before, list);
      await tx.run('snapshot-delete', [COMMIT_STEP, ...metadataSteps(metadata)]);
      return;
    }
    const internal = await internalSteps(ctx, state, doomed);
    const work = await deleteImageWork(ctx, state, doomed, remove);
    const domainChanged = work.domain !== state.def;
    state.def = work.domain;
    const metadata = metadataSteps(
      ...(domainChanged ? [ctx.store.domainChange(work.domain)] : []),
      ctx.store.snapshotChange(state.name, before, list),
    );
    await tx.run('snapshot-delete', [COMMIT_STEP, ...metadata, ...internal, ...work.steps]);
  });
}

/** `qemu-img snapshot -d` for every internal snapshot that goes, after checking every image. */
async function internalSteps(
  ctx: QemuContext,
  state: DomainState,
  doomed: readonly SnapshotDef[],
): Promise<JournalStep[]> {
  const targets = doomed.flatMap((def) =>
    internalSnapshotImages(def, state.def).map((image) => ({ name: def.name ?? '', image })),
  );
  const infos = await diskImageInfos(
    ctx,
    targets.map((t) => t.image),
  );
  const steps: JournalStep[] = [];
  for (const [k, { name, image }] of targets.entries()) {
    const what = `disk '${image.disk.target}'`;
    await assertWritable(image.path, what);
    const count = infos[k]!.snapshots.filter((s) => s.name === name).length;
    if (count !== 1) {
      const problem = count === 0 ? 'does not contain' : 'contains more than one';
      throw new VirtError(
        'OPERATION_INVALID',
        `image '${image.path}' of ${what} ${problem} internal snapshot '${name}'; delete with metadataOnly to forget it`,
      );
    }
    steps.push({
      name: `delete ${name} ${image.disk.target}`,
      action: { kind: 'snapshot-delete', image: image.path, name },
    });
  }
  return steps;
}
