import type { XmlElement } from './xml/tree.js';

/**
 * The disk `snapshot=` / snapshot-disk location values of libvirt.
 *
 * @public
 */
export const SNAPSHOT_LOCATIONS = ['no', 'internal', 'external', 'manual'] as const;
/**
 * Where a snapshot keeps a disk's or the memory's state: `no` (left out), `internal` (inside
 * the qcow2 image), `external` (a new overlay or memory file) or `manual` (taken by the
 * application while the guest is paused; disks only).
 *
 * @public
 */
export type SnapshotLocation = (typeof SNAPSHOT_LOCATIONS)[number];

/**
 * One `<disk>` of a domain, as far as snapshots, checkpoints and backups need it.
 *
 * @public
 */
export interface DomainDiskDef {
  /** `<target dev=…>`, e.g. `vda`: the name snapshots and checkpoints use. */
  readonly target: string;
  /** `<target bus=…>`. */
  readonly bus: string | undefined;
  /** `<disk type=…>`: `file`, `block`, `network`, `volume`, `dir`. */
  readonly type: string;
  /** `<disk device=…>`: `disk` (default), `cdrom`, `floppy`, `lun`. */
  readonly device: string;
  /** `<driver type=…>`: image format, e.g. `qcow2` or `raw`. */
  readonly format: string | undefined;
  /** Source path (`file=` or `dev=`); `undefined` for an empty drive or a network disk. */
  readonly source: string | undefined;
  /**
   * `<disk snapshot=…>`, the disk's default snapshot location; `no` when absent on a read-only
   * or vhost-user disk (libvirt's disk post-parse).
   */
  readonly snapshot: SnapshotLocation | undefined;
  /** `<readonly/>` present. */
  readonly readonly: boolean;
}

/**
 * The subset of a libvirt domain definition that snapshots need. The complete `<domain>`
 * element is kept in {@link DomainDef.element}, so formatting gives it back unchanged.
 *
 * @public
 */
export interface DomainDef {
  /** `<domain type=…>`: `qemu`, `kvm`, `test`, … */
  readonly type: string;
  /** `<name>`. */
  readonly name: string;
  /** `<uuid>`, lower case. */
  readonly uuid: string;
  /**
   * Disks in document order. Snapshots, checkpoints and backups list them in libvirt's order
   * instead (grouped by bus, by drive index within a bus), which the alignment functions
   * derive.
   */
  readonly disks: readonly DomainDiskDef[];
  /** The whole `<domain>` (or `<inactiveDomain>`) element as parsed. */
  readonly element: XmlElement;
}
