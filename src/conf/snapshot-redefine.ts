import { VirtError } from '../errors.js';
import type { SnapshotDef, SnapshotState } from './snapshot-def.js';

/**
 * What {@link validateSnapshotRedefinition} checks a redefinition against.
 *
 * @public
 */
export interface SnapshotRedefineContext {
  /** uuid of the domain the snapshot belongs to; an embedded `<domain>` must carry it. */
  readonly domainUuid: string;
  /** The `diskOnly` create option (`VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY`) was given. */
  readonly diskOnly?: boolean;
}

/**
 * libvirt's checks of a snapshot redefinition (`virDomainSnapshotRedefinePrep`, semantics
 * §b.7 step 4), run after {@link MomentList.checkRedefine}: a `diskOnly` redefinition must
 * have state `disk-snapshot`; an embedded domain must be this domain; replacing an existing
 * snapshot cannot switch between online (running, paused) and offline, nor between disk-only
 * and full system. A replacement without `<domain>` keeps the existing one's.
 *
 * @param def - The parsed redefinition.
 * @param existing - The snapshot of that name being replaced, if any.
 * @returns `def`, with the existing snapshot's `<domain>` when `def` has none.
 * @throws `INVALID_ARG` with libvirt's message for each refused change.
 *
 * @public
 */
export function validateSnapshotRedefinition(
  def: SnapshotDef & { readonly name: string },
  existing: SnapshotDef | undefined,
  context: SnapshotRedefineContext,
): SnapshotDef & { readonly name: string } {
  const { name } = def;
  if (context.diskOnly === true && def.state !== 'disk-snapshot') {
    throw new VirtError('INVALID_ARG', `disk-only flag for snapshot ${name} requires disk-snapshot state`);
  }
  if (def.domain !== undefined && def.domain.uuid !== context.domainUuid) {
    throw new VirtError('INVALID_ARG', `definition for snapshot ${name} must use uuid ${context.domainUuid}`);
  }
  if (existing === undefined) return def;
  if (isOnline(existing.state) !== isOnline(def.state)) {
    throw new VirtError(
      'INVALID_ARG',
      `cannot change between online and offline snapshot state in snapshot ${name}`,
    );
  }
  if ((existing.state === 'disk-snapshot') !== (def.state === 'disk-snapshot')) {
    throw new VirtError('INVALID_ARG', `cannot change between disk only and full system in snapshot ${name}`);
  }
  return def.domain === undefined && existing.domain !== undefined
    ? { ...def, domain: existing.domain }
    : def;
}

function isOnline(state: SnapshotState | undefined): boolean {
  return state === 'running' || state === 'paused';
}
