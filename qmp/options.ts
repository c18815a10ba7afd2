import type { VirtError } from 'virtkit';
import type { QmpCommandMap, QmpCommandName } from './commands.js';
import type { QmpEvent } from './types.js';

/**
 * Options of {@link QmpClient.connect}.
 *
 * @public
 */
export interface QmpConnectOptions {
  /**
   * Time allowed for connecting, the greeting and `qmp_capabilities` together.
   * @defaultValue 10000
   */
  readonly timeoutMs?: number;
  /** Aborts connecting (`OPERATION_ABORTED`). */
  readonly signal?: AbortSignal;
  /**
   * Retry while the socket does not exist yet or refuses connections (a QEMU just spawned),
   * until `timeoutMs` passes.
   * @defaultValue false
   */
  readonly waitForSocket?: boolean;
  /** Default timeout of every command, in milliseconds; none by default. */
  readonly commandTimeoutMs?: number;
  /**
   * Longest line accepted from QEMU; a longer one is a protocol error that closes the
   * connection.
   * @defaultValue 67108864 (64 MiB)
   */
  readonly maxLineBytes?: number;
}

/**
 * Options of one command.
 *
 * @public
 */
export interface QmpExecuteOptions {
  /** Fail with `OPERATION_TIMEOUT` when no reply came in time (overrides `commandTimeoutMs`). */
  readonly timeoutMs?: number;
  /** Fail with `OPERATION_ABORTED` when it aborts. */
  readonly signal?: AbortSignal;
}

/**
 * Options of {@link QmpClient.waitForEvent}.
 *
 * @public
 */
export interface QmpWaitOptions {
  /** Fail with `OPERATION_TIMEOUT` after this many milliseconds. */
  readonly timeoutMs?: number;
  /** Fail with `OPERATION_ABORTED` when it aborts. */
  readonly signal?: AbortSignal;
}

/**
 * Options of {@link QmpClient.events}.
 *
 * @public
 */
export interface QmpEventsOptions {
  /** Only these events; all by default. */
  readonly names?: readonly string[];
  /** Ends the iteration with `OPERATION_ABORTED`. */
  readonly signal?: AbortSignal;
  /**
   * Unread events kept before the iteration fails with `OPERATION_FAILED`.
   * @defaultValue 10000
   */
  readonly bufferSize?: number;
}

/**
 * The rest parameters of `QmpClient.execute` for a known command: `args` is required
 * when the command has required arguments.
 *
 * @public
 */
export type QmpExecuteRest<C extends QmpCommandName> = undefined extends QmpCommandMap[C]['args']
  ? [args?: QmpCommandMap[C]['args'], options?: QmpExecuteOptions]
  : [args: QmpCommandMap[C]['args'], options?: QmpExecuteOptions];

/**
 * Events of a {@link QmpClient}: `event` for every QMP event, `close` once when the
 * connection ends (with the reason, `undefined` after {@link QmpClient.close}).
 *
 * @public
 */
export interface QmpClientEvents {
  /** An asynchronous QMP event. */
  event: [event: QmpEvent];
  /** The connection ended. */
  close: [reason: VirtError | undefined];
}
