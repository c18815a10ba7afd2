import type { DomainDef } from './domain-def.js';

/**
 * One `<disk>` of a `<domaincheckpoint>`.
 *
 * @public
 */
export interface CheckpointDiskDef {
  /** Target name (`vda`) or, before alignment, an absolute source path. */
  readonly name: string;
  /**
   * `bitmap` or `no`. The parser sets `bitmap` when the attribute is missing, as libvirt does;
   * `undefined` in a hand-built definition means the same.
   */
  readonly checkpoint?: 'no' | 'bitmap';
  /** Bitmap name (defaults to the checkpoint name). */
  readonly bitmap?: string;
  /** Bytes dirtied since the checkpoint; printed only with the `size` format option. */
  readonly size?: number;
}

/**
 * A parsed `<domaincheckpoint>`.
 *
 * @public
 */
export interface CheckpointDef {
  readonly name?: string;
  readonly description?: string;
  readonly parent?: string;
  /** Seconds since the epoch. */
  readonly creationTime?: number;
  readonly disks?: readonly CheckpointDiskDef[];
  readonly domain?: DomainDef;
}
