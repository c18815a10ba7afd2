import type { DiskSource } from './snapshot-def.js';

/**
 * The pull-mode NBD server of a `<domainbackup>`.
 *
 * @public
 */
export interface BackupServerDef {
  readonly transport?: 'tcp' | 'unix' | 'fd';
  readonly tls?: 'yes' | 'no';
  readonly name?: string;
  readonly port?: string;
  readonly socket?: string;
  readonly fdgroup?: string;
}

/**
 * Per-disk job state (internal/status XML only).
 *
 * @public
 */
export type BackupDiskState = 'running' | 'complete' | 'failed' | 'cancelling' | 'cancelled';

/**
 * One `<disk>` of a `<domainbackup>`.
 *
 * @public
 */
export interface BackupDiskDef {
  readonly name: string;
  readonly backup?: 'yes' | 'no';
  readonly state?: BackupDiskState;
  /** Type of the target or scratch image; `undefined` means `file`. */
  readonly type?: 'file' | 'block';
  readonly backupmode?: 'full' | 'incremental';
  readonly incremental?: string;
  readonly exportname?: string;
  readonly exportbitmap?: string;
  readonly index?: number;
  /** `<driver type=…>` of the target or scratch image. */
  readonly driverType?: string;
  /** `<target>` (push) or `<scratch>` (pull): `file`/`dev` plus verbatim children. */
  readonly store?: DiskSource;
}

/**
 * A parsed `<domainbackup>`.
 *
 * @public
 */
export interface BackupDef {
  readonly mode?: 'push' | 'pull';
  /** Checkpoint name that all incremental disks start from. */
  readonly incremental?: string;
  readonly server?: BackupServerDef;
  readonly disks?: readonly BackupDiskDef[];
  /** `<privateData>` aliases (internal/status XML only). */
  readonly privateData?: { readonly tlsKeyAlias?: string; readonly tlsObjAlias?: string };
}
