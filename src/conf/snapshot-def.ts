import type { DomainDef, SnapshotLocation } from './domain-def.js';
import type { XmlElement } from './xml/tree.js';

/**
 * Snapshot states: the domain states plus `disk-snapshot` (libvirt's
 * `virDomainSnapshotState` without `nostate`, which is never printed).
 *
 * @public
 */
export const SNAPSHOT_STATES = [
  'running',
  'blocked',
  'paused',
  'shutdown',
  'shutoff',
  'crashed',
  'pmsuspended',
  'disk-snapshot',
] as const;
/** @public */
export type SnapshotState = (typeof SNAPSHOT_STATES)[number];

/**
 * A host of a network disk source.
 *
 * @public
 */
export interface DiskSourceHost {
  readonly name?: string;
  readonly port?: string;
  readonly transport?: string;
  readonly socket?: string;
}

/**
 * A disk `<source>` in snapshot and backup XML.
 *
 * @public
 */
export interface DiskSource {
  /** `file=` (type `file`). */
  readonly file?: string;
  /** `dev=` (type `block`). */
  readonly dev?: string;
  /** `protocol=` (type `network`). */
  readonly protocol?: string;
  /** `name=` (type `network`). */
  readonly name?: string;
  /** `<host>` children (type `network`). */
  readonly hosts?: readonly DiskSourceHost[];
  /** Other children (`<seclabel>`, `<encryption>`, …), kept verbatim. */
  readonly extra?: readonly XmlElement[];
}

/**
 * One `<disk>` of a `<domainsnapshot>`.
 *
 * @public
 */
export interface SnapshotDiskDef {
  /** Target name (`vda`) or, before alignment, possibly an absolute source path. */
  readonly name: string;
  /** Location; `undefined` means "default" (not printed). */
  readonly snapshot?: SnapshotLocation;
  /** Source type of an external snapshot file; `undefined` means `file`. */
  readonly type?: 'file' | 'block' | 'network';
  /** The new image of an external snapshot. */
  readonly source?: DiskSource;
  /** `<driver type=…>`: format of the new image. */
  readonly driverType?: string;
  /** `<driver><metadata_cache><max_size>`, bytes. */
  readonly metadataCacheMaxSize?: number;
  /** `<snapshotDeleteInProgress/>`: an external delete was interrupted. */
  readonly snapshotDeleteInProgress?: boolean;
}

/**
 * The memory part of a snapshot.
 *
 * @public
 */
export interface SnapshotMemoryDef {
  /** `undefined` means "default" (not printed). */
  readonly snapshot?: SnapshotLocation;
  /** Absolute path of an external memory image. */
  readonly file?: string;
}

/**
 * A parsed `<domainsnapshot>`: what the user asked for (before alignment) or what was
 * recorded (after). Immutable; derive changed copies with spread syntax.
 *
 * @public
 */
export interface SnapshotDef {
  readonly name?: string;
  readonly description?: string;
  /** Parent snapshot name. */
  readonly parent?: string;
  /** Seconds since the epoch. */
  readonly creationTime?: number;
  /** `undefined` is libvirt's `nostate` (not printed). */
  readonly state?: SnapshotState;
  readonly memory?: SnapshotMemoryDef;
  readonly disks?: readonly SnapshotDiskDef[];
  /** Overlays created by reverting to a snapshot that has children (libvirt ≥ 9.7). */
  readonly revertDisks?: readonly SnapshotDiskDef[];
  /** The domain definition at snapshot time (what a revert restores). */
  readonly domain?: DomainDef;
  /** Persistent definition of a running domain at snapshot time. */
  readonly inactiveDomain?: DomainDef;
  /** Hypervisor save cookie, kept verbatim. */
  readonly cookie?: XmlElement;
  /** `<active>`, read only by the internal parse: `true` marks the current snapshot. */
  readonly active?: boolean;
}
