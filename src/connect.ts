import { Connection } from './connection.js';
import type { DriverEventSink, DriverRecoveryEvent } from './driver/driver.js';
import type { DriverOptionsFor } from './driver/driver-options.js';
import { defaultRegistry, type DriverRegistry } from './driver/registry.js';
import { VirtError } from './errors.js';
import { parseUri } from './util/uri.js';

/**
 * Options of {@link connect}; `D` is the type of `driverOptions`, which `connect()` derives
 * from the URI's scheme ({@link DriverOptionsFor}).
 *
 * @public
 */
export interface ConnectOptions<D extends object = Record<string, unknown>> {
  /** Refuse every mutating call with `OPERATION_DENIED` (libvirt `VIR_CONNECT_RO`). */
  readOnly?: boolean;
  /**
   * Current time in milliseconds, used for creation times and generated names. Give a fixed
   * clock for deterministic tests.
   * @defaultValue `Date.now`
   */
  clock?: () => number;
  /** Registry to resolve the scheme in. @defaultValue the process-wide registry */
  registry?: DriverRegistry;
  /**
   * Driver-specific settings, passed to the driver's `open()` untouched: for a literal URI
   * typed by its scheme ({@link QemuDriverOptions} for `qemu:`, {@link TestDriverOptions}
   * for `test:`), so an unknown key is a compile error; the driver refuses unknown keys at
   * run time too (`INVALID_ARG`).
   */
  driverOptions?: D;
  /**
   * Called, synchronously and as it happens, while the driver recovers an operation that a
   * crashed process (or a committed operation whose later step failed) left unfinished —
   * during `connect()` itself, which does not return before that recovery ended, and later,
   * when an operation on the connection finds such a journal. The only way to watch the
   * recovery that `connect()` does; later ones also reach the connection's `recovery` event.
   *
   * @example
   * ```ts
   * const conn = await connect('qemu:///embed?root=/srv/vms', {
   *   onRecovery: (e) => console.log(`recovering ${e.operation} of ${e.domain}: ${e.stage} ${e.progress?.phase ?? ''}`),
   * });
   * ```
   */
  onRecovery?: (event: RecoveryEvent) => void;
}

/**
 * The recovery of an interrupted operation (see {@link ConnectOptions.onRecovery} and the
 * `recovery` event of {@link Connection}).
 *
 * @public
 */
export type RecoveryEvent = DriverRecoveryEvent;

/**
 * Opens a connection to the driver serving `uri`'s scheme: `test:///default`,
 * `test:///abs/path/node.xml`, `qemu:///embed?root=/srv/vms`, `qemu:///session`, or a
 * scheme registered with {@link registerDriver}.
 *
 * @example
 * ```ts
 * await using conn = await connect('test:///default');
 * const [domain] = await conn.listDomains();
 * ```
 *
 * @throws `NO_CONNECT` naming the scheme and what was tried when no driver accepts the URI,
 * `INVALID_ARG` for a malformed URI or options.
 *
 * @public
 */
export async function connect<const U extends string>(
  uri: U,
  options: ConnectOptions<DriverOptionsFor<U>> = {},
): Promise<Connection> {
  const parsed = parseUri(uri);
  checkConnectOptions(options);
  // Events a driver sends while opening are delivered once the Connection exists.
  const box: { target?: Connection } = {};
  const pending: ((c: Connection) => void)[] = [];
  const deliver = (f: (c: Connection) => void): void => {
    if (box.target) f(box.target);
    else pending.push(f);
  };
  const events: DriverEventSink = {
    domainEvent: (e) => deliver((c) => c.dispatchDomainEvent(e.domain, e.event, e.detail)),
    domainReboot: (e) => deliver((c) => c.dispatchDomainReboot(e.domain)),
    jobCompleted: (e) => deliver((c) => c.dispatchJobCompleted(e.domain, e.info)),
    recovery: (e) => {
      options.onRecovery?.(e);
      deliver((c) => c.dispatchRecovery(e));
    },
  };
  const registry = options.registry ?? defaultRegistry();
  const readOnly = options.readOnly ?? false;
  const { driver, conn } = await registry.open(parsed, {
    readOnly,
    clock: options.clock ?? Date.now,
    events,
    driverOptions: (options.driverOptions ?? {}) as Readonly<Record<string, unknown>>,
  });
  const target = new Connection(uri, driver.name, conn, readOnly);
  box.target = target;
  for (const f of pending.splice(0)) f(target);
  return target;
}

function checkConnectOptions(options: ConnectOptions<object>): void {
  const known = ['readOnly', 'clock', 'registry', 'driverOptions', 'onRecovery'];
  const bad = Object.keys(options).filter((k) => !known.includes(k));
  if (bad.length > 0) {
    throw new VirtError('INVALID_ARG', `unsupported flags (${bad.join(', ')}) in function connect`);
  }
  for (const key of ['clock', 'onRecovery'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') {
      throw new VirtError('INVALID_ARG', `invalid value for option '${key}' in function connect`);
    }
  }
}
