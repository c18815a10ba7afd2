import {
  assertOptions,
  isExternalSnapshot,
  KNOWN_OPTIONS,
  VirtError,
  type DomainIdentity,
  type MomentDeleteOptions,
  type SnapshotDef,
} from 'virtkit';
import { COMMIT_STEP, metadataSteps, type DomainAccess, type QemuContext } from './access.js';
import { assertWritable, imageInfos, internalSnapshotImages } from './images.js';
import type { JournalStep } from './journal.js';
import { captureMoments, type DomainState } from './metadata.js';

/**
 * How a delete treats the snapshot's descendants.
 *
 * @internal
 */
export type RemoveMode = 'self' | 'children' | 'childrenOnly';

/**
 * The removal mode the delete options ask for.
 *
 * @internal
 */
export function removeMode(options: MomentDeleteOptions): RemoveMode {
  if (options.children === true) return 'children';
  if (options.childrenOnly === true) return 'childrenOnly';
  return 'self';
}

/**
 * The moments a delete removes, descendants first (parents-first order reversed), then the
 * target itself unless `childrenOnly`.
 *
 * @internal
 */
export function doomedMoments(
  list: { list(from: string, flags: { descendants: true; topological: true }): string[] },
  name: string,
  mode: RemoveMode,
): string[] {
  const descendants =
    mode === 'self' ? [] : list.list(name, { descendants: true, topological: true }).reverse();
  return mode === 'childrenOnly' ? descendants : [...descendants, name];
}

/**
 * `virDomainSnapshotDelete` for a shut-off domain. The tree follows libvirt (semantics §b.6);
 * internal snapshots are removed from every image with `qemu-img snapshot -d` after the
 * commit point (finished by recovery after a crash), once every image was checked to hold
 * the snapshot and to be writable; `metadataOnly` leaves the images alone.
 *
 * @throws `OPERATION_UNSUPPORTED` for external snapshots without `metadataOnly` (not
 * implemented yet), `OPERATION_INVALID` when an image lacks the snapshot or is read-only.
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
    const mode = removeMode(options);
    const doomed = doomedMoments(list, name, mode).map((n) => list.require(n));
    const cleanup = options.metadataOnly === true ? [] : await imageSteps(ctx, state, doomed);
    const before = captureMoments(list);
    list.remove(name, mode);
    const metadata = ctx.store.snapshotChange(state.name, before, list);
    await tx.run('snapshot-delete', [COMMIT_STEP, ...metadataSteps(metadata), ...cleanup]);
  });
}

/** `qemu-img snapshot -d` for every internal snapshot that goes, after checking every image. */
async function imageSteps(
  ctx: QemuContext,
  state: DomainState,
  doomed: readonly SnapshotDef[],
): Promise<JournalStep[]> {
  const external = doomed.filter(isExternalSnapshot).map((d) => `'${d.name ?? ''}'`);
  if (external.length > 0) {
    throw new VirtError(
      'OPERATION_UNSUPPORTED',
      `deletion of external snapshot ${external.join(', ')} is not implemented yet (use metadataOnly to forget it)`,
    );
  }
  const targets = doomed.flatMap((def) =>
    internalSnapshotImages(def, state.def).map((image) => ({ name: def.name ?? '', image })),
  );
  const infos = await imageInfos(
    ctx,
    targets.map((t) => t.image.path),
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
