import type { BackupDef } from './conf/backup-def.js';
import { formatBackupXml } from './conf/backup-xml.js';
import type { CheckpointDef } from './conf/checkpoint-def.js';
import { formatCheckpointXml } from './conf/checkpoint-xml.js';
import type { DomainDiskDef } from './conf/domain-def.js';
import { parseDomainXml } from './conf/domain-xml.js';
import type { SnapshotDef } from './conf/snapshot-def.js';
import { formatSnapshotXml } from './conf/snapshot-xml.js';
import { assertXmlSafeDefinition } from './conf/xml/chars.js';
import type { Connection } from './connection.js';
import { bindDomain, contextOf, requireString, type ConnectionContext } from './context.js';
import { DomainCheckpoint } from './checkpoint.js';
import type { DomainIdentity } from './driver/driver.js';
import { VirtError } from './errors.js';
import type { DomainStateInfo, JobInfo } from './events.js';
import {
  assertExclusive,
  assertRequires,
  type BackupBeginOptions,
  type CheckpointCreateOptions,
  type CheckpointListOptions,
  type DomainDestroyOptions,
  type DomainShutdownOptions,
  type DomainStartOptions,
  type DomainUndefineOptions,
  type DomainXmlOptions,
  type JobInfoOptions,
  type ListDisksOptions,
  type QemuMonitorCommandOptions,
  type SnapshotCreateOptions,
  type SnapshotListOptions,
} from './options.js';
import { DomainSnapshot } from './snapshot.js';

/**
 * A handle to a domain (virtual machine). Handles are cheap: each call asks the driver, so a
 * handle whose domain was undefined meanwhile fails with `NO_DOMAIN`.
 *
 * @public
 */
export class Domain {
  /** The connection this handle belongs to. */
  readonly connection: Connection;
  readonly #ctx: ConnectionContext;
  readonly #id: DomainIdentity;

  /** @internal */
  constructor(connection: Connection, id: DomainIdentity) {
    this.connection = connection;
    this.#ctx = contextOf(connection);
    this.#id = id;
    bindDomain(this, this.#ctx, id);
  }

  /** The domain's name. */
  get name(): string {
    return this.#id.name;
  }

  /** The domain's uuid (lower case, dashed). */
  get uuid(): string {
    return this.#id.uuid;
  }

  /**
   * The domain definition in libvirt's XML format.
   *
   * @throws `OPERATION_DENIED` for `secure` on a read-only connection, `NO_DOMAIN`.
   */
  async getXml(options: DomainXmlOptions = {}): Promise<string> {
    const fn = 'getXml';
    this.#ctx.checkOptions(options, 'domainGetXml', fn);
    if (options.secure) this.#ctx.assertWritable(`${fn} with secure flag`);
    return this.#call(fn, (d) => d.getXml(this.#id, options));
  }

  /**
   * The domain's disks and the images they use now, like `virsh domblklist --details`: every
   * `<disk>` of the definition in document order with its target (`vda`), source path
   * (`undefined` for an empty drive or a network disk), device (`disk`, `cdrom`, …), type
   * (`file`, `block`, …), format, bus and read-only flag. After an external snapshot the
   * sources are the new overlays. Read from {@link Domain.getXml} (the live definition, or
   * the persistent one with `inactive`), as virsh does, so it works with every driver.
   *
   * @example
   * ```ts
   * for (const disk of await domain.listDisks()) console.log(`${disk.target} ${disk.source ?? '-'}`);
   * ```
   *
   * @throws `NO_DOMAIN`.
   */
  async listDisks(options: ListDisksOptions = {}): Promise<DomainDiskDef[]> {
    const fn = 'listDisks';
    this.#ctx.checkOptions(options, 'listDisks', fn);
    const xml = await this.#call(fn, (d) => d.getXml(this.#id, { inactive: options.inactive === true }));
    return [...parseDomainXml(xml).disks];
  }

  /** Whether the domain has a persistent definition (else it is transient). */
  async isPersistent(): Promise<boolean> {
    return this.#call('isPersistent', (d) => d.isPersistent(this.#id));
  }

  /** Whether the domain is running or paused (has a runtime instance). */
  async isActive(): Promise<boolean> {
    const id = await this.#call('isActive', (d) => d.refresh(this.#id));
    return id.id !== -1;
  }

  /** The domain state and its reason, e.g. `{ state: 'running', reason: 'FROM_SNAPSHOT' }`. */
  async getState(): Promise<DomainStateInfo> {
    return this.#call('getState', (d) => d.getState(this.#id));
  }

  /**
   * Starts a defined, inactive domain (`virDomainCreateWithFlags`).
   *
   * @throws `OPERATION_INVALID` "domain is already running".
   */
  async start(options: DomainStartOptions = {}): Promise<void> {
    this.#mutating('start', options, 'startDomain');
    await this.#call('start', (d) => d.start(this.#id, options));
  }

  /**
   * Asks the guest to shut down (`virDomainShutdown`: the ACPI power button on the qemu
   * driver) and returns once the request is sent, as libvirt does. With `waitMs` it waits
   * until the domain is shut off instead.
   *
   * @example
   * ```ts
   * await domain.shutdown({ waitMs: 60_000 }); // shut off, or OPERATION_TIMEOUT and still running
   * ```
   *
   * @throws `OPERATION_INVALID` "domain is not running", `OPERATION_TIMEOUT` "domain 'x' did not
   * shut down within N ms (…)" when `waitMs` passed with the domain still active (it is left
   * running), `OPERATION_ABORTED` when `signal` fires during the wait.
   */
  async shutdown(options: DomainShutdownOptions = {}): Promise<void> {
    this.#mutating('shutdown', options, 'shutdownDomain');
    await this.#call('shutdown', (d) => d.shutdown(this.#id, options));
  }

  /** Stops the domain at once. @throws `OPERATION_INVALID` "domain is not running". */
  async destroy(options: DomainDestroyOptions = {}): Promise<void> {
    this.#mutating('destroy', options, 'destroyDomain');
    await this.#call('destroy', (d) => d.destroy(this.#id, options));
  }

  /** Pauses a running domain. @throws `OPERATION_INVALID` "domain is not running". */
  async suspend(): Promise<void> {
    this.#ctx.assertWritable('suspend');
    await this.#call('suspend', (d) => d.suspend(this.#id));
  }

  /** Resumes a paused domain. @throws `OPERATION_INVALID` "domain is not paused". */
  async resume(): Promise<void> {
    this.#ctx.assertWritable('resume');
    await this.#call('resume', (d) => d.resume(this.#id));
  }

  /**
   * Removes the persistent definition (`virDomainUndefineFlags`). An inactive domain with
   * snapshots or checkpoints needs `snapshotsMetadata` / `checkpointsMetadata`; an active one
   * becomes transient and keeps its metadata until it stops.
   *
   * @throws `OPERATION_INVALID` "cannot delete inactive domain with N snapshots",
   * "cannot undefine transient domain".
   */
  async undefine(options: DomainUndefineOptions = {}): Promise<void> {
    this.#mutating('undefine', options, 'undefineDomain');
    assertExclusive(options, 'nvram', 'keepNvram');
    assertExclusive(options, 'tpm', 'keepTpm');
    await this.#call('undefine', (d) => d.undefine(this.#id, options));
  }

  /**
   * Takes a snapshot, or with `redefine` restores snapshot metadata
   * (`virDomainSnapshotCreateXML`). `def` is `<domainsnapshot>` XML or a typed definition;
   * omitted, libvirt's defaults apply (name = creation time, memory and disks per the driver).
   * The new snapshot's parent is the current snapshot, and it becomes current.
   *
   * @example
   * ```ts
   * const s1 = await domain.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
   * const s2 = await domain.createSnapshot({ name: 's2', description: 'after upgrade' });
   * ```
   *
   * @throws `OPERATION_FAILED` "domain moment X already exists", `XML_ERROR`, `XML_DETAIL`
   * for XML that cannot be parsed or a definition holding a character XML cannot (an unpaired
   * surrogate, a C0 control), `INVALID_ARG` for illegal option combinations (`current` without `redefine`, `redefine`
   * with `noMetadata` or `halt`), `CONFIG_UNSUPPORTED`, `OPERATION_UNSUPPORTED`.
   */
  async createSnapshot(
    def?: string | SnapshotDef,
    options: SnapshotCreateOptions = {},
  ): Promise<DomainSnapshot> {
    const fn = 'createSnapshot';
    checkDefinition(def, true, fn);
    this.#mutating(fn, options, 'createSnapshot');
    assertRequires(options, 'current', 'redefine');
    assertExclusive(options, 'redefine', 'noMetadata');
    assertExclusive(options, 'redefine', 'halt');
    const ops = this.#ctx.capability('snapshots', fn);
    const xml = toXml(def, '<domainsnapshot/>', 'snapshot', (d) => formatSnapshotXml(d, { secure: true }));
    const name = await this.#ctx.call(() => ops.create(this.#id, xml, options));
    return new DomainSnapshot(this, name);
  }

  /**
   * Lists snapshots (`virDomainListAllSnapshots`); order unspecified unless `topological`.
   */
  async listSnapshots(options: SnapshotListOptions = {}): Promise<DomainSnapshot[]> {
    const fn = 'listSnapshots';
    this.#ctx.checkOptions(options, 'listSnapshots', fn);
    const ops = this.#ctx.capability('snapshots', fn);
    const names = await this.#ctx.call(() => ops.list(this.#id, options));
    return names.map((n) => new DomainSnapshot(this, n));
  }

  /**
   * Finds a snapshot by name.
   *
   * @throws `NO_DOMAIN_SNAPSHOT` "no domain snapshot with matching name 'X'".
   */
  async lookupSnapshotByName(name: string): Promise<DomainSnapshot> {
    const fn = 'lookupSnapshotByName';
    requireString(name, 'name', fn);
    const ops = this.#ctx.capability('snapshots', fn);
    await this.#ctx.call(() => ops.lookup(this.#id, name));
    return new DomainSnapshot(this, name);
  }

  /**
   * The current snapshot: the one the domain was last reverted to or created.
   *
   * @throws `NO_DOMAIN_SNAPSHOT` "the domain does not have a current snapshot".
   */
  async currentSnapshot(): Promise<DomainSnapshot> {
    const fn = 'currentSnapshot';
    const ops = this.#ctx.capability('snapshots', fn);
    const name = await this.#ctx.call(() => ops.current(this.#id));
    return new DomainSnapshot(this, name);
  }

  /** Whether there is a current snapshot. */
  async hasCurrentSnapshot(): Promise<boolean> {
    const fn = 'hasCurrentSnapshot';
    const ops = this.#ctx.capability('snapshots', fn);
    return this.#ctx.call(() => ops.hasCurrent(this.#id));
  }

  /**
   * Creates a checkpoint, or with `redefine` restores checkpoint metadata
   * (`virDomainCheckpointCreateXML`). Without `<disks>`, every writable disk gets a bitmap
   * named after the checkpoint.
   *
   * @throws `OPERATION_FAILED` (name taken), `XML_INVALID_SCHEMA`, `XML_DETAIL` (as for
   * {@link Domain.createSnapshot}), `CONFIG_UNSUPPORTED`,
   * `OPERATION_UNSUPPORTED`, `INVALID_ARG` (`redefine` with `quiesce`, `redefineValidate`
   * without `redefine`).
   */
  async createCheckpoint(
    def?: string | CheckpointDef,
    options: CheckpointCreateOptions = {},
  ): Promise<DomainCheckpoint> {
    const fn = 'createCheckpoint';
    checkDefinition(def, true, fn);
    this.#mutating(fn, options, 'createCheckpoint');
    assertExclusive(options, 'redefine', 'quiesce');
    assertRequires(options, 'redefineValidate', 'redefine');
    const ops = this.#ctx.capability('checkpoints', fn);
    const xml = toXml(def, '<domaincheckpoint/>', 'checkpoint', (d) =>
      formatCheckpointXml(d, { secure: true }),
    );
    const name = await this.#ctx.call(() => ops.create(this.#id, xml, options));
    return new DomainCheckpoint(this, name);
  }

  /** Lists checkpoints (`virDomainListAllCheckpoints`); order unspecified unless `topological`. */
  async listCheckpoints(options: CheckpointListOptions = {}): Promise<DomainCheckpoint[]> {
    const fn = 'listCheckpoints';
    this.#ctx.checkOptions(options, 'listCheckpoints', fn);
    const ops = this.#ctx.capability('checkpoints', fn);
    const names = await this.#ctx.call(() => ops.list(this.#id, options));
    return names.map((n) => new DomainCheckpoint(this, n));
  }

  /**
   * Finds a checkpoint by name.
   *
   * @throws `NO_DOMAIN_CHECKPOINT` "no domain checkpoint with matching name 'X'".
   */
  async lookupCheckpointByName(name: string): Promise<DomainCheckpoint> {
    const fn = 'lookupCheckpointByName';
    requireString(name, 'name', fn);
    const ops = this.#ctx.capability('checkpoints', fn);
    await this.#ctx.call(() => ops.lookup(this.#id, name));
    return new DomainCheckpoint(this, name);
  }

  /**
   * Starts a backup job (`virDomainBackupBegin`): push (the job copies to target files and
   * ends by itself) or pull (an NBD export that stays until {@link Domain.abortJob}).
   * `checkpoint` creates a checkpoint at the same instant. Completion is reported by the
   * connection's `job-completed` event.
   *
   * @throws `OPERATION_INVALID` "another backup job is already running", `XML_ERROR`,
   * `XML_DETAIL` (as for {@link Domain.createSnapshot}),
   * `CONFIG_UNSUPPORTED`, `NO_DOMAIN_CHECKPOINT` (unknown incremental checkpoint).
   */
  async backupBegin(
    backup: string | BackupDef,
    checkpoint?: string | CheckpointDef,
    options: BackupBeginOptions = {},
  ): Promise<void> {
    const fn = 'backupBegin';
    checkDefinition(backup, false, fn);
    checkDefinition(checkpoint, true, fn);
    this.#mutating(fn, options, 'backupBegin');
    const ops = this.#ctx.capability('backups', fn);
    const backupXml = toXml(backup, undefined, 'backup', (d) => formatBackupXml(d));
    const checkpointXml =
      checkpoint === undefined
        ? undefined
        : toXml(checkpoint, undefined, 'checkpoint', (d) => formatCheckpointXml(d));
    await this.#ctx.call(() => ops.begin(this.#id, backupXml, checkpointXml, options));
  }

  /**
   * The running backup job's XML with every default filled in.
   *
   * @throws `NO_DOMAIN_BACKUP` "no domain backup job present".
   */
  async backupGetXml(): Promise<string> {
    const fn = 'backupGetXml';
    const ops = this.#ctx.capability('backups', fn);
    return this.#ctx.call(() => ops.getXml(this.#id));
  }

  /** Progress of the running job, or of the last completed one with `completed`. */
  async getJobInfo(options: JobInfoOptions = {}): Promise<JobInfo> {
    const fn = 'getJobInfo';
    this.#ctx.checkOptions(options, 'getJobInfo', fn);
    assertRequires(options, 'keepCompleted', 'completed');
    const ops = this.#ctx.capability('backups', fn);
    return this.#ctx.call(() => ops.getJobInfo(this.#id, options));
  }

  /**
   * Aborts the running job; for a pull backup this is the normal way to end it.
   *
   * @throws `OPERATION_INVALID` "no job is active on the domain".
   */
  async abortJob(): Promise<void> {
    const fn = 'abortJob';
    this.#ctx.assertWritable(fn);
    const ops = this.#ctx.capability('backups', fn);
    await this.#ctx.call(() => ops.abortJob(this.#id));
  }

  /**
   * Sends a command to the running QEMU's monitor, for power users and tests (libvirt-qemu's
   * `virDomainQemuMonitorCommand`): QMP as JSON text, answered with QEMU's reply as JSON text
   * (`{"return":…}`, or `{"error":…}` when QEMU refuses it), or with `hmp` an HMP line answered
   * with its output. Changes made this way are not tracked by the driver. qemu driver only.
   *
   * @example
   * ```ts
   * const reply = JSON.parse(await domain.qemuMonitorCommand('{"execute":"query-status"}'));
   * console.log(await domain.qemuMonitorCommand('info status', { hmp: true }));
   * ```
   *
   * @throws `NO_SUPPORT` for a driver without QEMU, `OPERATION_DENIED` on a read-only
   * connection, `OPERATION_INVALID` "domain is not running", `INTERNAL_ERROR` for text that is
   * not a QMP command.
   */
  async qemuMonitorCommand(command: string, options: QemuMonitorCommandOptions = {}): Promise<string> {
    const fn = 'qemuMonitorCommand';
    requireString(command, 'cmd', fn);
    this.#mutating(fn, options, 'qemuMonitorCommand');
    const ops = this.#ctx.capability('qemu', fn);
    return this.#ctx.call(() => ops.monitorCommand(this.#id, command, options));
  }

  #mutating(fn: string, options: object, known: Parameters<ConnectionContext['checkOptions']>[1]): void {
    this.#ctx.assertWritable(fn);
    this.#ctx.checkOptions(options, known, fn);
  }

  async #call<T>(
    fn: string,
    work: (domains: ReturnType<ConnectionContext['driver']>['domains']) => Promise<T>,
  ): Promise<T> {
    const domains = this.#ctx.driver(fn).domains;
    return this.#ctx.call(() => work(domains));
  }
}

/** Refuses what is neither XML text nor a definition object (nor omitted, where allowed). */
function checkDefinition(def: unknown, optional: boolean, fn: string): void {
  if (def === undefined && optional) return;
  if (typeof def === 'string') return;
  if (typeof def === 'object' && def !== null && !Array.isArray(def)) return;
  throw new VirtError('INVALID_ARG', `xml in ${fn} must be a string or a definition object`);
}

/**
 * The XML text to hand to the driver. A definition object is checked where the driver would
 * parse XML text (after the connection and option checks): a string XML cannot hold is
 * `XML_DETAIL`, as libvirt gives for the same content as text, before anything changes.
 */
function toXml<D extends object>(
  def: string | D | undefined,
  fallback: string | undefined,
  what: string,
  format: (def: D) => string,
): string {
  if (typeof def === 'string') return def;
  if (def === undefined) return fallback ?? '';
  assertXmlSafeDefinition(def, what);
  return format(def);
}
