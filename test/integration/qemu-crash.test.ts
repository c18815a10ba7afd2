// Fault injection: every journaled operation is run in a child process that SIGKILLs itself
// right after journal step n (n = 0 … until the operation completes). A new connection must
// then find the domain entirely in the old or entirely in the new state — metadata, internal
// snapshots, bitmaps, overlays and data — with no journal, lock or temporary file left over.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  isVirtError,
  type Connection,
  type Domain,
  type DomainCheckpoint,
  type DomainSnapshot,
} from 'virtkit';
import {
  backingOf,
  bitmapNames,
  domainXml,
  HAVE_QEMU,
  holds,
  img,
  info,
  listTree,
  makeDisks,
  newWorld,
  open,
  snapshotNames,
  writeSlots,
  type TestDisk,
  type World,
} from './qemu-fixture.js';

const CHILD = fileURLToPath(new URL('./qemu-crash-child.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Cumulative data of version v on disk i: slot k ≤ v holds pattern 16·(i+1)+k. */
const patterns = (i: number, v: number): number[] => [0, 1, 2, 3].map((k) => (k <= v ? 16 * (i + 1) + k : 0));

interface Fixture {
  readonly world: World;
  readonly disks: TestDisk[];
}

type Setup = (conn: Connection, dom: Domain, f: Fixture) => Promise<void>;

function writeVersion(f: Fixture, v: number, path?: (d: TestDisk) => string): void {
  f.disks.forEach((d, i) => writeSlots(path?.(d) ?? d.path, 'qcow2', patterns(i, v)));
}

const snap = (dom: Domain, name: string): Promise<DomainSnapshot> =>
  dom.createSnapshot(`<domainsnapshot><name>${name}</name></domainsnapshot>`);
const ckpt = (dom: Domain, name: string): Promise<DomainCheckpoint> =>
  dom.createCheckpoint(`<domaincheckpoint><name>${name}</name></domaincheckpoint>`);

const SCENARIOS: Record<string, Setup> = {
  'internal-create': async (_c, dom, f) => {
    writeVersion(f, 0);
    await snap(dom, 'base');
    writeVersion(f, 1);
  },
  'internal-revert': async (conn, dom, f) => {
    writeVersion(f, 0);
    await snap(dom, 'base');
    writeVersion(f, 1);
    await snap(dom, 'top');
    writeVersion(f, 2);
    const xml = domainXml('vm', f.disks).replace('</name>', `</name>\n  <uuid>${dom.uuid}</uuid>`);
    await conn.defineDomain(xml.replace('65536', '262144'));
  },
  'internal-delete': async (_c, dom, f) => {
    writeVersion(f, 0);
    await snap(dom, 'base');
    writeVersion(f, 1);
    await snap(dom, 'top');
  },
  'internal-delete-children': async (_c, dom, f) => {
    writeVersion(f, 0);
    await snap(dom, 'base');
    writeVersion(f, 1);
    await snap(dom, 'top');
  },
  'external-create': async (_c, dom, f) => {
    writeVersion(f, 0);
    await ckpt(dom, 'c1');
  },
  'checkpoint-create': async (_c, dom, f) => {
    await ckpt(dom, 'c1');
    writeVersion(f, 0);
  },
  'checkpoint-delete': async (_c, dom, f) => {
    await ckpt(dom, 'c1');
    writeVersion(f, 0);
    await ckpt(dom, 'c2');
    writeVersion(f, 1);
  },
};

async function prepare(setup: Setup): Promise<Fixture> {
  const world = newWorld('virtkit-crash-');
  const disks = makeDisks(world, ['vda', 'vdb']);
  const conn = await open(world);
  const dom = await conn.defineDomain(domainXml('vm', disks));
  const f = { world, disks };
  await setup(conn, dom, f);
  await conn.close();
  return f;
}

interface ChildResult {
  readonly killed: boolean;
  readonly completed: boolean;
  readonly stderr: string;
}

function runChild(world: World, operation: string, killAt: number): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, world.uri, operation, String(killAt)], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return {
    killed: r.signal === 'SIGKILL',
    completed: r.status === 0 && r.stdout.includes('completed'),
    stderr: r.stderr,
  };
}

async function treeOf(
  list: () => Promise<(DomainSnapshot | DomainCheckpoint)[]>,
): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const m of await list()) {
    try {
      out[m.name] = (await m.getParent()).name;
    } catch (err) {
      if (!isVirtError(err)) throw err;
      out[m.name] = null;
    }
  }
  return out;
}

/** What a user (and qemu-img) can see of the domain, with temp paths normalised. */
async function observe(f: Fixture): Promise<unknown> {
  const conn = await open(f.world);
  try {
    const dom = await conn.lookupDomainByName('vm');
    const xml = await dom.getXml();
    const sources = [...xml.matchAll(/<source file='([^']+)'/g)].map((m) => m[1] ?? '');
    const data = sources.map(
      (s, i) => [0, 1, 2, 3].find((v) => holds(s, 'qcow2', patterns(i, v))) ?? 'corrupt',
    );
    const images: Record<string, unknown> = {};
    for (const file of readdirSync(f.world.images).sort()) {
      const path = `${f.world.images}/${file}`;
      images[file] =
        info(path).format === 'qcow2'
          ? {
              snapshots: snapshotNames(path),
              data: snapshotNames(path).map((s) => snapshotVersion(path, s, f)),
              bitmaps: bitmapNames(path),
              backing: backingOf(path) ?? null,
            }
          : info(path).format;
    }
    const observed = {
      snapshots: await treeOf(() => dom.listSnapshots()),
      current: (await dom.hasCurrentSnapshot()) ? (await dom.currentSnapshot()).name : null,
      checkpoints: await treeOf(() => dom.listCheckpoints()),
      memory: /<memory unit='KiB'>(\d+)<\/memory>/.exec(xml)?.[1],
      sources,
      data,
      images,
      root: listTree(f.world.root).filter((p) => p !== 'run/vm/generation'),
    };
    return JSON.parse(JSON.stringify(observed).replaceAll(f.world.dir, '<W>')) as unknown;
  } finally {
    await conn.close();
  }
}

/** Which data version internal snapshot `snap` of an image holds (disk index from the file name). */
function snapshotVersion(path: string, snap: string, f: Fixture): number | string {
  const i = f.disks.findIndex((d) => path.startsWith(d.path.replace(/\.qcow2$/, '')));
  const copy = `${f.world.dir}/check.qcow2`;
  img(['convert', '-U', '-l', `snapshot.name=${snap}`, '-O', 'qcow2', path, copy]);
  try {
    return [0, 1, 2, 3].find((v) => holds(copy, 'qcow2', patterns(i, v))) ?? 'corrupt';
  } finally {
    rmSync(copy, { force: true });
  }
}

interface SweepResult {
  readonly killPoints: number;
  readonly old: number;
  readonly new: number;
  readonly inconsistent: string[];
}

const totals: Record<string, SweepResult> = {};

async function sweep(operation: string): Promise<SweepResult> {
  const setup = SCENARIOS[operation];
  if (setup === undefined) throw new Error(operation);
  const ref = await prepare(setup);
  const before = await observe(ref);
  const full = runChild(ref.world, operation, -1);
  expect(full.completed, full.stderr).toBe(true);
  const after = await observe(ref);
  ref.world.cleanup();
  expect(after).not.toEqual(before);
  const result = { killPoints: 0, old: 0, new: 0, inconsistent: [] as string[] };
  for (let n = 0; n < 100; n++) {
    const f = await prepare(setup);
    try {
      const child = runChild(f.world, operation, n);
      if (child.completed) {
        expect(await observe(f)).toEqual(after);
        break;
      }
      expect(child.killed, `kill point ${n}: ${child.stderr}`).toBe(true);
      result.killPoints++;
      const seen = await observe(f);
      if (JSON.stringify(seen) === JSON.stringify(before)) result.old++;
      else if (JSON.stringify(seen) === JSON.stringify(after)) result.new++;
      else result.inconsistent.push(`kill point ${n}: ${JSON.stringify(seen)}`);
    } finally {
      f.world.cleanup();
    }
  }
  totals[operation] = result;
  return result;
}

describe.runIf(HAVE_QEMU)('qemu driver: crash safety (SIGKILL after every journal step)', () => {
  afterAll(() => {
    const rows = Object.entries(totals).map(
      ([op, r]) =>
        `${op}: ${r.killPoints} kill points, ${r.old} old, ${r.new} new, ${r.inconsistent.length} inconsistent`,
    );
    const sum = Object.values(totals).reduce((a, r) => a + r.killPoints, 0);
    const bad = Object.values(totals).reduce((a, r) => a + r.inconsistent.length, 0);
    console.log(
      `fault injection sweep:\n  ${rows.join('\n  ')}\n  total: ${sum} kill points, ${bad} inconsistent`,
    );
  });

  // Deletions commit before they touch anything (their image work is rolled forward), so a
  // kill never takes them back to the old state; the others have steps before the commit.
  const COMMIT_FIRST = new Set(['internal-delete', 'internal-delete-children', 'checkpoint-delete']);

  it.each(Object.keys(SCENARIOS))(
    '%s ends in the old or the new state at every kill point',
    async (operation) => {
      const r = await sweep(operation);
      expect(r.inconsistent).toEqual([]);
      expect(r.killPoints).toBeGreaterThan(2);
      expect(r.old + r.new).toBe(r.killPoints);
      expect(r.old > 0).toBe(!COMMIT_FIRST.has(operation));
      expect(r.new).toBeGreaterThan(0);
    },
  );

  it('a second process waits for the lock, then names the holder when it times out', async () => {
    const f = await prepare(async () => undefined);
    try {
      const holder = spawn(process.execPath, ['--import', 'tsx', CHILD, f.world.uri, 'hold-lock', '-1'], {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      for (let i = 0; i < 200 && !listTree(f.world.root).includes('locks/vm.lock'); i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(listTree(f.world.root)).toContain('locks/vm.lock');
      const conn = await open(f.world, { driverOptions: { lockTimeoutMs: 1 } });
      const dom = await conn.lookupDomainByName('vm');
      let message = '';
      for (let i = 0; i < 50 && message === ''; i++) {
        try {
          await dom.createSnapshot('<domainsnapshot><name>mine</name></domainsnapshot>');
          await (await dom.lookupSnapshotByName('mine')).delete();
        } catch (err) {
          if (isVirtError(err, 'OPERATION_INVALID')) message = err.message;
          else throw err;
        }
      }
      expect(message).toContain(`held by process ${holder.pid ?? -1}`);
      await new Promise((r) => holder.on('exit', r));
      await conn.close();
      const patient = await open(f.world);
      const d2 = await patient.lookupDomainByName('vm');
      expect((await d2.listSnapshots()).length).toBe(10);
      await patient.close();
    } finally {
      f.world.cleanup();
    }
  });

  it('two processes racing to create the same snapshot are serialised: one wins, the other is refused', async () => {
    const f = await prepare(async () => undefined);
    try {
      const children = [0, 1].map(
        () =>
          new Promise<number>((resolve) => {
            const c = spawn(
              process.execPath,
              ['--import', 'tsx', CHILD, f.world.uri, 'internal-create', '-1'],
              {
                cwd: REPO,
                stdio: 'ignore',
              },
            );
            c.on('exit', (code) => resolve(code ?? -1));
          }),
      );
      const codes = await Promise.all(children);
      // both ask for the same name: exactly one wins, the other gets "already exists"
      expect(codes.sort()).toEqual([0, 1]);
      const seen = (await observe(f)) as {
        snapshots: Record<string, unknown>;
        images: Record<string, { snapshots: string[] }>;
      };
      expect(Object.keys(seen.snapshots)).toEqual(['new']);
      expect(seen.images['vda.qcow2']?.snapshots).toEqual(['new']);
    } finally {
      f.world.cleanup();
    }
  });
});
