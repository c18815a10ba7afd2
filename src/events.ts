// libvirt's names (prefix removed) in libvirt's numeric order: the index of a name is its number.

/**
 * Domain states (`virDomainState`); the index is libvirt's number.
 *
 * @public
 */
export const DOMAIN_STATES = [
  'nostate',
  'running',
  'blocked',
  'paused',
  'shutdown',
  'shutoff',
  'crashed',
  'pmsuspended',
] as const;
/**
 * A domain state name (`VIR_DOMAIN_RUNNING` is `running`); `nostate` means the driver cannot tell.
 *
 * @public
 */
export type DomainState = (typeof DOMAIN_STATES)[number];

/**
 * State reasons per state (`virDomainRunningReason`, `virDomainPausedReason`, …); the index
 * is libvirt's number.
 *
 * @public
 */
export const DOMAIN_STATE_REASONS = {
  nostate: ['UNKNOWN'],
  running: [
    'UNKNOWN',
    'BOOTED',
    'MIGRATED',
    'RESTORED',
    'FROM_SNAPSHOT',
    'UNPAUSED',
    'MIGRATION_CANCELED',
    'SAVE_CANCELED',
    'WAKEUP',
    'CRASHED',
    'POSTCOPY',
    'POSTCOPY_FAILED',
  ],
  blocked: ['UNKNOWN'],
  paused: [
    'UNKNOWN',
    'USER',
    'MIGRATION',
    'SAVE',
    'DUMP',
    'IOERROR',
    'WATCHDOG',
    'FROM_SNAPSHOT',
    'SHUTTING_DOWN',
    'SNAPSHOT',
    'CRASHED',
    'STARTING_UP',
    'POSTCOPY',
    'POSTCOPY_FAILED',
    'API_ERROR',
  ],
  shutdown: ['UNKNOWN', 'USER'],
  shutoff: [
    'UNKNOWN',
    'SHUTDOWN',
    'DESTROYED',
    'CRASHED',
    'MIGRATED',
    'SAVED',
    'FAILED',
    'FROM_SNAPSHOT',
    'DAEMON',
  ],
  crashed: ['UNKNOWN', 'PANICKED'],
  pmsuspended: ['UNKNOWN'],
} as const satisfies Record<DomainState, readonly string[]>;

/**
 * A state reason valid for state `S`.
 *
 * @public
 */
export type DomainStateReason<S extends DomainState = DomainState> = (typeof DOMAIN_STATE_REASONS)[S][number];

/**
 * A state together with a reason valid for it, e.g. `{ state: 'running', reason: 'FROM_SNAPSHOT' }`.
 *
 * @public
 */
export interface DomainStateOf<S extends DomainState> {
  /** What the domain is doing now (`virDomainGetState`'s state). */
  readonly state: S;
  /** Why it got there; one of {@link DOMAIN_STATE_REASONS} for `state`. */
  readonly reason: DomainStateReason<S>;
}

/**
 * The state of a domain as returned by {@link Domain.getState}: a union over the states, so
 * checking `state` narrows `reason` to that state's reasons.
 *
 * @public
 */
export type DomainStateInfo = { [S in DomainState]: DomainStateOf<S> }[DomainState];

/**
 * Lifecycle event types and their details (`virDomainEventType` and the per-type detail
 * enums); indexes are libvirt's numbers.
 *
 * @public
 */
export const DOMAIN_EVENTS = {
  DEFINED: ['ADDED', 'UPDATED', 'RENAMED', 'FROM_SNAPSHOT'],
  UNDEFINED: ['REMOVED', 'RENAMED'],
  STARTED: ['BOOTED', 'MIGRATED', 'RESTORED', 'FROM_SNAPSHOT', 'WAKEUP'],
  SUSPENDED: [
    'PAUSED',
    'MIGRATED',
    'IOERROR',
    'WATCHDOG',
    'RESTORED',
    'FROM_SNAPSHOT',
    'API_ERROR',
    'POSTCOPY',
    'POSTCOPY_FAILED',
    'GUEST_SHUTDOWN',
  ],
  RESUMED: ['UNPAUSED', 'MIGRATED', 'FROM_SNAPSHOT', 'POSTCOPY', 'POSTCOPY_FAILED'],
  STOPPED: ['SHUTDOWN', 'DESTROYED', 'CRASHED', 'MIGRATED', 'SAVED', 'FAILED', 'FROM_SNAPSHOT'],
  SHUTDOWN: ['FINISHED', 'GUEST', 'HOST'],
  PMSUSPENDED: ['MEMORY', 'DISK'],
  CRASHED: ['PANICKED', 'CRASHLOADED'],
} as const;

/**
 * A lifecycle event type, e.g. `STARTED`.
 *
 * @public
 */
export type DomainEventType = keyof typeof DOMAIN_EVENTS;

/**
 * A detail valid for event type `E`, e.g. `FROM_SNAPSHOT`.
 *
 * @public
 */
export type DomainEventDetail<E extends DomainEventType = DomainEventType> =
  (typeof DOMAIN_EVENTS)[E][number];

/**
 * libvirt's number of an event type (`VIR_DOMAIN_EVENT_STARTED` = 2, …).
 *
 * @public
 */
export function domainEventCode(event: DomainEventType): number {
  return Object.keys(DOMAIN_EVENTS).indexOf(event);
}

/**
 * libvirt's number of an event detail (`VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT` = 3, …).
 *
 * @public
 */
export function domainEventDetailCode<E extends DomainEventType>(
  event: E,
  detail: DomainEventDetail<E>,
): number {
  return (DOMAIN_EVENTS[event] as readonly string[]).indexOf(detail);
}

/**
 * libvirt's number of a state reason (`VIR_DOMAIN_RUNNING_FROM_SNAPSHOT` = 4, …).
 *
 * @public
 */
export function domainStateReasonCode(state: DomainState, reason: DomainStateReason): number {
  return (DOMAIN_STATE_REASONS[state] as readonly string[]).indexOf(reason);
}

/**
 * Job kinds reported by {@link Domain.getJobInfo} (`virDomainJobType`).
 *
 * @public
 */
export const JOB_TYPES = ['none', 'bounded', 'unbounded', 'completed', 'failed', 'cancelled'] as const;
/**
 * A job's status (`VIR_DOMAIN_JOB_BOUNDED` is `bounded`): `none` when there is no job,
 * `bounded` / `unbounded` while one runs (with or without a known end), then `completed`,
 * `failed` or `cancelled`.
 *
 * @public
 */
export type JobType = (typeof JOB_TYPES)[number];

/**
 * Job operations (`virDomainJobOperation`).
 *
 * @public
 */
export const JOB_OPERATIONS = [
  'unknown',
  'start',
  'save',
  'restore',
  'migration-in',
  'migration-out',
  'snapshot',
  'snapshot-revert',
  'dump',
  'backup',
  'snapshot-delete',
] as const;
/**
 * What a job does (`VIR_DOMAIN_JOB_OPERATION_BACKUP` is `backup`); `unknown` when the driver
 * cannot tell.
 *
 * @public
 */
export type JobOperation = (typeof JOB_OPERATIONS)[number];

/**
 * Statistics of a domain job (`virDomainGetJobStats`). Times are milliseconds, data bytes.
 *
 * @public
 */
export interface JobInfo {
  /** The job's status (`virDomainJobType`); `none` when there is no job to report. */
  readonly type: JobType;
  /** `VIR_DOMAIN_JOB_OPERATION`: what the job does, e.g. `backup`. */
  readonly operation?: JobOperation;
  /** `VIR_DOMAIN_JOB_TIME_ELAPSED`: milliseconds since the job started. */
  readonly timeElapsed?: number;
  /** `VIR_DOMAIN_JOB_DATA_TOTAL`: bytes the job copies in all (push backups). */
  readonly dataTotal?: number;
  /** `VIR_DOMAIN_JOB_DATA_PROCESSED`: bytes copied so far. */
  readonly dataProcessed?: number;
  /** `VIR_DOMAIN_JOB_DATA_REMAINING`: bytes still to copy (`dataTotal - dataProcessed`). */
  readonly dataRemaining?: number;
  /** Pull backups: bytes used in the scratch images. */
  readonly tempUsed?: number;
  /** Pull backups: total size of the scratch images. */
  readonly tempTotal?: number;
  /** Why a failed job failed. */
  readonly errorMessage?: string;
}
