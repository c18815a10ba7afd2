import { EventEmitter } from 'eventemitter3';
import { bindConnection, ConnectionContext, requireString } from './context.js';
import { VirtError } from './errors.js';
import { Domain } from './domain.js';
import type { DomainIdentity, DriverConnection, DriverRecoveryEvent } from './driver/driver.js';
import {
  domainEventCode,
  domainEventDetailCode,
  type DomainEventDetail,
  type DomainEventType,
  type JobInfo,
} from './events.js';
import type { DomainCreateOptions, DomainDefineOptions, ListDomainsOptions } from './options.js';

/**
 * A domain lifecycle event (`VIR_DOMAIN_EVENT_ID_LIFECYCLE`).
 *
 * @public
 */
export interface DomainEvent<E extends DomainEventType = DomainEventType> {
  /** A new handle to the domain the event is about. */
  readonly domain: Domain;
  /** libvirt's event name, e.g. `STARTED`. */
  readonly event: E;
  /** libvirt's detail name, e.g. `FROM_SNAPSHOT`. */
  readonly detail: DomainEventDetail<E>;
  /** libvirt's number of `event`. */
  readonly eventCode: number;
  /** libvirt's number of `detail`. */
  readonly detailCode: number;
}

/**
 * A guest reset (`VIR_DOMAIN_EVENT_ID_REBOOT`): the guest rebooted, or was reset from the
 * monitor (QMP `system_reset`), and keeps running — a separate event from the lifecycle
 * `domain-event`, which reports nothing for it (as in libvirt).
 *
 * @public
 */
export interface DomainRebootEvent {
  /** A new handle to the domain that was reset. */
  readonly domain: Domain;
}

/**
 * Completion of an asynchronous domain job such as a backup (`VIR_DOMAIN_EVENT_ID_JOB_COMPLETED`).
 *
 * @public
 */
export interface JobCompletedEvent {
  /** A new handle to the domain whose job ended. */
  readonly domain: Domain;
  /** Final statistics: `type` is `completed`, `failed` (with `errorMessage`) or `cancelled`. */
  readonly info: JobInfo;
}

/**
 * Events of a {@link Connection}.
 *
 * @public
 */
export interface ConnectionEvents {
  /** A domain lifecycle change (started, stopped, suspended, …), including those caused by snapshots. */
  'domain-event': [event: DomainEvent];
  /** A running domain was reset (guest reboot or `system_reset`); it keeps running. */
  'domain-reboot': [event: DomainRebootEvent];
  /** An asynchronous job such as a backup ended (completed, failed or cancelled). */
  'job-completed': [event: JobCompletedEvent];
  /**
   * The driver is recovering an operation a crashed process (or a failed step after the
   * commit point) left unfinished, before running the operation that found it: `started`,
   * `progress`, then `finished` or `failed`. The recovery done by `connect()` itself is
   * reported to {@link ConnectOptions.onRecovery} only (no listener can exist yet).
   */
  recovery: [event: DriverRecoveryEvent];
  /** The connection was closed. */
  close: [];
}

/**
 * An open connection to a hypervisor driver, made by {@link connect}.
 *
 * @example
 * ```ts
 * await using conn = await connect('test:///default');
 * conn.on('domain-event', (e) => console.log(e.domain.name, e.event, e.detail));
 * const domain = await conn.lookupDomainByName('test');
 * ```
 *
 * @public
 */
export class Connection {
  /** The URI this connection was opened with. */
  readonly uri: string;
  readonly #ctx: ConnectionContext;
  readonly #emitter = new EventEmitter();

  /** @internal */
  constructor(uri: string, driverName: string, driver: DriverConnection, readOnly: boolean) {
    this.uri = uri;
    this.#ctx = new ConnectionContext(driver, driverName, readOnly);
    bindConnection(this, this.#ctx);
  }

  /** Name of the driver serving this connection, e.g. `test` or `qemu`. */
  get driverName(): string {
    return this.#ctx.driverName;
  }

  /** Whether mutating calls are refused (`OPERATION_DENIED`). */
  get readOnly(): boolean {
    return this.#ctx.readOnly;
  }

  /** Whether {@link Connection.close} was called. */
  get closed(): boolean {
    return this.#ctx.closed;
  }

  /** Subscribes to an event. */
  on<K extends keyof ConnectionEvents>(event: K, listener: (...args: ConnectionEvents[K]) => void): this {
    this.#emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Subscribes to the next occurrence of an event. */
  once<K extends keyof ConnectionEvents>(event: K, listener: (...args: ConnectionEvents[K]) => void): this {
    this.#emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Unsubscribes a listener. */
  off<K extends keyof ConnectionEvents>(event: K, listener: (...args: ConnectionEvents[K]) => void): this {
    this.#emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /**
   * Defines a persistent domain from libvirt domain XML (`virDomainDefineXMLFlags`); an
   * existing domain with the same name and uuid is updated.
   *
   * @throws `XML_ERROR` for malformed XML, `OPERATION_FAILED` when the name or uuid is taken by
   * another domain, `OPERATION_DENIED` on a read-only connection.
   */
  async defineDomain(xml: string, options: DomainDefineOptions = {}): Promise<Domain> {
    const fn = 'defineDomain';
    requireString(xml, 'xml', fn);
    this.#ctx.assertWritable(fn);
    this.#ctx.checkOptions(options, 'defineDomain', fn);
    const id = await this.#ctx.call(() => this.#ctx.driver(fn).domains.define(xml, options));
    return this.#domain(id);
  }

  /**
   * Creates and starts a transient domain (`virDomainCreateXML`); it disappears when it stops.
   *
   * @throws `XML_ERROR`, `OPERATION_FAILED` (name or uuid taken), `OPERATION_DENIED`.
   */
  async createDomain(xml: string, options: DomainCreateOptions = {}): Promise<Domain> {
    const fn = 'createDomain';
    requireString(xml, 'xml', fn);
    this.#ctx.assertWritable(fn);
    this.#ctx.checkOptions(options, 'createDomain', fn);
    const id = await this.#ctx.call(() => this.#ctx.driver(fn).domains.create(xml, options));
    return this.#domain(id);
  }

  /**
   * Finds a domain by name.
   *
   * @throws `NO_DOMAIN` "no domain with matching name 'X'".
   */
  async lookupDomainByName(name: string): Promise<Domain> {
    const fn = 'lookupDomainByName';
    requireString(name, 'name', fn);
    const id = await this.#ctx.call(() => this.#ctx.driver(fn).domains.lookupByName(name));
    return this.#domain(id);
  }

  /**
   * Finds a domain by uuid (any case, with or without dashes).
   *
   * @throws `NO_DOMAIN`, or `INVALID_ARG` for a malformed uuid.
   */
  async lookupDomainByUuid(uuid: string): Promise<Domain> {
    const fn = 'lookupDomainByUuid';
    const normalized = normalizeUuid(requireString(uuid, 'uuid', fn), fn);
    const id = await this.#ctx.call(() => this.#ctx.driver(fn).domains.lookupByUuid(normalized));
    return this.#domain(id);
  }

  /** Lists domains (`virConnectListAllDomains`); order unspecified. */
  async listDomains(options: ListDomainsOptions = {}): Promise<Domain[]> {
    const fn = 'listDomains';
    this.#ctx.checkOptions(options, 'listDomains', fn);
    const ids = await this.#ctx.call(() => this.#ctx.driver(fn).domains.list(options));
    return ids.map((id) => this.#domain(id));
  }

  /**
   * Closes the connection. Later calls on it or its handles fail with `INVALID_CONN`;
   * calling close again does nothing.
   */
  async close(): Promise<void> {
    const driver = this.#ctx.detach();
    if (driver === undefined) return;
    try {
      await this.#ctx.call(() => driver.close());
    } finally {
      this.#emitter.emit('close');
      this.#emitter.removeAllListeners();
    }
  }

  /** Closes the connection (`await using conn = await connect(…)`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Emits `domain-event` for a driver's lifecycle event; ignored once the connection is closed.
   *
   * @internal
   */
  dispatchDomainEvent(domain: DomainIdentity, event: DomainEventType, detail: string): void {
    // No handle is built for nobody: events are frequent (every revert) and handles not free.
    if (this.closed || this.#emitter.listenerCount('domain-event') === 0) return;
    const payload = {
      domain: this.#domain(domain),
      event,
      detail,
      eventCode: domainEventCode(event),
      detailCode: domainEventDetailCode(event, detail as never),
    } as DomainEvent;
    this.#emitter.emit('domain-event', payload);
  }

  /**
   * Emits `domain-reboot` for a driver's guest reset; ignored once the connection is closed.
   *
   * @internal
   */
  dispatchDomainReboot(domain: DomainIdentity): void {
    if (this.closed || this.#emitter.listenerCount('domain-reboot') === 0) return;
    this.#emitter.emit('domain-reboot', { domain: this.#domain(domain) });
  }

  /**
   * Emits `job-completed` for a driver's job completion; ignored once the connection is closed.
   *
   * @internal
   */
  dispatchJobCompleted(domain: DomainIdentity, info: JobInfo): void {
    if (this.closed || this.#emitter.listenerCount('job-completed') === 0) return;
    this.#emitter.emit('job-completed', { domain: this.#domain(domain), info });
  }

  /**
   * Emits `recovery`; ignored once the connection is closed.
   *
   * @internal
   */
  dispatchRecovery(event: DriverRecoveryEvent): void {
    if (!this.closed) this.#emitter.emit('recovery', event);
  }

  #domain(id: DomainIdentity): Domain {
    return new Domain(this, id);
  }
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function normalizeUuid(uuid: string, fn: string): string {
  if (!UUID.test(uuid)) {
    throw new VirtError('INVALID_ARG', `malformed uuid '${uuid}' in ${fn}`);
  }
  const hex = uuid.replaceAll('-', '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
