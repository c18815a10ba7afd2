import { VirtError } from '../errors.js';
import type { ParsedUri } from '../util/uri.js';
import { BUILTIN_DRIVERS, type DriverLoader } from './builtin.js';
import { assertDriverShape } from './define-driver.js';
import type { DriverConnection, DriverOpenOptions, HypervisorDriver } from './driver.js';

/**
 * Drivers keyed by URI scheme. {@link connect} uses the default registry unless given one.
 *
 * @public
 */
export class DriverRegistry {
  readonly #drivers = new Map<string, HypervisorDriver | DriverLoader>();

  /** A registry that already knows the built-in `test` and `qemu` drivers (loaded lazily). */
  static withBuiltins(): DriverRegistry {
    const registry = new DriverRegistry();
    for (const [scheme, loader] of Object.entries(BUILTIN_DRIVERS)) registry.#drivers.set(scheme, loader);
    return registry;
  }

  /**
   * Files `driver` under each of its schemes.
   *
   * @throws `OPERATION_FAILED` when a scheme is already taken by a registered driver (a lazy
   * built-in that was never loaded may be overridden), `INVALID_ARG` for a malformed driver.
   */
  register(driver: HypervisorDriver): void {
    assertDriverShape(driver);
    for (const scheme of driver.uriSchemes) {
      const existing = this.#drivers.get(scheme);
      if (existing !== undefined && typeof existing !== 'function' && existing !== driver) {
        throw new VirtError(
          'OPERATION_FAILED',
          `URI scheme '${scheme}' is already served by driver '${existing.name}'`,
        );
      }
    }
    for (const scheme of driver.uriSchemes) this.#drivers.set(scheme, driver);
  }

  /** Removes the driver registered under `scheme`; returns whether there was one. */
  unregister(scheme: string): boolean {
    return this.#drivers.delete(scheme);
  }

  /** Registered schemes. */
  schemes(): string[] {
    return [...this.#drivers.keys()];
  }

  /**
   * Opens `uri` with the driver of its scheme.
   *
   * @throws `NO_CONNECT` naming the scheme and what was tried when no driver accepts it.
   * @internal
   */
  async open(
    uri: ParsedUri,
    options: DriverOpenOptions,
  ): Promise<{ driver: HypervisorDriver; conn: DriverConnection }> {
    const entry = this.#drivers.get(uri.scheme);
    if (entry === undefined) {
      throw new VirtError(
        'NO_CONNECT',
        `no connection driver available for ${uri.uri} (no driver serves scheme '${uri.scheme}'; registered: ${
          this.schemes().join(', ') || 'none'
        })`,
      );
    }
    const driver = typeof entry === 'function' ? await this.#load(uri.scheme, entry) : entry;
    const conn = await driver.open(uri, options);
    if (conn === undefined) {
      throw new VirtError(
        'NO_CONNECT',
        `no connection driver available for ${uri.uri} (driver '${driver.name}' declined it)`,
      );
    }
    return { driver, conn };
  }

  async #load(scheme: string, loader: DriverLoader): Promise<HypervisorDriver> {
    let driver: HypervisorDriver;
    try {
      driver = await loader();
    } catch (cause) {
      throw new VirtError('NO_CONNECT', `failed to load the driver for scheme '${scheme}'`, { cause });
    }
    assertDriverShape(driver);
    if (this.#drivers.get(scheme) === loader) this.#drivers.set(scheme, driver);
    return driver;
  }
}

const REGISTRY_KEY = Symbol.for('virtkit.registry.v1');

/**
 * The process-wide registry, shared by the ESM and CJS copies of virtkit.
 *
 * @public
 */
export function defaultRegistry(): DriverRegistry {
  const g = globalThis as { [REGISTRY_KEY]?: DriverRegistry };
  g[REGISTRY_KEY] ??= DriverRegistry.withBuiltins();
  return g[REGISTRY_KEY];
}

/**
 * Registers a third-party driver in the default registry.
 *
 * @example
 * ```ts
 * registerDriver(defineDriver({ name: 'mine', uriSchemes: ['mine'], open: async () => undefined }));
 * ```
 *
 * @throws `OPERATION_FAILED` when one of its schemes is taken.
 *
 * @public
 */
export function registerDriver(driver: HypervisorDriver): void {
  defaultRegistry().register(driver);
}
