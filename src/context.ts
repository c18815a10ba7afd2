import { toVirtError, VirtError } from './errors.js';
import type { DomainIdentity, DriverConnection } from './driver/driver.js';
import { assertOptions, KNOWN_OPTIONS, type LongOperationOptions, type OptionsFunction } from './options.js';

/**
 * What every handle of one connection shares: the driver connection, its lifecycle and the
 * checks the core makes before dispatching (libvirt's public-wrapper checks).
 *
 * @internal
 */
export class ConnectionContext {
  #driver: DriverConnection | undefined;

  constructor(
    driver: DriverConnection,
    /** Name of the driver serving the connection, e.g. `test`; used in `NO_SUPPORT` details. */
    readonly driverName: string,
    /** Whether the connection was opened read-only, so mutating calls are refused. */
    readonly readOnly: boolean,
  ) {
    this.#driver = driver;
  }

  /** Whether the connection was closed (the driver connection is detached). */
  get closed(): boolean {
    return this.#driver === undefined;
  }

  /** The driver connection; `INVALID_CONN` after close. */
  driver(fn: string): DriverConnection {
    if (this.#driver === undefined) {
      throw new VirtError('INVALID_CONN', `invalid connection pointer in ${fn}: the connection is closed`);
    }
    return this.#driver;
  }

  /** Detaches the driver connection (close happens once). */
  detach(): DriverConnection | undefined {
    const d = this.#driver;
    this.#driver = undefined;
    return d;
  }

  /** An optional capability of the driver, or `NO_SUPPORT` like libvirt's missing table entry. */
  capability<K extends 'snapshots' | 'checkpoints' | 'backups' | 'qemu'>(
    key: K,
    fn: string,
  ): NonNullable<DriverConnection[K]> {
    const ops = this.driver(fn)[key];
    if (ops === undefined) {
      throw new VirtError('NO_SUPPORT', `${fn} is not supported by driver '${this.driverName}'`, {
        driver: this.driverName,
      });
    }
    return ops as NonNullable<DriverConnection[K]>;
  }

  /** Refuses mutating calls on a read-only connection. */
  assertWritable(fn: string): void {
    if (this.readOnly) {
      throw new VirtError('OPERATION_DENIED', `read only access prevents ${fn}`);
    }
  }

  /** Checks option keys and value types against the entry point's complete flag set. */
  checkOptions(options: object | undefined, known: OptionsFunction, fn: string): void {
    assertOptions(options, KNOWN_OPTIONS[known], fn);
    const signal = (options as LongOperationOptions | undefined)?.signal;
    if (signal?.aborted) {
      throw new VirtError('OPERATION_ABORTED', `${fn} was cancelled before it started`, {
        cause: signal.reason,
      });
    }
  }

  /** Runs a driver call, turning anything foreign it throws into a VirtError. */
  async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw toVirtError(err, this.driverName);
    }
  }
}

/** What a domain handle keeps out of the public API: its connection context and identity. */
interface DomainInternals {
  readonly ctx: ConnectionContext;
  readonly id: DomainIdentity;
}

const domainInternals = new WeakMap<object, DomainInternals>();
const connectionContexts = new WeakMap<object, ConnectionContext>();

/**
 * Records the context of a new connection handle, so its domain handles can find it without
 * a public constructor parameter.
 *
 * @internal
 */
export function bindConnection(connection: object, ctx: ConnectionContext): void {
  connectionContexts.set(connection, ctx);
}

/**
 * The context of a connection handle made by {@link bindConnection}.
 *
 * @internal
 */
export function contextOf(connection: object): ConnectionContext {
  const ctx = connectionContexts.get(connection);
  if (ctx === undefined) throw new VirtError('INVALID_CONN', 'invalid connection pointer');
  return ctx;
}

/**
 * Records the internals of a new domain handle.
 *
 * @internal
 */
export function bindDomain(domain: object, ctx: ConnectionContext, id: DomainIdentity): void {
  domainInternals.set(domain, { ctx, id });
}

/**
 * The internals of a domain handle made by {@link bindDomain}.
 *
 * @internal
 */
export function domainOf(domain: object): DomainInternals {
  const internals = domainInternals.get(domain);
  if (internals === undefined) throw new VirtError('INVALID_DOMAIN', 'invalid domain pointer');
  return internals;
}

/**
 * Checks that `value` is a non-empty string argument (libvirt's `virCheckNonNullArg`).
 *
 * @internal
 */
export function requireString(value: unknown, what: string, fn: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new VirtError('INVALID_ARG', `${what} in ${fn} must be a non-empty string`);
  }
  return value;
}
