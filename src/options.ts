import { VirtError } from './errors.js';

// Option objects replace libvirt's flag words by one rule: VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY
// becomes `{ childrenOnly: true }` on the call it belongs to. Each known-keys array below is the
// complete flag set of one libvirt entry point; an unknown key is INVALID_ARG, as an unknown bit is.

/**
 * Progress of a long operation, reported through {@link LongOperationOptions.onProgress}.
 *
 * @public
 */
export interface Progress {
  /** What is being done, e.g. `commit vda` or `create overlays`. */
  readonly phase: string;
  /** Units done so far (bytes when `unit` is `bytes`, else steps). */
  readonly completed: number;
  /** Total units, when known. */
  readonly total: number;
  /** Unit of `completed`/`total`. */
  readonly unit: 'bytes' | 'steps';
}

/**
 * Options every long-running operation accepts on top of its libvirt flags.
 *
 * @public
 */
export interface LongOperationOptions {
  /** Cancels the operation; what was done so far is rolled back and `OPERATION_ABORTED` is thrown. */
  signal?: AbortSignal;
  /**
   * Called as the operation advances: after every step (`unit: 'steps'`) and, while a step
   * copies image data (the qemu driver's `qemu-img commit`), with the bytes done so far
   * (`unit: 'bytes'`), live.
   */
  onProgress?: (progress: Progress) => void;
}

/**
 * Options of {@link Domain.createSnapshot} (`virDomainSnapshotCreateFlags`).
 *
 * @public
 */
export interface SnapshotCreateOptions extends LongOperationOptions {
  /** Restore or change metadata from a previously dumped XML instead of taking a snapshot. */
  redefine?: boolean;
  /** With `redefine`: make the redefined snapshot current. */
  current?: boolean;
  /** Take the snapshot but record no metadata. */
  noMetadata?: boolean;
  /** Leave the domain shut off afterwards. */
  halt?: boolean;
  /** Disk state only, no memory. */
  diskOnly?: boolean;
  /** External files already exist and are to be reused. */
  reuseExt?: boolean;
  /** Freeze guest file systems through the guest agent. */
  quiesce?: boolean;
  /** All disks or none. */
  atomic?: boolean;
  /** Do not pause the guest while saving memory. */
  live?: boolean;
  /** Validate the XML against the schema. */
  validate?: boolean;
}

/**
 * Options of {@link DomainSnapshot.getXml} (`virDomainSnapshotXMLFlags`).
 *
 * @public
 */
export interface SnapshotXmlOptions {
  /** Include security-sensitive data; refused on read-only connections. */
  secure?: boolean;
}

/**
 * Snapshot list filters shared by {@link Domain.listSnapshots} and
 * {@link DomainSnapshot.listChildren} (`virDomainSnapshotListFlags`).
 *
 * @public
 */
export interface SnapshotFilterOptions {
  /** Parents before children. */
  topological?: boolean;
  /** Only snapshots without children. */
  leaves?: boolean;
  /** Only snapshots with children. */
  noLeaves?: boolean;
  /** Only snapshots with metadata. */
  metadata?: boolean;
  /** Only snapshots without metadata. */
  noMetadata?: boolean;
  /** Only snapshots of a shut-off domain. */
  inactive?: boolean;
  /** Only snapshots with memory state (state neither `shutoff` nor `disk-snapshot`). */
  active?: boolean;
  /** Only disk-only snapshots of a running domain. */
  diskOnly?: boolean;
  /** Only internal snapshots. */
  internal?: boolean;
  /** Only external snapshots. */
  external?: boolean;
}

/**
 * Options of {@link Domain.listSnapshots}.
 *
 * @public
 */
export interface SnapshotListOptions extends SnapshotFilterOptions {
  /** Only snapshots without a parent. */
  roots?: boolean;
}

/**
 * Options of {@link DomainSnapshot.listChildren}.
 *
 * @public
 */
export interface SnapshotChildrenOptions extends SnapshotFilterOptions {
  /** All descendants instead of direct children. */
  descendants?: boolean;
}

/**
 * Options of {@link DomainSnapshot.revert} (`virDomainSnapshotRevertFlags`).
 *
 * @public
 */
export interface SnapshotRevertOptions extends LongOperationOptions {
  /** Run the domain after reverting. */
  running?: boolean;
  /** Leave the domain paused after reverting. */
  paused?: boolean;
  /** Allow risky reverts. */
  force?: boolean;
  /** Recreate NVRAM from its template. */
  resetNvram?: boolean;
}

/**
 * Options of {@link DomainSnapshot.delete} and {@link DomainCheckpoint.delete}.
 *
 * @public
 */
export interface MomentDeleteOptions extends LongOperationOptions {
  /** Delete the descendants as well. */
  children?: boolean;
  /** Only forget the metadata; leave images alone. */
  metadataOnly?: boolean;
  /** Delete only the descendants, keep this one. */
  childrenOnly?: boolean;
}

/**
 * Options of {@link Domain.createCheckpoint} (`virDomainCheckpointCreateFlags`).
 *
 * @public
 */
export interface CheckpointCreateOptions extends LongOperationOptions {
  /** Restore metadata from a previously dumped XML. */
  redefine?: boolean;
  /** Freeze guest file systems through the guest agent. */
  quiesce?: boolean;
  /** With `redefine`: check that the bitmaps exist and are consistent. */
  redefineValidate?: boolean;
}

/**
 * Options of {@link DomainCheckpoint.getXml} (`virDomainCheckpointXMLFlags`).
 *
 * @public
 */
export interface CheckpointXmlOptions {
  /** Include security-sensitive data; refused on read-only connections. */
  secure?: boolean;
  /** Omit the embedded `<domain>`. */
  noDomain?: boolean;
  /** Add each disk's dirty size. */
  size?: boolean;
}

/**
 * Checkpoint list filters (`virDomainCheckpointListFlags`).
 *
 * @public
 */
export interface CheckpointFilterOptions {
  /** Parents before children. */
  topological?: boolean;
  /** Only checkpoints without children. */
  leaves?: boolean;
  /** Only checkpoints with children. */
  noLeaves?: boolean;
}

/**
 * Options of {@link Domain.listCheckpoints}.
 *
 * @public
 */
export interface CheckpointListOptions extends CheckpointFilterOptions {
  /** Only checkpoints without a parent. */
  roots?: boolean;
}

/**
 * Options of {@link DomainCheckpoint.listChildren}.
 *
 * @public
 */
export interface CheckpointChildrenOptions extends CheckpointFilterOptions {
  /** All descendants instead of direct children. */
  descendants?: boolean;
}

/**
 * Options of {@link Domain.getXml} (`virDomainXMLFlags`).
 *
 * @public
 */
export interface DomainXmlOptions {
  /** Include security-sensitive data; refused on read-only connections. */
  secure?: boolean;
  /** The persistent definition instead of the live one. */
  inactive?: boolean;
  /** Update guest CPU requirements from the host. */
  updateCpu?: boolean;
  /** Format for migration. */
  migratable?: boolean;
}

/**
 * Options of {@link Domain.listDisks} (`virsh domblklist`).
 *
 * @public
 */
export interface ListDisksOptions {
  /** The disks of the persistent definition instead of the live one (`--inactive`). */
  inactive?: boolean;
}

/**
 * Options of {@link Connection.defineDomain} (`virDomainDefineFlags`).
 *
 * @public
 */
export interface DomainDefineOptions {
  /** Validate the XML against the schema. */
  validate?: boolean;
}

/**
 * Options of {@link Domain.start} (`virDomainCreateFlags`).
 *
 * @public
 */
export interface DomainStartOptions {
  /** Start with CPUs paused. */
  paused?: boolean;
  /** Destroy the domain when the connection closes. */
  autodestroy?: boolean;
  /** Avoid the file system cache. */
  bypassCache?: boolean;
  /** Boot, discarding any managed save image. */
  forceBoot?: boolean;
}

/**
 * Options of {@link Connection.createDomain} (`virDomainCreateFlags` for `virDomainCreateXML`).
 *
 * @public
 */
export interface DomainCreateOptions extends DomainStartOptions {
  /** Validate the XML against the schema. */
  validate?: boolean;
}

/**
 * Options of {@link Domain.destroy} (`virDomainDestroyFlagsValues`).
 *
 * @public
 */
export interface DomainDestroyOptions {
  /** Terminate gracefully only (no SIGKILL). */
  graceful?: boolean;
}

/**
 * Options of {@link Domain.shutdown}. libvirt's `virDomainShutdown` returns once the ACPI power
 * button is pressed; `waitMs` is virtkit's addition (libvirt has no such flag).
 *
 * @public
 */
export interface DomainShutdownOptions {
  /**
   * Wait up to this many milliseconds for the domain to be shut off; if it is still active
   * then, `OPERATION_TIMEOUT` is thrown and the domain is left running. Without it, shutdown
   * returns as soon as the request is sent.
   */
  waitMs?: number;
  /** Stops the wait (`OPERATION_ABORTED`); the power-button request already sent stays sent. */
  signal?: AbortSignal;
}

/**
 * Options of {@link Domain.qemuMonitorCommand} (`virDomainQemuMonitorCommandFlags`).
 *
 * @public
 */
export interface QemuMonitorCommandOptions {
  /** The command is an HMP line (`info status`), not QMP JSON (`VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP`). */
  hmp?: boolean;
}

/**
 * Options of {@link Domain.undefine} (`virDomainUndefineFlagsValues`).
 *
 * @public
 */
export interface DomainUndefineOptions {
  /** Also remove a managed save image. */
  managedSave?: boolean;
  /** Also discard snapshot metadata (images are left alone). */
  snapshotsMetadata?: boolean;
  /** Also remove NVRAM. */
  nvram?: boolean;
  /** Keep NVRAM. */
  keepNvram?: boolean;
  /** Also discard checkpoint metadata (bitmaps are left alone). */
  checkpointsMetadata?: boolean;
  /** Also remove TPM state. */
  tpm?: boolean;
  /** Keep TPM state. */
  keepTpm?: boolean;
}

/**
 * Filters of {@link Connection.listDomains} (`virConnectListAllDomainsFlags`). Within each
 * group (active/inactive, persistent/transient, state, snapshot, checkpoint) no key or every
 * key means "no filter".
 *
 * @public
 */
export interface ListDomainsOptions {
  /** `VIR_CONNECT_LIST_DOMAINS_ACTIVE`: domains that are running or paused. */
  active?: boolean;
  /** `VIR_CONNECT_LIST_DOMAINS_INACTIVE`: defined domains that are neither running nor paused. */
  inactive?: boolean;
  /** `VIR_CONNECT_LIST_DOMAINS_PERSISTENT`: domains with a persistent definition. */
  persistent?: boolean;
  /** `VIR_CONNECT_LIST_DOMAINS_TRANSIENT`: domains that vanish when they stop. */
  transient?: boolean;
  /** `VIR_CONNECT_LIST_DOMAINS_RUNNING`: domains in state `running`. */
  running?: boolean;
  /** `VIR_CONNECT_LIST_DOMAINS_PAUSED`: domains in state `paused`. */
  paused?: boolean;
  /** `VIR_CONNECT_LIST_DOMAINS_SHUTOFF`: domains in state `shutoff`. */
  shutoff?: boolean;
  /** `VIR_CONNECT_LIST_DOMAINS_OTHER`: domains in any state but `running`, `paused` and `shutoff`. */
  other?: boolean;
  /** `VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT`: domains with at least one snapshot. */
  hasSnapshot?: boolean;
  /** `VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT`: domains without snapshots. */
  noSnapshot?: boolean;
  /** `VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT`: domains with at least one checkpoint. */
  hasCheckpoint?: boolean;
  /** `VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT`: domains without checkpoints. */
  noCheckpoint?: boolean;
}

/**
 * Options of {@link Domain.backupBegin} (`virDomainBackupBeginFlags`).
 *
 * @public
 */
export interface BackupBeginOptions extends LongOperationOptions {
  /** Target and scratch files were created by the caller; virtkit neither creates nor deletes them. */
  reuseExternal?: boolean;
  /** A guest shutdown during the backup pauses the domain instead of stopping it. */
  preserveShutdownDomain?: boolean;
}

/**
 * Options of {@link Domain.getJobInfo} (`virDomainGetJobStatsFlags`).
 *
 * @public
 */
export interface JobInfoOptions {
  /** Statistics of the most recently completed job instead of the running one. */
  completed?: boolean;
  /** With `completed`: keep the completed job's statistics for later calls instead of discarding them. */
  keepCompleted?: boolean;
}

const LONG = ['signal', 'onProgress'] as const;

/**
 * The complete option set of each public entry point: its libvirt flags plus, for long
 * operations, `signal` and `onProgress`.
 *
 * @public
 */
export const KNOWN_OPTIONS = {
  createSnapshot: [
    'redefine',
    'current',
    'noMetadata',
    'halt',
    'diskOnly',
    'reuseExt',
    'quiesce',
    'atomic',
    'live',
    'validate',
    ...LONG,
  ],
  snapshotGetXml: ['secure'],
  listSnapshots: [
    'roots',
    'topological',
    'leaves',
    'noLeaves',
    'metadata',
    'noMetadata',
    'inactive',
    'active',
    'diskOnly',
    'internal',
    'external',
  ],
  snapshotListChildren: [
    'descendants',
    'topological',
    'leaves',
    'noLeaves',
    'metadata',
    'noMetadata',
    'inactive',
    'active',
    'diskOnly',
    'internal',
    'external',
  ],
  revertSnapshot: ['running', 'paused', 'force', 'resetNvram', ...LONG],
  deleteSnapshot: ['children', 'metadataOnly', 'childrenOnly', ...LONG],
  createCheckpoint: ['redefine', 'quiesce', 'redefineValidate', ...LONG],
  checkpointGetXml: ['secure', 'noDomain', 'size'],
  listCheckpoints: ['roots', 'topological', 'leaves', 'noLeaves'],
  checkpointListChildren: ['descendants', 'topological', 'leaves', 'noLeaves'],
  deleteCheckpoint: ['children', 'metadataOnly', 'childrenOnly', ...LONG],
  domainGetXml: ['secure', 'inactive', 'updateCpu', 'migratable'],
  listDisks: ['inactive'],
  defineDomain: ['validate'],
  createDomain: ['paused', 'autodestroy', 'bypassCache', 'forceBoot', 'validate'],
  startDomain: ['paused', 'autodestroy', 'bypassCache', 'forceBoot'],
  destroyDomain: ['graceful'],
  shutdownDomain: ['waitMs', 'signal'],
  qemuMonitorCommand: ['hmp'],
  undefineDomain: [
    'managedSave',
    'snapshotsMetadata',
    'nvram',
    'keepNvram',
    'checkpointsMetadata',
    'tpm',
    'keepTpm',
  ],
  listDomains: [
    'active',
    'inactive',
    'persistent',
    'transient',
    'running',
    'paused',
    'shutoff',
    'other',
    'hasSnapshot',
    'noSnapshot',
    'hasCheckpoint',
    'noCheckpoint',
  ],
  backupBegin: ['reuseExternal', 'preserveShutdownDomain', ...LONG],
  getJobInfo: ['completed', 'keepCompleted'],
} as const satisfies Record<string, readonly string[]>;

/**
 * A public entry point with an option set.
 *
 * @public
 */
export type OptionsFunction = keyof typeof KNOWN_OPTIONS;

/** Options whose value is a duration in milliseconds (a finite number >= 0), not a flag. */
const DURATION_OPTIONS: readonly string[] = ['waitMs'];

/**
 * Checks an options object the way libvirt's `virCheckFlags` checks a flag word: every key
 * must be one of `allowed`, flags must be booleans, `signal` an AbortSignal, `onProgress`
 * a function and a duration (`waitMs`) a finite number, at least 0. Drivers call it with the
 * subset they implement.
 *
 * @throws `INVALID_ARG` "unsupported flags (…) in function …" for an unknown key, or
 * "invalid value for option '…'" for a value of the wrong type.
 *
 * @public
 */
export function assertOptions(options: object | undefined, allowed: readonly string[], fn: string): void {
  if (options === undefined || options === null) return;
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new VirtError('INVALID_ARG', `options of ${fn} must be an object`);
  }
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(options)) {
    if (!allowed.includes(key)) {
      if (value !== undefined && value !== false) unknown.push(key);
      continue;
    }
    checkOptionValue(key, value, fn);
  }
  if (unknown.length > 0) {
    throw new VirtError('INVALID_ARG', `unsupported flags (${unknown.join(', ')}) in function ${fn}`);
  }
}

/**
 * Refuses two options given together (libvirt `VIR_EXCLUSIVE_FLAGS_RET`).
 *
 * @throws `INVALID_ARG` "Flags 'a' and 'b' are mutually exclusive".
 *
 * @public
 */
export function assertExclusive(options: object | undefined, a: string, b: string): void {
  const o = (options ?? {}) as Record<string, unknown>;
  if (o[a] === true && o[b] === true) {
    throw new VirtError('INVALID_ARG', `Flags '${a}' and '${b}' are mutually exclusive`);
  }
}

/**
 * Refuses an option given without the option it needs (libvirt `VIR_REQUIRE_FLAG_RET`).
 *
 * @throws `INVALID_ARG` "Flag 'b' is required by flag 'a'".
 *
 * @public
 */
export function assertRequires(options: object | undefined, flag: string, required: string): void {
  const o = (options ?? {}) as Record<string, unknown>;
  if (o[flag] === true && o[required] !== true) {
    throw new VirtError('INVALID_ARG', `Flag '${required}' is required by flag '${flag}'`);
  }
}

function checkOptionValue(key: string, value: unknown, fn: string): void {
  if (value === undefined) return;
  const ok =
    key === 'signal'
      ? isAbortSignal(value)
      : key === 'onProgress'
        ? typeof value === 'function'
        : DURATION_OPTIONS.includes(key)
          ? typeof value === 'number' && Number.isFinite(value) && value >= 0
          : typeof value === 'boolean';
  if (!ok) {
    throw new VirtError('INVALID_ARG', `invalid value for option '${key}' in function ${fn}`);
  }
}

function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function'
  );
}
