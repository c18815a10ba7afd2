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
  DomainStartOptions,
  DomainUndefineOptions,
  DomainXmlOptions,
  JobInfoOptions,
  ListDomainsOptions,
  MomentDeleteOptions,
  SnapshotChildrenOptions,
  SnapshotCreateOptions,
  SnapshotListOptions,
  SnapshotRevertOptions,
  SnapshotXmlOptions,
} from '../options.js';
import type { ParsedUri } from '../util/uri.js';

/**
 * How drivers name a domain: by uuid (stable) and name. Handles keep one and pass it back.
 *
 * @public
 */
export interface DomainIdentity {
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
  readonly domain: DomainIdentity;
  readonly event: E;
  readonly detail: DomainEventDetail<E>;
}

/**
 * Completion of an asynchronous job (backup), as a driver reports it.
 *
 * @public
 */
export interface DriverJobCompletedEvent {
  readonly domain: DomainIdentity;
  readonly info: JobInfo;
}

/**
 * Where a driver sends events; the core turns them into {@link Connection} events with handles.
 *
 * @public
 */
export interface DriverEventSink {
  domainEvent(event: DriverDomainEvent): void;
  jobCompleted(event: DriverJobCompletedEvent): void;
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
  /** @throws `NO_DOMAIN` "no domain with matching name 'X'". */
  lookupByName(name: string): Promise<DomainIdentity>;
  /** @throws `NO_DOMAIN` "no domain with matching uuid 'U'". */
  lookupByUuid(uuid: string): Promise<DomainIdentity>;
  /** Domains matching the filter groups; order unspecified. */
  list(options: ListDomainsOptions): Promise<DomainIdentity[]>;
  /** Current identity (the runtime id changes with start/stop). @throws `NO_DOMAIN`. */
  refresh(domain: DomainIdentity): Promise<DomainIdentity>;
  getXml(domain: DomainIdentity, options: DomainXmlOptions): Promise<string>;
  getState(domain: DomainIdentity): Promise<DomainStateInfo>;
  isPersistent(domain: DomainIdentity): Promise<boolean>;
  start(domain: DomainIdentity, options: DomainStartOptions): Promise<void>;
  shutdown(domain: DomainIdentity): Promise<void>;
  destroy(domain: DomainIdentity, options: DomainDestroyOptions): Promise<void>;
  suspend(domain: DomainIdentity): Promise<void>;
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
  /** @throws `NO_DOMAIN_SNAPSHOT` when `name` does not exist. */
  lookup(domain: DomainIdentity, name: string): Promise<void>;
  getXml(domain: DomainIdentity, name: string, options: SnapshotXmlOptions): Promise<string>;
  /** @throws `NO_DOMAIN_SNAPSHOT` "snapshot 'X' does not have a parent". */
  getParent(domain: DomainIdentity, name: string): Promise<string>;
  /** @throws `NO_DOMAIN_SNAPSHOT` "the domain does not have a current snapshot". */
  current(domain: DomainIdentity): Promise<string>;
  hasCurrent(domain: DomainIdentity): Promise<boolean>;
  isCurrent(domain: DomainIdentity, name: string): Promise<boolean>;
  hasMetadata(domain: DomainIdentity, name: string): Promise<boolean>;
  revert(domain: DomainIdentity, name: string, options: SnapshotRevertOptions): Promise<void>;
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
  list(domain: DomainIdentity, options: CheckpointListOptions): Promise<string[]>;
  listChildren(domain: DomainIdentity, name: string, options: CheckpointChildrenOptions): Promise<string[]>;
  /** @throws `NO_DOMAIN_CHECKPOINT` when `name` does not exist. */
  lookup(domain: DomainIdentity, name: string): Promise<void>;
  getXml(domain: DomainIdentity, name: string, options: CheckpointXmlOptions): Promise<string>;
  /** @throws `NO_DOMAIN_CHECKPOINT` "checkpoint 'X' does not have a parent". */
  getParent(domain: DomainIdentity, name: string): Promise<string>;
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
  /** @throws `NO_DOMAIN_BACKUP` "no domain backup job present". */
  getXml(domain: DomainIdentity): Promise<string>;
  getJobInfo(domain: DomainIdentity, options: JobInfoOptions): Promise<JobInfo>;
  /** @throws `OPERATION_INVALID` "no job is active on the domain". */
  abortJob(domain: DomainIdentity): Promise<void>;
}
