import {
  alignSnapshotDisks,
  isExternalSnapshot,
  parseSnapshotXml,
  validateSnapshotRedefinition,
  VirtError,
  type SnapshotCreateOptions,
  type SnapshotDef,
  type SnapshotState,
} from 'virtkit';
import { COMMIT_STEP, metadataSteps, type QemuContext, type Transaction } from './access.js';
import { isHostRegularFile } from './domain-config.js';
import { assertStorableName } from './layout.js';
import { captureMoments, type DomainState } from './metadata.js';

/**
 * Snapshot redefinition (libvirt's `virDomainSnapshotRedefinePrep` + replace-or-add,
 * semantics §b.7): metadata only, images are not touched. Parents must exist first; an
 * existing snapshot is replaced in place (children kept); current moves only with `current`.
 *
 * @returns the snapshot's name.
 * @throws `INVALID_ARG` (parent rules, uuid, online/offline or disk-only changes),
 * `INTERNAL_ERROR` "missing domain in snapshot", `XML_DETAIL` for a name that cannot be stored.
 * @internal
 */
export async function redefineSnapshot(
  ctx: QemuContext,
  state: DomainState,
  xml: string,
  options: SnapshotCreateOptions,
  tx: Transaction,
): Promise<string> {
  const parsed = parseSnapshotXml(xml, { redefine: true, validate: options.validate === true });
  const name = parsed.name ?? '';
  assertStorableName('snapshot', name);
  checkState(parsed.state);
  const list = state.snapshots;
  list.checkRedefine(name, parsed.parent);
  const other = list.get(name);
  let def: SnapshotDef = validateSnapshotRedefinition({ ...parsed, name }, other, {
    domainUuid: state.def.uuid,
    diskOnly: options.diskOnly === true,
  });
  if (def.domain === undefined) throw new VirtError('INTERNAL_ERROR', 'missing domain in snapshot');
  const external = def.state === 'disk-snapshot' || isExternalSnapshot(def);
  def = alignSnapshotDisks(def, def.domain, {
    defaultLocation: external ? 'external' : 'internal',
    uniformInternal: true,
    isRegularFile: isHostRegularFile,
  });
  const before = captureMoments(list);
  if (other === undefined) list.add({ ...def, name });
  else list.replace({ ...def, name });
  if (options.current === true) list.setCurrent(name);
  const actions = ctx.store.snapshotChange(state.name, before, list);
  await tx.run('snapshot-redefine', [COMMIT_STEP, ...metadataSteps(actions)]);
  return name;
}

/** The states the qemu driver accepts for a redefined snapshot. */
function checkState(state: SnapshotState | undefined): void {
  if (state === 'pmsuspended') {
    throw new VirtError(
      'OPERATION_UNSUPPORTED',
      "qemu doesn't support taking snapshots of PMSUSPENDED guests",
    );
  }
  if (state === 'blocked' || state === undefined) {
    throw new VirtError('INTERNAL_ERROR', `Invalid domain state ${state ?? 'nostate'}`);
  }
}
