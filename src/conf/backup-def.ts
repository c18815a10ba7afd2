import type { DiskSource } from './snapshot-def.js';

/**
 * The pull-mode NBD server of a `<domainbackup>`.
 *
 * @public
 */
export interface BackupServerDef {
  /**
   * `<server transport=…>`: how clients reach the NBD server.
   *
   * @defaultValue `'tcp'`
   */
  readonly transport?: 'tcp' | 'unix' | 'fd';
  /** `<server tls=…>`: `yes` serves the exports over TLS with the host's backup certificates. */
  readonly tls?: 'yes' | 'no';
  /** `<server name=…>`: host name to listen on (transport `tcp`); drivers default it to `localhost`. */
  readonly name?: string;
  /**
   * `<server port=…>`: TCP port as decimal text; `undefined` or `0` means none, which drivers refuse
   * for transport `tcp` (`OPERATION_UNSUPPORTED`).
   */
  readonly port?: string;
  /** `<server socket=…>`: absolute path of the UNIX socket to listen on (transport `unix`). */
  readonly socket?: string;
  /**
   * `<server fdgroup=…>`: name under which the application passed the listening file descriptors
   * (transport `fd`, libvirt 11).
   */
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
  /** `<disk name=…>`: the domain disk's target name, e.g. `vda`. */
  readonly name: string;
  /**
   * `<disk backup=…>`: whether this disk takes part in the backup; with `no` every other field
   * is ignored.
   *
   * @defaultValue `'yes'`
   */
  readonly backup?: 'yes' | 'no';
  /** `<disk state=…>`: this disk's block-job state; parsed and printed only in the internal format. */
  readonly state?: BackupDiskState;
  /** Type of the target or scratch image; `undefined` means `file`. */
  readonly type?: 'file' | 'block';
  /**
   * `<disk backupmode=…>`: copy the whole disk or only what changed since a checkpoint;
   * alignment defaults it to `incremental` when a checkpoint applies, else `full`.
   */
  readonly backupmode?: 'full' | 'incremental';
  /** `<disk incremental=…>`: checkpoint this disk starts from, overriding {@link BackupDef.incremental}. */
  readonly incremental?: string;
  /** `<disk exportname=…>`: NBD export name in pull mode; drivers default it to the disk's target name. */
  readonly exportname?: string;
  /**
   * `<disk exportbitmap=…>`: dirty bitmap exposed on an incremental pull export; drivers default it
   * to `backup-<target>`.
   */
  readonly exportbitmap?: string;
  /** `<disk index=…>`: storage-source index of the target or scratch image; internal format only. */
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
  /**
   * `<domainbackup mode=…>`: `push` copies the disks to target files, `pull` exposes them on an
   * NBD server until the job is aborted.
   *
   * @defaultValue `'push'`
   */
  readonly mode?: 'push' | 'pull';
  /** Checkpoint name that all incremental disks start from. */
  readonly incremental?: string;
  /** `<server>`: the NBD server of a pull backup; not allowed in push mode. */
  readonly server?: BackupServerDef;
  /**
   * `<disks>`: per-disk choices; `undefined` backs up every writable disk with media, and after
   * alignment every domain disk is listed in domain order.
   */
  readonly disks?: readonly BackupDiskDef[];
  /** `<privateData>` aliases (internal/status XML only). */
  readonly privateData?: { readonly tlsKeyAlias?: string; readonly tlsObjAlias?: string };
}
