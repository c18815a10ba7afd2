/**
 * QEMU's version as announced in the QMP greeting.
 *
 * @public
 */
export interface QmpVersion {
  /** Major, minor and micro version numbers (`7.2.22` is `{ major: 7, minor: 2, micro: 22 }`). */
  readonly qemu: { readonly major: number; readonly minor: number; readonly micro: number };
  /** The distribution's package string, e.g. `Debian 1:7.2+dfsg-7+deb12u18`. */
  readonly package: string;
}

/**
 * The greeting QEMU sends first on a QMP connection.
 *
 * @public
 */
export interface QmpGreeting {
  /** QEMU's version. */
  readonly version: QmpVersion;
  /** Capabilities QEMU offers (`oob`); the client enables none of them. */
  readonly capabilities: readonly string[];
}

/**
 * The run states `query-status` reports (QAPI `RunState`).
 *
 * @public
 */
export const QMP_RUN_STATES = [
  'debug',
  'inmigrate',
  'internal-error',
  'io-error',
  'paused',
  'postmigrate',
  'prelaunch',
  'finish-migrate',
  'restore-vm',
  'running',
  'save-vm',
  'shutdown',
  'suspended',
  'watchdog',
  'guest-panicked',
  'colo',
] as const;

/**
 * A QEMU run state (QAPI `RunState`).
 *
 * @public
 */
export type QmpRunState = (typeof QMP_RUN_STATES)[number];

/**
 * The states of a QEMU job (QAPI `JobStatus`). A job the client waits for ends in
 * `concluded`; `null` is reported once it has been dismissed.
 *
 * @public
 */
export const QMP_JOB_STATUSES = [
  'undefined',
  'created',
  'running',
  'paused',
  'ready',
  'standby',
  'waiting',
  'pending',
  'aborting',
  'concluded',
  'null',
] as const;

/**
 * A QEMU job state (QAPI `JobStatus`).
 *
 * @public
 */
export type QmpJobStatus = (typeof QMP_JOB_STATUSES)[number];

/**
 * One entry of `query-jobs` (QAPI `JobInfo`).
 *
 * @public
 */
export interface QmpJobInfo {
  /** The job id given when it was started (`job-id`). */
  readonly id: string;
  /** The kind of job: `commit`, `stream`, `mirror`, `backup`, `create`, `snapshot-save`, … */
  readonly type: string;
  /** Its current state. */
  readonly status: QmpJobStatus;
  /** Progress so far, in units of `total-progress`. */
  readonly 'current-progress': number;
  /** Estimated total; only the ratio to `current-progress` means something. */
  readonly 'total-progress': number;
  /** Why the job failed; present only on a concluded job that failed. */
  readonly error?: string;
}

/**
 * When QEMU emitted an event.
 *
 * @public
 */
export interface QmpTimestamp {
  /** Seconds since the epoch. */
  readonly seconds: number;
  /** Microseconds within the second. */
  readonly microseconds: number;
}

/**
 * The data of the events virtkit knows by name. Other events arrive too, with their data
 * as a plain object.
 *
 * @public
 */
export interface QmpEventMap {
  /** The guest stopped running (`stop`, an I/O error policy, migration). */
  STOP: Record<string, never>;
  /** The guest runs again (`cont`). */
  RESUME: Record<string, never>;
  /** QEMU is shutting down: `guest` tells whether the guest asked for it. */
  SHUTDOWN: { readonly guest: boolean; readonly reason: string };
  /** `system_powerdown` was delivered to the guest. */
  POWERDOWN: Record<string, never>;
  /** The guest was reset. */
  RESET: { readonly guest: boolean; readonly reason: string };
  /** A job changed state. */
  JOB_STATUS_CHANGE: { readonly id: string; readonly status: QmpJobStatus };
  /** A block job finished (with `error` when it failed). */
  BLOCK_JOB_COMPLETED: QmpBlockJobEventData & { readonly error?: string };
  /** A block job was cancelled. */
  BLOCK_JOB_CANCELLED: QmpBlockJobEventData;
  /** A mirror or active commit job can be completed with `block-job-complete`. */
  BLOCK_JOB_READY: QmpBlockJobEventData;
  /** A block job met an I/O error. */
  BLOCK_JOB_ERROR: { readonly device: string; readonly operation: string; readonly action: string };
  /** A block export was removed. */
  BLOCK_EXPORT_DELETED: { readonly id: string };
  /** Migration changed state (only after `migrate-set-capabilities` with `events`). */
  MIGRATION: { readonly status: string };
  /** A device was unplugged. */
  DEVICE_DELETED: { readonly device?: string; readonly path: string };
}

/**
 * Common data of the `BLOCK_JOB_*` events.
 *
 * @public
 */
export interface QmpBlockJobEventData {
  /** The job type (`commit`, `stream`, `mirror`, `backup`). */
  readonly type: string;
  /** The job id (QEMU calls it `device` in these events). */
  readonly device: string;
  /** Total amount of work. */
  readonly len: number;
  /** Work done. */
  readonly offset: number;
  /** Speed limit in bytes per second, 0 for none. */
  readonly speed: number;
}

/**
 * The name of an event virtkit knows the data of.
 *
 * @public
 */
export type QmpEventName = keyof QmpEventMap;

/**
 * An asynchronous event from QEMU. For a known name `data` is typed by {@link QmpEventMap}.
 *
 * @public
 */
export interface QmpEvent<N extends string = string> {
  /** The event's name, e.g. `STOP` or `JOB_STATUS_CHANGE`. */
  readonly event: N;
  /** The event's data (`{}` when QEMU sent none). */
  readonly data: N extends QmpEventName ? QmpEventMap[N] : Readonly<Record<string, unknown>>;
  /** When QEMU emitted it. */
  readonly timestamp: QmpTimestamp;
}
