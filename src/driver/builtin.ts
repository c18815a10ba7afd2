import type { HypervisorDriver } from './driver.js';

/**
 * A driver that is loaded on first use.
 *
 * @public
 */
export type DriverLoader = () => Promise<HypervisorDriver>;

// Built-ins are imported lazily through the public package names, so importing the core never
// loads qemu code, and the loaded driver shares this very core (tsup keeps 'virtkit' external).
/** @internal */
export const BUILTIN_DRIVERS: Readonly<Record<string, DriverLoader>> = {
  test: async () => (await import('virtkit/drivers/test')).testDriver,
  qemu: async () => (await import('virtkit/drivers/qemu')).qemuDriver,
};
