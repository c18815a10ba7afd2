import type { MomentList, MomentListFlags } from './moment-list.js';
import type { SnapshotDef } from './snapshot-def.js';

/**
 * The snapshot-only list filters (`virDomainSnapshotListFlags` status and location
 * groups). Within a group, no key or every key means "no filtering on that group".
 *
 * @public
 */
export interface SnapshotListFilter {
  /** Status group: state `shutoff`. */
  inactive?: boolean;
  /** Status group: any state other than `shutoff` and `disk-snapshot` (has memory). */
  active?: boolean;
  /** Status group: state `disk-snapshot`. */
  diskOnly?: boolean;
  /** Location group: not external. */
  internal?: boolean;
  /** Location group: external memory or any external disk. */
  external?: boolean;
}

/**
 * Everything a snapshot listing accepts: the moment flags plus the snapshot filters.
 * `domain.listSnapshots()` and `snapshot.listChildren()` options both fit.
 *
 * @public
 */
export type SnapshotListOptionsLike = MomentListFlags & SnapshotListFilter;

/**
 * Whether a snapshot is external: external memory or at least one disk with
 * `snapshot='external'` (libvirt's `virDomainSnapshotDefIsExternal`).
 *
 * @public
 */
export function isExternalSnapshot(def: SnapshotDef): boolean {
  return def.memory?.snapshot === 'external' || (def.disks ?? []).some((d) => d.snapshot === 'external');
}

/**
 * Builds the per-snapshot test for a status/location filter, or `undefined` when it
 * filters nothing. Paused, shut-down, crashed (and state-less) snapshots count as active.
 *
 * @public
 */
export function snapshotFilter(filter: SnapshotListFilter): ((def: SnapshotDef) => boolean) | undefined {
  const status = statusTest(filter);
  const location = locationTest(filter);
  if (status === undefined) return location;
  if (location === undefined) return status;
  return (def) => status(def) && location(def);
}

/**
 * Lists snapshot names of a domain (`from === null`) or below a snapshot, applying the
 * moment flags and the snapshot filters (libvirt's `virDomainSnapshotObjListGetNames`).
 *
 * @throws `NO_DOMAIN_SNAPSHOT` when `from` does not exist.
 *
 * @public
 */
export function listSnapshots(
  list: MomentList<SnapshotDef>,
  from: string | null,
  options: SnapshotListOptionsLike = {},
): string[] {
  return list.list(from, options, snapshotFilter(options));
}

function statusTest(filter: SnapshotListFilter): ((def: SnapshotDef) => boolean) | undefined {
  const inactive = filter.inactive === true;
  const active = filter.active === true;
  const diskOnly = filter.diskOnly === true;
  if (inactive === active && active === diskOnly) return undefined;
  return (def) => {
    switch (def.state) {
      case 'shutoff':
        return inactive;
      case 'disk-snapshot':
        return diskOnly;
      default:
        return active;
    }
  };
}

function locationTest(filter: SnapshotListFilter): ((def: SnapshotDef) => boolean) | undefined {
  const internal = filter.internal === true;
  const external = filter.external === true;
  if (internal === external) return undefined;
  return external ? isExternalSnapshot : (def) => !isExternalSnapshot(def);
}
