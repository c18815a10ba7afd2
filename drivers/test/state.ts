import {
  MomentList,
  VirtError,
  type CheckpointDef,
  type DomainDef,
  type DomainEventDetail,
  type DomainEventType,
  type DomainIdentity,
  type DomainState,
  type DomainStateReason,
  type DriverEventSink,
  type JobInfo,
  type SnapshotDef,
} from 'virtkit';
import type { BackupJob } from './backup-job.js';

/**
 * Settings of one test-driver connection, from `connect(uri, { driverOptions })`.
 *
 * @public
 */
export interface TestDriverSettings {
  /**
   * Simulated duration of a push backup, measured on the connection clock.
   *
   * @defaultValue 100
   */
  readonly backupDurationMs: number;
}

/**
 * One domain of a test world: its definitions, runtime state and moment trees.
 *
 * @internal
 */
export interface TestDomain {
  /** The live definition of a running domain, or the only definition of an inactive one. */
  def: DomainDef;
  /** The persistent definition of a running domain when it differs from `def`. */
  newDef: DomainDef | undefined;
  persistent: boolean;
  state: DomainState;
  reason: DomainStateReason;
  /** Runtime id while active, else -1. */
  id: number;
  hasManagedSave: boolean;
  readonly snapshots: MomentList<SnapshotDef>;
  readonly checkpoints: MomentList<CheckpointDef>;
  /** The running backup job. */
  backup: BackupJob | undefined;
  /** Statistics of the last finished job. */
  completedJob: JobInfo | undefined;
}

/**
 * The whole state behind one test-driver connection: domains, the runtime id counter, the
 * clock and the event sink.
 *
 * @internal
 */
export class TestWorld {
  readonly #domains = new Map<string, TestDomain>();
  #nextId = 1;

  constructor(
    readonly clock: () => number,
    readonly events: DriverEventSink,
    readonly settings: TestDriverSettings,
  ) {}

  /** Current time in whole seconds, for creation times and generated names. */
  nowSeconds(): number {
    return Math.floor(this.clock() / 1000);
  }

  /** A new domain object (not yet added), shut off. */
  newDomain(def: DomainDef, persistent: boolean): TestDomain {
    return {
      def,
      newDef: undefined,
      persistent,
      state: 'shutoff',
      reason: 'UNKNOWN',
      id: -1,
      hasManagedSave: false,
      snapshots: new MomentList<SnapshotDef>('snapshot'),
      checkpoints: new MomentList<CheckpointDef>('checkpoint'),
      backup: undefined,
      completedJob: undefined,
    };
  }

  add(dom: TestDomain): void {
    this.#domains.set(dom.def.uuid, dom);
  }

  remove(dom: TestDomain): void {
    this.#domains.delete(dom.def.uuid);
  }

  all(): TestDomain[] {
    return [...this.#domains.values()];
  }

  byUuid(uuid: string): TestDomain | undefined {
    return this.#domains.get(uuid);
  }

  byName(name: string): TestDomain | undefined {
    for (const dom of this.#domains.values()) if (dom.def.name === name) return dom;
    return undefined;
  }

  /**
   * The domain a handle names.
   *
   * @throws `NO_DOMAIN` when it no longer exists.
   */
  require(identity: DomainIdentity): TestDomain {
    const dom = this.#domains.get(identity.uuid);
    if (dom === undefined) {
      throw new VirtError('NO_DOMAIN', `no domain with matching uuid '${identity.uuid}' (${identity.name})`);
    }
    return dom;
  }

  identity(dom: TestDomain): DomainIdentity {
    return { name: dom.def.name, uuid: dom.def.uuid, id: dom.id };
  }

  emit<E extends DomainEventType>(dom: TestDomain, event: E, detail: DomainEventDetail<E>): void {
    this.events.domainEvent({ domain: this.identity(dom), event, detail });
  }

  /** Makes the domain active with a new runtime id (libvirt's `testDomainStartState`). */
  startState(dom: TestDomain, reason: DomainStateReason<'running'>): void {
    dom.id = this.#nextId++;
    dom.state = 'running';
    dom.reason = reason;
  }

  /** Shuts the domain off; the persistent definition becomes the definition again. */
  shutoffState(dom: TestDomain, reason: DomainStateReason<'shutoff'>): void {
    if (dom.newDef !== undefined) dom.def = dom.newDef;
    dom.newDef = undefined;
    dom.state = 'shutoff';
    dom.reason = reason;
    dom.id = -1;
  }

  /** Forgets a transient domain that has stopped, with its metadata. */
  dropIfTransient(dom: TestDomain): void {
    if (!dom.persistent) this.remove(dom);
  }
}

/**
 * Whether the domain has a runtime instance (running, paused, …).
 *
 * @internal
 */
export function isActive(dom: TestDomain): boolean {
  return dom.state !== 'shutoff';
}

/**
 * The persistent definition: the one a stop would leave behind.
 *
 * @internal
 */
export function persistentDef(dom: TestDomain): DomainDef {
  return dom.newDef ?? dom.def;
}
