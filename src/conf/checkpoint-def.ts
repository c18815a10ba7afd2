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
  /** `<name>`, unique per domain; a new checkpoint without one is named after its creation time. */
  readonly name?: string;
  /** `<description>`: free text for humans, never interpreted. */
  readonly description?: string;
  /** `<parent><name>`: the previous checkpoint, set by the driver on creation and read on redefine. */
  readonly parent?: string;
  /** Seconds since the epoch. */
  readonly creationTime?: number;
  /**
   * `<disks>`: per-disk choices; `undefined` gives every writable disk with media a bitmap, and
   * after alignment every domain disk is listed in domain order.
   */
  readonly disks?: readonly CheckpointDiskDef[];
  /** `<domain>`: the domain definition when the checkpoint was taken; optional on redefine. */
  readonly domain?: DomainDef;
}
