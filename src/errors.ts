/**
 * libvirt's error numbers (`virErrorNumber`) for the codes virtkit raises, keyed by the
 * libvirt name without its `VIR_ERR_` prefix. The numbers were checked against
 * python3-libvirt 9.0.
 *
 * @public
 */
export const ERROR_CODES = {
  INTERNAL_ERROR: 1,
  NO_SUPPORT: 3,
  NO_CONNECT: 5,
  INVALID_CONN: 6,
  INVALID_DOMAIN: 7,
  INVALID_ARG: 8,
  OPERATION_FAILED: 9,
  XML_ERROR: 27,
  DOM_EXIST: 28,
  OPERATION_DENIED: 29,
  OPEN_FAILED: 30,
  READ_FAILED: 31,
  WRITE_FAILED: 34,
  XML_DETAIL: 35,
  SYSTEM_ERROR: 38,
  NO_DOMAIN: 42,
  OPERATION_INVALID: 55,
  CONFIG_UNSUPPORTED: 67,
  OPERATION_TIMEOUT: 68,
  INVALID_DOMAIN_SNAPSHOT: 71,
  NO_DOMAIN_SNAPSHOT: 72,
  ARGUMENT_UNSUPPORTED: 74,
  SNAPSHOT_REVERT_RISKY: 77,
  OPERATION_ABORTED: 78,
  OPERATION_UNSUPPORTED: 84,
  RESOURCE_BUSY: 87,
  XML_INVALID_SCHEMA: 92,
  INVALID_DOMAIN_CHECKPOINT: 102,
  NO_DOMAIN_CHECKPOINT: 103,
  NO_DOMAIN_BACKUP: 104,
  CHECKPOINT_INCONSISTENT: 109,
} as const;

/**
 * A stable error code: libvirt's `virErrorNumber` name without the `VIR_ERR_` prefix.
 *
 * @public
 */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Extra data attached to a {@link VirtError}: the failing command's arguments, exit code
 * and stderr, the position of an XML error, and so on.
 *
 * @public
 */
export interface VirtErrorDetails {
  /** Line (1-based) of an XML error. */
  readonly line?: number;
  /** Column (1-based) of an XML error. */
  readonly column?: number;
  /** The external command that failed, as an argument array. */
  readonly command?: readonly string[];
  /** Exit code of the failed command. */
  readonly exitCode?: number | null;
  /** Standard error of the failed command. */
  readonly stderr?: string;
  /** Anything else a driver wants to report. */
  readonly [key: string]: unknown;
}

/**
 * Options of the {@link VirtError} constructor.
 *
 * @public
 */
export interface VirtErrorOptions {
  /** The underlying error. */
  cause?: unknown;
  /** Structured data about the failure. */
  details?: VirtErrorDetails;
  /** Name of the driver that raised the error. */
  driver?: string;
}

const BRAND = Symbol.for('virtkit.VirtError');

/**
 * The one error class virtkit throws. Match on {@link VirtError.code}, which keeps
 * libvirt's names (`NO_DOMAIN_SNAPSHOT`, `OPERATION_INVALID`, `INVALID_ARG`, …).
 *
 * `instanceof VirtError` works even when both the ESM and the CJS copy of virtkit are
 * loaded in one process; {@link isVirtError} does the same as a function.
 *
 * @example
 * ```ts
 * try {
 *   await domain.lookupSnapshotByName('nope');
 * } catch (err) {
 *   if (isVirtError(err, 'NO_DOMAIN_SNAPSHOT')) console.log(err.message);
 * }
 * ```
 *
 * @public
 */
export class VirtError extends Error {
  /** libvirt's error name without `VIR_ERR_`. */
  readonly code: ErrorCode;
  /** libvirt's numeric error code (`virErrorNumber`). */
  readonly libvirtCode: number;
  /** Structured details (command, stderr, XML position, …). */
  readonly details: VirtErrorDetails;
  /** The driver that raised the error, when known. */
  readonly driver: string | undefined;

  constructor(code: ErrorCode, message: string, options: VirtErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VirtError';
    this.code = code;
    this.libvirtCode = ERROR_CODES[code];
    this.details = options.details ?? {};
    this.driver = options.driver;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** Brand check so that `instanceof` survives duplicated module copies. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/**
 * Tells whether `err` is a {@link VirtError}, optionally with the given code.
 *
 * @public
 */
export function isVirtError(err: unknown, code?: ErrorCode): err is VirtError {
  return err instanceof VirtError && (code === undefined || err.code === code);
}

/**
 * Wraps anything thrown by a driver into a {@link VirtError} (`INTERNAL_ERROR`), keeping
 * the original as `cause`; VirtErrors pass through unchanged.
 *
 * @internal
 */
export function toVirtError(err: unknown, driver?: string): VirtError {
  if (err instanceof VirtError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new VirtError('INTERNAL_ERROR', message, { cause: err, driver });
}
