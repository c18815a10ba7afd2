import {
  defineDriver,
  VirtError,
  type DriverConnection,
  type DriverOpenOptions,
  type ParsedUri,
} from 'virtkit';
import { testConnection } from './connection.js';
import { DEFAULT_NODE_XML } from './default-node.js';
import { loadNodeFile, populateWorld } from './node-xml.js';
import { TestWorld, type TestDriverSettings } from './state.js';

export type { TestDriverSettings } from './state.js';
/** The test driver's `driverOptions` (declared in the core so that `connect()` can check them). */
export type { TestDriverOptions } from 'virtkit';

/**
 * The in-memory `test` driver, libvirt's mock hypervisor rebuilt: `test:///default` is
 * libvirt's default world (one running persistent domain `test`), fresh for every connection;
 * `test:///abs/path/node.xml` loads a libvirt-style node file. Creation times come from the
 * connection clock, so a fixed `clock` makes runs deterministic. Where libvirt's test driver is
 * incomplete (disk-only and metadata-less snapshots, backup jobs, snapshots next to
 * checkpoints) it simulates the feature; `docs/libvirt-differences.md` lists every difference.
 *
 * Driver options (`connect(uri, { driverOptions })`): `backupDurationMs` — how much clock time
 * a push backup takes (default 100).
 *
 * @example
 * ```ts
 * let now = Date.UTC(2024, 0, 1);
 * await using conn = await connect('test:///default', { clock: () => now });
 * const domain = await conn.lookupDomainByName('test');
 * await domain.createSnapshot({ name: 's1' });
 * ```
 *
 * @throws `INVALID_ARG` for `test:///` without a path or a bad driver option, `NO_CONNECT` /
 * `OPEN_FAILED` / `XML_ERROR` for a node file that cannot be used.
 * @public
 */
export const testDriver = defineDriver({
  name: 'test',
  uriSchemes: ['test'],
  async open(uri: ParsedUri, options: DriverOpenOptions): Promise<DriverConnection | undefined> {
    if (uri.host !== undefined || uri.transport !== undefined) return undefined;
    const world = new TestWorld(options.clock, options.events, readSettings(options.driverOptions));
    if (uri.path === '' || uri.path === '/') {
      throw new VirtError('INVALID_ARG', 'testOpen: supply a path or use test:///default');
    }
    if (uri.path === '/default') await populateWorld(world, DEFAULT_NODE_XML, undefined);
    else await loadNodeFile(world, uri.path);
    return testConnection(world);
  },
});

const DEFAULT_SETTINGS: TestDriverSettings = { backupDurationMs: 100 };

function readSettings(options: Readonly<Record<string, unknown>>): TestDriverSettings {
  const unknown = Object.keys(options).filter((k) => !(k in DEFAULT_SETTINGS));
  if (unknown.length > 0) {
    throw new VirtError(
      'INVALID_ARG',
      `unsupported driver options (${unknown.join(', ')}) for the test driver`,
    );
  }
  const duration = options['backupDurationMs'] ?? DEFAULT_SETTINGS.backupDurationMs;
  if (typeof duration !== 'number' || !Number.isFinite(duration) || duration < 0) {
    throw new VirtError('INVALID_ARG', "invalid value for driver option 'backupDurationMs'");
  }
  return { backupDurationMs: duration };
}
