// THE DRIVER CONTRACT. The core validates every argument once (types, option keys, exclusive
// and required options, read-only) and then calls these methods; a driver may assume valid
// input, checks only the options it does not implement (assertOptions with its own subset),
// and reports failures by throwing VirtError with libvirt's code.
import type { DomainEventDetail, DomainEventType, DomainStateInfo, JobInfo } from '../events.js';
import type {
  BackupBeginOptions,
  CheckpointChildrenOptions,
  CheckpointCreateOptions,
  CheckpointListOptions,
  CheckpointXmlOptions,
  DomainCreateOptions,
  DomainDefineOptions,
  DomainDestroyOptions,
  DomainShutdownOptions,
  DomainStartOptions,
  DomainUndefineOptions,
  DomainXmlOptions,
  JobInfoOptions,
  QemuMonitorCommandOptions,
  ListDomainsOptions,
  MomentDeleteOptions,
  SnapshotChildrenOptions,
  SnapshotCreateOptions,
  SnapshotListOptions,
  SnapshotRevertOptions,
  SnapshotXmlOptions,
  Progress,
} from '../options.js';
import type { ParsedUri } from '../util/uri.js';

/**
 * How drivers name a domain: by uuid (stable) and name. Handles keep one and pass it back.
 *
 * @public
 */
export interface DomainIdentity {
  /** The domain's name when the identity was made; drivers find the domain by `uuid`. */
  readonly name: string;
  /** Lower-case dashed uuid. */
  readonly uuid: string;
  /** Runtime id while active, else -1. */
  readonly id: number;
}

/**
 * A lifecycle event as a driver reports it.
 *
 * @public
 */
export interface DriverDomainEvent<E extends DomainEventType = DomainEventType> {
  /** The domain the event is about, with its identity after the change (runtime id included). */
  readonly domain: DomainIdentity;
  /** libvirt's event type, e.g. `STARTED`. */
  readonly event: E;
  /** libvirt's detail for `event`, e.g. `FROM_SNAPSHOT`. */
  readonly detail: DomainEventDetail<E>;
}

/**
 * Completion of an asynchronous job (backup), as a driver reports it.
 *
 * @public
 */
export interface DriverJobCompletedEvent {
  /** The domain whose job ended. */
  readonly domain: DomainIdentity;
  /** Final statistics, as {@link BackupOps.getJobInfo} with `completed` returns them afterwards. */
  readonly info: JobInfo;
}

/**
 * A guest reset, as a driver reports it (libvirt's `VIR_DOMAIN_EVENT_ID_REBOOT`).
 *
 * @public
 */
export interface DriverDomainRebootEvent {
  /** The domain that was reset. */
  readonly domain: DomainIdentity;
}

/**
 * What a driver reports while it finishes or undoes an operation that a crashed process (or
 * a failed step after the commit point) left unfinished; see {@link RecoveryEvent}.
 *
 * @public
 */
export interface DriverRecoveryEvent {
  /** Name of the domain whose operation is recovered. */
  readonly domain: string;
  /** The interrupted operation, e.g. `snapshot-delete-external`. */
  readonly operation: string;
  /** Id of the interrupted run (its journal). */
  readonly journal: string;
  /** `roll-back` undoes an operation interrupted before its commit point, `roll-forward` finishes one after it. */
  readonly direction: 'roll-back' | 'roll-forward';
  /** `started` once, `progress` as steps (and bytes) are done, then `finished` or `failed`. */
  readonly stage: 'started' | 'progress' | 'finished' | 'failed';
  /** With `progress`: the step and how far recovery got, as {@link LongOperationOptions.onProgress} reports it. */
  readonly progress?: Progress;
  /** With `failed`: why recovery could not finish (it is retried by the domain's next operation). */
  readonly error?: Error;
}

/**
 * Where a driver sends events; the core turns them into {@link Connection} events with handles.
 *
 * @public
 */
export interface DriverEventSink {
  /**
   * Reports a lifecycle event once the state change is visible; listeners of `domain-event` run
   * synchronously, and events sent during `open` are delivered when the connection exists.
   */
  domainEvent(event: DriverDomainEvent): void;
  /**
   * Reports a guest reset (reboot) of a running domain that keeps running
   * (`VIR_DOMAIN_EVENT_ID_REBOOT`; no lifecycle event accompanies it); emits `domain-reboot`.
   */
  domainReboot(event: DriverDomainRebootEvent): void;
  /** Reports the end of an asynchronous job once its final statistics are recorded; emits `job-completed`. */
  jobCompleted(event: DriverJobCompletedEvent): void;
  /**
   * Reports the recovery of an interrupted operation as it runs; during `open` it reaches
   * {@link ConnectOptions.onRecovery} at once, later also the connection's `recovery` event.
   */
  recovery(event: DriverRecoveryEvent): void;
}

/**
 * What the core gives {@link HypervisorDriver.open}.
 *
 * @public
 */
export interface DriverOpenOptions {
  /** The connection refuses mutating calls; drivers may open fewer resources. */
  readonly readOnly: boolean;
  /** Current time in milliseconds; drivers use it for creation times (deterministic in tests). */
  readonly clock: () => number;
  /** Event sink of the connection being opened. */
  readonly events: DriverEventSink;
  /** Driver-specific options passed to {@link connect} as `driverOptions`. */
  readonly driverOptions: Readonly<Record<string, unknown>>;
}

/**
 * A hypervisor driver: a value registered under one or more URI schemes.
 *
 * @example
 * ```ts
 * const myDriver = defineDriver({
 *   name: 'mine',
 *   uriSchemes: ['mine'],
 *   async open(uri, options) {
 *     if (uri.path !== '/default') return undefined; // decline: not ours
 *     return createMyConnection(uri, options);
 *   },
 * });
 * registerDriver(myDriver);
 * ```
 *
 * @public
 */
export interface HypervisorDriver {
  /** Short name used in messages, e.g. `test` or `qemu`. */
  readonly name: string;
  /** URI schemes served, e.g. `['qemu']`; `qemu+unix://` also matches `qemu`. */
  readonly uriSchemes: readonly string[];
  /**
   * Opens a connection for `uri`, returns `undefined` to decline (not this driver's URI),
   * or throws a {@link VirtError} (e.g. `NO_CONNECT`, `OPERATION_FAILED`).
   */
  open(uri: ParsedUri, options: DriverOpenOptions): Promise<DriverConnection | undefined>;
}

/**
 * An open driver connection. Optional members are optional capabilities: the core answers
 * `NO_SUPPORT` when one is missing, like libvirt's driver table.
 *
 * @public
 */
export interface DriverConnection {
  /** Domain definition, lookup and lifecycle. */
  readonly domains: DomainOps;
  /** Snapshot operations. */
  readonly snapshots?: SnapshotOps;
  /** Checkpoint operations. */
  readonly checkpoints?: CheckpointOps;
  /** Backup jobs. */
  readonly backups?: BackupOps;
  /** QEMU-specific calls (libvirt-qemu). */
  readonly qemu?: QemuOps;
  /** Releases everything; called once by the core. Running domains keep running. */
  close(): Promise<void>;
}

/**
 * Domain operations (`virHypervisorDriver` domain entries).
 *
 * @public
 */
export interface DomainOps {
  /** Defines (or redefines) a persistent domain from libvirt domain XML; emits DEFINED. */
  define(xml: string, options: DomainDefineOptions): Promise<DomainIdentity>;
  /** Creates and starts a transient domain; emits STARTED (and SUSPENDED when paused). */
  create(xml: string, options: DomainCreateOptions): Promise<DomainIdentity>;
  /**
   * Finds a domain by its exact name.
   *
   * @throws `NO_DOMAIN` "no domain with matching name 'X'".
   */
  lookupByName(name: string): Promise<DomainIdentity>;
  /**
   * Finds a domain by uuid, which the core has already normalized to lower case with dashes.
   *
   * @throws `NO_DOMAIN` "no domain with matching uuid 'U'".
   */
  lookupByUuid(uuid: string): Promise<DomainIdentity>;
  /** Domains matching the filter groups; order unspecified. */
  list(options: ListDomainsOptions): Promise<DomainIdentity[]>;
  /** Current identity (the runtime id changes with start/stop). @throws `NO_DOMAIN`. */
  refresh(domain: DomainIdentity): Promise<DomainIdentity>;
  /**
   * The live definition as libvirt domain XML, or the persistent one with `inactive`; secrets
   * only with `secure` (already refused by the core on a read-only connection).
   *
   * @throws `NO_DOMAIN`.
   */
  getXml(domain: DomainIdentity, options: DomainXmlOptions): Promise<string>;
  /** The state and its reason as `virDomainGetState` reports them. @throws `NO_DOMAIN`. */
  getState(domain: DomainIdentity): Promise<DomainStateInfo>;
  /** Whether the domain has a persistent definition (false for a transient one). @throws `NO_DOMAIN`. */
  isPersistent(domain: DomainIdentity): Promise<boolean>;
  /**
   * Boots an inactive domain (`virDomainCreateWithFlags`); emits STARTED/BOOTED, then
   * SUSPENDED/PAUSED with `paused`.
   *
   * @throws `OPERATION_INVALID` "domain is already running".
   */
  start(domain: DomainIdentity, options: DomainStartOptions): Promise<void>;
  /**
   * Asks the guest to power off; `<on_poweroff>` decides whether it stops (STOPPED/SHUTDOWN,
   * a transient domain disappears) or restarts. Returns once the request is sent; with
   * `options.waitMs` (already checked by the core), once the domain is shut off.
   *
   * @throws `OPERATION_INVALID` "domain is not running", `OPERATION_TIMEOUT` "domain 'x' did
   * not shut down within N ms (…)" when the wait ends with the domain still active (left
   * running), `OPERATION_ABORTED` when `options.signal` fires during the wait.
   */
  shutdown(domain: DomainIdentity, options: DomainShutdownOptions): Promise<void>;
  /**
   * Stops the domain at once, failing a running backup job; emits STOPPED/DESTROYED and drops a
   * transient domain.
   *
   * @throws `OPERATION_INVALID` "domain is not running".
   */
  destroy(domain: DomainIdentity, options: DomainDestroyOptions): Promise<void>;
  /**
   * Pauses a running domain (state paused/USER); emits SUSPENDED/PAUSED.
   *
   * @throws `OPERATION_INVALID` "domain is not running" when shut off or already paused.
   */
  suspend(domain: DomainIdentity): Promise<void>;
  /**
   * Resumes a paused domain (state running/UNPAUSED); emits RESUMED/UNPAUSED.
   *
   * @throws `OPERATION_INVALID` "domain is not paused".
   */
  resume(domain: DomainIdentity): Promise<void>;
  /** libvirt's undefine rules for snapshot and checkpoint metadata (semantics §f). */
  undefine(domain: DomainIdentity, options: DomainUndefineOptions): Promise<void>;
}

/**
 * Snapshot operations (`virDomainSnapshot*`). Snapshots are named by (domain, name).
 *
 * @public
 */
export interface SnapshotOps {
  /** Creates (or redefines) a snapshot from `<domainsnapshot>` XML; returns its name. */
  create(domain: DomainIdentity, xml: string, options: SnapshotCreateOptions): Promise<string>;
  /** Names matching the filters (topological order on request, else unspecified). */
  list(domain: DomainIdentity, options: SnapshotListOptions): Promise<string[]>;
  /** Children (or descendants) of `name`. */
  listChildren(domain: DomainIdentity, name: string, options: SnapshotChildrenOptions): Promise<string[]>;
  /**
   * Checks that snapshot `name` exists; the core makes the handle.
   *
   * @throws `NO_DOMAIN_SNAPSHOT` when `name` does not exist.
   */
  lookup(domain: DomainIdentity, name: string): Promise<void>;
  /**
   * The snapshot's `<domainsnapshot>` XML as libvirt prints it; secrets in the embedded domain
   * only with `secure`.
   *
   * @throws `NO_DOMAIN_SNAPSHOT`.
   */
  getXml(domain: DomainIdentity, name: string, options: SnapshotXmlOptions): Promise<string>;
  /**
   * The parent snapshot's name.
   *
   * @throws `NO_DOMAIN_SNAPSHOT` "snapshot 'X' does not have a parent".
   */
  getParent(domain: DomainIdentity, name: string): Promise<string>;
  /**
   * The current snapshot's name: the one last created or reverted to.
   *
   * @throws `NO_DOMAIN_SNAPSHOT` "the domain does not have a current snapshot".
   */
  current(domain: DomainIdentity): Promise<string>;
  /** Whether the domain has a current snapshot (false, not an error, when it has none). */
  hasCurrent(domain: DomainIdentity): Promise<boolean>;
  /** Whether `name` is the current snapshot. @throws `NO_DOMAIN_SNAPSHOT` when it does not exist. */
  isCurrent(domain: DomainIdentity, name: string): Promise<boolean>;
  /**
   * Whether the driver keeps metadata for `name`; the built-in drivers always do.
   *
   * @throws `NO_DOMAIN_SNAPSHOT`.
   */
  hasMetadata(domain: DomainIdentity, name: string): Promise<boolean>;
  /**
   * Restores the domain to the snapshot (`virDomainRevertToSnapshot`), makes it current and
   * emits the FROM_SNAPSHOT lifecycle events of the state change; on `signal` it rolls back.
   *
   * @throws `NO_DOMAIN_SNAPSHOT`, `SNAPSHOT_REVERT_RISKY` when the snapshot lacks a domain
   * definition, `OPERATION_INVALID` for an inactive snapshot of a transient domain without
   * `running` or `paused`, `OPERATION_ABORTED` when `signal` fires.
   */
  revert(domain: DomainIdentity, name: string, options: SnapshotRevertOptions): Promise<void>;
  /**
   * Deletes the snapshot, with `children` its subtree or with `childrenOnly` its descendants,
   * re-parenting children and moving the current marker as libvirt does (semantics §b.6).
   *
   * @throws `NO_DOMAIN_SNAPSHOT`, `OPERATION_UNSUPPORTED` for a delete the hypervisor cannot
   * do, `OPERATION_ABORTED` when `signal` fires.
   */
  delete(domain: DomainIdentity, name: string, options: MomentDeleteOptions): Promise<void>;
}

/**
 * Checkpoint operations (`virDomainCheckpoint*`).
 *
 * @public
 */
export interface CheckpointOps {
  /** Creates (or redefines) a checkpoint from `<domaincheckpoint>` XML; returns its name. */
  create(domain: DomainIdentity, xml: string, options: CheckpointCreateOptions): Promise<string>;
  /** Names matching the filters (topological order on request, else unspecified). */
  list(domain: DomainIdentity, options: CheckpointListOptions): Promise<string[]>;
  /**
   * Children (or with `descendants` all descendants) of `name`.
   *
   * @throws `NO_DOMAIN_CHECKPOINT` when `name` does not exist.
   */
  listChildren(domain: DomainIdentity, name: string, options: CheckpointChildrenOptions): Promise<string[]>;
  /**
   * Checks that checkpoint `name` exists; the core makes the handle.
   *
   * @throws `NO_DOMAIN_CHECKPOINT` when `name` does not exist.
   */
  lookup(domain: DomainIdentity, name: string): Promise<void>;
  /**
   * The checkpoint's `<domaincheckpoint>` XML as libvirt prints it: without `<domain>` for
   * `noDomain`, with per-disk `size=` for `size`.
   *
   * @throws `NO_DOMAIN_CHECKPOINT`, `OPERATION_INVALID` "domain is not running" for `size` on an
   * inactive domain.
   */
  getXml(domain: DomainIdentity, name: string, options: CheckpointXmlOptions): Promise<string>;
  /**
   * The parent checkpoint's name.
   *
   * @throws `NO_DOMAIN_CHECKPOINT` "checkpoint 'X' does not have a parent".
   */
  getParent(domain: DomainIdentity, name: string): Promise<string>;
  /**
   * Deletes the checkpoint (its bitmaps too unless `metadataOnly`), with `children` its subtree
   * or with `childrenOnly` its descendants, keeping incremental backups from its parent valid.
   *
   * @throws `NO_DOMAIN_CHECKPOINT`, `OPERATION_ABORTED` when `signal` fires.
   */
  delete(domain: DomainIdentity, name: string, options: MomentDeleteOptions): Promise<void>;
}

/**
 * Backup jobs (`virDomainBackup*`, `virDomainAbortJob`, `virDomainGetJobStats`).
 *
 * @public
 */
export interface BackupOps {
  /** Starts a push or pull backup, optionally creating a checkpoint at the same instant. */
  begin(
    domain: DomainIdentity,
    backupXml: string,
    checkpointXml: string | undefined,
    options: BackupBeginOptions,
  ): Promise<void>;
  /**
   * The running backup job's `<domainbackup>` XML with every default filled in (file names,
   * export names, bitmaps, server).
   *
   * @throws `NO_DOMAIN_BACKUP` "no domain backup job present".
   */
  getXml(domain: DomainIdentity): Promise<string>;
  /**
   * Statistics of the running job, or with `completed` of the last finished one (then forgotten
   * unless `keepCompleted`); `{ type: 'none' }` when there is none.
   */
  getJobInfo(domain: DomainIdentity, options: JobInfoOptions): Promise<JobInfo>;
  /**
   * Ends the running job: a pull backup finishes as `completed`, a push backup as `cancelled`;
   * either way `jobCompleted` is reported.
   *
   * @throws `OPERATION_INVALID` "no job is active on the domain".
   */
  abortJob(domain: DomainIdentity): Promise<void>;
}

/**
 * QEMU-specific calls (`libvirt-qemu`), offered by drivers that run QEMU.
 *
 * @public
 */
export interface QemuOps {
  /**
   * Passes a command to the running QEMU's monitor (`virDomainQemuMonitorCommand`): QMP as JSON
   * text, answered with QEMU's reply as JSON text (errors included), or with `hmp` an HMP line,
   * answered with its output.
   *
   * @throws `OPERATION_INVALID` "domain is not running".
   */
  monitorCommand(
    domain: DomainIdentity,
    command: string,
    options: QemuMonitorCommandOptions,
  ): Promise<string>;
}
