import { VirtError } from '../errors.js';
import type { HypervisorDriver } from './driver.js';

/**
 * Identity helper that gives a driver value its type and checks its shape early.
 *
 * @throws `INVALID_ARG` when the value lacks a name, a scheme or an `open` function.
 *
 * @public
 */
export function defineDriver<D extends HypervisorDriver>(driver: D): D {
  assertDriverShape(driver);
  return driver;
}

/** @internal */
export function assertDriverShape(driver: unknown): asserts driver is HypervisorDriver {
  const d = driver as Partial<HypervisorDriver> | null;
  const ok =
    typeof d === 'object' &&
    d !== null &&
    typeof d.name === 'string' &&
    d.name.length > 0 &&
    Array.isArray(d.uriSchemes) &&
    d.uriSchemes.length > 0 &&
    d.uriSchemes.every((s) => typeof s === 'string' && /^[a-z][a-z0-9.-]*$/.test(s)) &&
    typeof d.open === 'function';
  if (!ok) {
    throw new VirtError('INVALID_ARG', 'a driver needs a name, lower-case uriSchemes and an open() function');
  }
}
