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
/**
 * A snapshot's `<state>`: the domain state when it was taken, or `disk-snapshot` for a
 * disk-only snapshot of an active domain.
 *
 * @public
 */
export type SnapshotState = (typeof SNAPSHOT_STATES)[number];

/**
 * A host of a network disk source.
 *
 * @public
 */
export interface DiskSourceHost {
  /** `<host name=…>`: host name or IP address of the storage server. */
  readonly name?: string;
  /** `<host port=…>`: port number, kept as written; `undefined` means the protocol's default. */
  readonly port?: string;
  /** `<host transport=…>`: `tcp` (libvirt's default), `unix` or `rdma`, kept as written. */
  readonly transport?: string;
  /** `<host socket=…>`: absolute path of the UNIX socket, with transport `unix`. */
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
  /** `<name>`, unique per domain; a new snapshot without one is named after its creation time in seconds. */
  readonly name?: string;
  /** `<description>`: free text for humans, never interpreted. */
  readonly description?: string;
  /** Parent snapshot name. */
  readonly parent?: string;
  /** Seconds since the epoch. */
  readonly creationTime?: number;
  /** `undefined` is libvirt's `nostate` (not printed). */
  readonly state?: SnapshotState;
  /**
   * `<memory>`: whether and where the guest memory is saved; `undefined` lets the driver
   * choose (`no` for a shut-off domain or a disk-only snapshot, else `internal`).
   */
  readonly memory?: SnapshotMemoryDef;
  /**
   * `<disks>`: per-disk requests before alignment, one entry per domain disk in domain order
   * after it; `undefined` applies the default location to every disk.
   */
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
