import { constants } from 'node:fs';
import { access as accessFile, chmod, mkdir, realpath, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import {
  VirtError,
  type DomainIdentity,
  type DriverConnection,
  type DriverOpenOptions,
  type ParsedUri,
  type QemuDriverOptions,
} from 'virtkit';
import { DomainAccess, type QemuContext } from './access.js';
import { createCheckpointOps } from './checkpoints.js';
import { DIR_MODE, ensureDir, listDir, sweepTempFiles } from './atomic-file.js';
import { createDomainOps } from './domains.js';
import { readJournal, type FaultInjection } from './journal.js';
import { isStorableName, RootLayout } from './layout.js';
import { isProcessAlive } from './lock.js';
import { MetadataStore } from './metadata.js';
import { QemuImg, QEMU_IMG_MISSING } from './qemu-img.js';
import { QemuRuntime } from './runtime.js';
import { createSnapshotOps } from './snapshots.js';

const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

// The crash tests' fault injection (FaultInjection in journal.ts) is keyed by a registered
// symbol, not a documented option: no string key (configuration file, JSON, spread user input)
// can switch it on, and Object.keys — the unknown-key check — does not see it.
const FAULT_INJECTION_KEY = Symbol.for('virtkit.qemu.faultInjection');

/**
 * The root directory a `qemu:` URI names: `qemu:///embed?root=DIR` (absolute DIR) or
 * `qemu:///session` (`$XDG_DATA_HOME/virtkit/qemu`, default `~/.local/share/virtkit/qemu`).
 * Returns `undefined` for URIs of another host or transport (declined).
 *
 * @throws `NO_CONNECT` naming what is wrong with the URI.
 * @internal
 */
export function rootFromUri(uri: ParsedUri, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (uri.host !== undefined || uri.transport !== undefined) return undefined;
  switch (uri.path) {
    case '/embed': {
      const root = uri.query['root'];
      if (root === undefined || root === '') {
        throw new VirtError(
          'NO_CONNECT',
          `qemu:///embed needs a 'root' parameter: qemu:///embed?root=/abs/dir`,
        );
      }
      if (!isAbsolute(root))
        throw new VirtError('NO_CONNECT', `qemu:///embed root '${root}' must be an absolute path`);
      return root;
    }
    case '/session': {
      const data = env['XDG_DATA_HOME'];
      const base = data !== undefined && isAbsolute(data) ? data : join(homedir(), '.local', 'share');
      return join(base, 'virtkit', 'qemu');
    }
    default:
      throw new VirtError(
        'NO_CONNECT',
        `unsupported qemu URI path '${uri.path}': use qemu:///embed?root=DIR or qemu:///session`,
      );
  }
}

/**
 * Opens a qemu connection on `root`: creates the layout (owner-only), removes temporary
 * files of dead writers, and finishes every journal a crashed process left.
 *
 * @internal
 */
export async function openQemuConnection(
  root: string,
  options: DriverOpenOptions,
): Promise<DriverConnection> {
  const { driverOptions, faultInjection } = checkDriverOptions(options.driverOptions);
  if (driverOptions.runner === undefined) await findQemuImg(driverOptions.qemuImg);
  const layout = await createRoot(root);
  const ctx: QemuContext = {
    layout,
    store: new MetadataStore(layout),
    qemuImg: new QemuImg({ binary: driverOptions.qemuImg, runner: driverOptions.runner }),
    clock: options.clock,
    events: options.events,
    faultInjection,
    lockTimeoutMs: driverOptions.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
  };
  const access = new DomainAccess(ctx);
  await recoverRoot(ctx, access);
  const runtime = new QemuRuntime(layout, options.events, driverOptions.qemuSystem);
  // Re-attach once the caller holds the connection (and can listen): a QEMU that died while
  // nobody was attached is reported as an event then, or by the first call that asks for it.
  setImmediate(() => void runtime.reattachAll().catch(() => undefined));
  const offline = offlineOnly(runtime);
  return {
    domains: createDomainOps(ctx, access, runtime),
    snapshots: offline(createSnapshotOps(ctx, access), {
      create: 'snapshot creation',
      revert: 'snapshot revert',
      delete: 'snapshot deletion',
    }),
    checkpoints: offline(createCheckpointOps(ctx, access), {
      create: 'checkpoint creation',
      delete: 'checkpoint deletion',
    }),
    qemu: {
      async monitorCommand(domain, command, opts) {
        await createDomainOps(ctx, access, runtime).refresh(domain);
        return runtime.monitorCommand(domain.name, command, opts.hmp === true);
      },
    },
    async close() {
      await runtime.close();
    },
  };
}

/**
 * Wraps the operations named in `what` so that they refuse a running domain before changing
 * anything: live snapshots, checkpoints and backups come with QMP support (issue 11).
 */
function offlineOnly(runtime: QemuRuntime) {
  return <T extends object>(ops: T, what: Partial<Record<keyof T, string>>): T => {
    const wrapped = { ...ops };
    for (const [key, label] of Object.entries(what) as [keyof T, string][]) {
      const fn = ops[key] as unknown as (domain: DomainIdentity, ...rest: unknown[]) => Promise<unknown>;
      (wrapped as Record<keyof T, unknown>)[key] = async (domain: DomainIdentity, ...rest: unknown[]) => {
        if ((await runtime.status(domain.name)) !== undefined) {
          throw new VirtError(
            'OPERATION_UNSUPPORTED',
            `${label} of a running domain is not supported yet by the qemu driver`,
            { driver: 'qemu' },
          );
        }
        return fn.call(ops, domain, ...rest);
      };
    }
    return wrapped;
  };
}

/**
 * Finds the qemu-img binary (a path, or a name looked up on PATH) without running it, so a
 * missing one is reported at connect instead of by the first change.
 *
 * @throws `NO_CONNECT` "qemu-img not found: install Debian's qemu-utils or set driverOptions.qemuImg".
 * @internal
 */
export async function findQemuImg(
  binary: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const name = binary ?? 'qemu-img';
  const candidates = name.includes('/')
    ? [resolve(name)]
    : (env['PATH'] ?? '')
        .split(delimiter)
        .filter((d) => d !== '')
        .map((d) => join(d, name));
  for (const candidate of candidates) {
    try {
      await accessFile(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not this one
    }
  }
  const where = binary === undefined ? 'on PATH' : `at driverOptions.qemuImg '${binary}'`;
  throw new VirtError('NO_CONNECT', `${QEMU_IMG_MISSING} (looked ${where})`, {
    driver: 'qemu',
    details: { qemuImg: name },
  });
}

/** Creates the root (0700) and its directories; the layout uses the root's canonical path. */
async function createRoot(root: string): Promise<RootLayout> {
  try {
    const created = await mkdir(root, { recursive: true, mode: DIR_MODE });
    if (created !== undefined) await chmod(root, DIR_MODE);
    const layout = new RootLayout(await realpath(root));
    for (const dir of layout.topDirs) await ensureDir(dir);
    return layout;
  } catch (cause) {
    throw new VirtError('NO_CONNECT', `cannot use '${root}' as qemu root: ${(cause as Error).message}`, {
      cause,
      driver: 'qemu',
    });
  }
}

async function recoverRoot(ctx: QemuContext, access: DomainAccess): Promise<void> {
  const { layout } = ctx;
  const alive = (pid: number): boolean => isProcessAlive(pid);
  await sweepTempFiles(layout.domainsDir, alive);
  await sweepTempFiles(layout.journalDir, alive);
  await sweepStaleLockLeftovers(layout.locksDir);
  for (const domain of await ctx.store.domainNames()) {
    await sweepTempFiles(layout.snapshotDir(domain), alive);
    await sweepTempFiles(layout.checkpointDir(domain), alive);
  }
  for (const entry of await listDir(layout.journalDir)) {
    const name = entry.endsWith('.json') ? entry.slice(0, -'.json'.length) : undefined;
    if (name === undefined || !isStorableName(name)) continue;
    const record = await readJournal(layout.journalFile(name)).catch(() => undefined);
    if (record !== undefined && isProcessAlive(record.pid) && record.pid !== process.pid) continue;
    // A journal that cannot be finished now (e.g. an image still locked by a qemu-img the
    // crashed process left running) stays; the domain's next operation retries and reports it.
    await access.recover(name).catch(() => undefined);
  }
}

/** Lock files renamed aside by a takeover that died before removing them. */
async function sweepStaleLockLeftovers(dir: string): Promise<void> {
  for (const entry of await listDir(dir)) {
    const m = /\.stale\.(\d+)\.[0-9a-f]+$/.exec(entry);
    if (m?.[1] !== undefined && !isProcessAlive(Number(m[1])))
      await unlink(join(dir, entry)).catch(() => undefined);
  }
}

function checkDriverOptions(raw: Readonly<Record<string, unknown>>): {
  driverOptions: QemuDriverOptions;
  faultInjection: FaultInjection | undefined;
} {
  const known = ['qemuImg', 'qemuSystem', 'lockTimeoutMs', 'runner'];
  const unknown = Object.keys(raw).filter((k) => !known.includes(k));
  const bad = (what: string): VirtError =>
    new VirtError('INVALID_ARG', `qemu driverOptions.${what}`, { driver: 'qemu' });
  if (unknown.length > 0) throw bad(`${unknown.join(', ')} unknown (known: ${known.join(', ')})`);
  const { qemuImg, qemuSystem, lockTimeoutMs, runner } = raw;
  const faultInjection = (raw as { readonly [FAULT_INJECTION_KEY]?: unknown })[FAULT_INJECTION_KEY];
  if (qemuImg !== undefined && (typeof qemuImg !== 'string' || qemuImg === ''))
    throw bad('qemuImg must be a path');
  if (qemuSystem !== undefined && (typeof qemuSystem !== 'string' || qemuSystem === ''))
    throw bad('qemuSystem must be a path');
  if (lockTimeoutMs !== undefined && (typeof lockTimeoutMs !== 'number' || !(lockTimeoutMs >= 0))) {
    throw bad('lockTimeoutMs must be a number >= 0');
  }
  if (runner !== undefined && typeof runner !== 'function') throw bad('runner must be a function');
  if (faultInjection !== undefined) {
    const k = (faultInjection as FaultInjection | null)?.killAtStep;
    if (
      typeof faultInjection !== 'object' ||
      faultInjection === null ||
      (k !== undefined && !Number.isInteger(k))
    ) {
      throw bad('[fault injection] must be { killAtStep?: integer }');
    }
  }
  return {
    driverOptions: raw as QemuDriverOptions,
    faultInjection: faultInjection as FaultInjection | undefined,
  };
}
