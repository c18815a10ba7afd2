import { defineDriver, type HypervisorDriver } from 'virtkit';
import { openQemuConnection, rootFromUri } from './connection.js';

/** The qemu driver's `driverOptions` (declared in the core so that `connect()` can check them). */
export type { QemuDriverOptions } from 'virtkit';

/**
 * The qemu driver: `qemu:///embed?root=DIR` keeps every definition, snapshot and checkpoint
 * under `DIR`; `qemu:///session` does the same under the user's data directory. Shut-off
 * domains are handled with `qemu-img` (internal and external snapshots, checkpoints as
 * persistent bitmaps), every multi-step operation is journaled and recovered after a crash.
 * See `docs/qemu-driver.md`.
 *
 * @example
 * ```ts
 * await using conn = await connect('qemu:///embed?root=/srv/vms');
 * ```
 *
 * @public
 */
export const qemuDriver: HypervisorDriver = defineDriver({
  name: 'qemu',
  uriSchemes: ['qemu'],
  async open(uri, options) {
    const root = rootFromUri(uri);
    return root === undefined ? undefined : openQemuConnection(root, options);
  },
});
