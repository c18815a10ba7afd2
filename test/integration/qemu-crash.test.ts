// Fault injection: every journaled operation is run in a child process that SIGKILLs itself
// right after journal step n (n = 0 … until the operation completes). A new connection must
// then find the domain entirely in the old or entirely in the new state — metadata, internal
// snapshots, bitmaps, overlays and data (the current state and every snapshot's) — with no
// journal, lock, temporary or image file left over. Each kill point starts from a copy of one
// prepared world, restored at the same path (image paths are absolute).
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isVirtError } from 'virtkit';
import { observe } from './qemu-crash-observe.js';
import { SCENARIOS, type Fixture, type Setup } from './qemu-crash-scenarios.js';
import {
  domainXml,
  HAVE_QEMU,
  listTree,
  makeDisks,
  newWorld,
  open,
  uncleanImages,
  type World,
} from './qemu-fixture.js';

const CHILD = fileURLToPath(new URL('./qemu-crash-child.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));

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

/** Puts the prepared world back in place from its template copy. */
function restore(f: Fixture, template: string): void {
  rmSync(f.world.dir, { recursive: true, force: true });
  cpSync(template, f.world.dir, { recursive: true });
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
  const f = await prepare(setup);
  const template = `${f.world.dir}.template`;
  cpSync(f.world.dir, template, { recursive: true });
  const result = { killPoints: 0, old: 0, new: 0, inconsistent: [] as string[] };
  try {
    const before = await observe(f);
    restore(f, template);
    const full = runChild(f.world, operation, -1);
    expect(full.completed, full.stderr).toBe(true);
    const after = await observe(f);
    expect(after).not.toEqual(before);
    expect(uncleanImages(f.world.images)).toEqual([]);
    for (let n = 0; n < 100; n++) {
      restore(f, template);
      const child = runChild(f.world, operation, n);
      if (child.completed) {
        expect(await observe(f)).toEqual(after);
        break;
      }
      expect(child.killed, `kill point ${n}: ${child.stderr}`).toBe(true);
      result.killPoints++;
      const seen = JSON.stringify(await observe(f));
      // recovery must also leave every image clean for qemu-img check (no leaked clusters)
      const unclean = uncleanImages(f.world.images);
      if (unclean.length > 0)
        result.inconsistent.push(`kill point ${n}: qemu-img check: ${unclean.join('; ')}`);
      else if (seen === JSON.stringify(before)) result.old++;
      else if (seen === JSON.stringify(after)) result.new++;
      else result.inconsistent.push(`kill point ${n}: ${seen}`);
    }
  } finally {
    f.world.cleanup();
    rmSync(template, { recursive: true, force: true });
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
  for (const op of Object.keys(SCENARIOS)) if (op.startsWith('external-delete')) COMMIT_FIRST.add(op);
  // Deleting a snapshot with two children merges nothing: commit and metadata only.
  const SMALL = new Set(['external-delete-two-children']);

  it.each(Object.keys(SCENARIOS))(
    '%s ends in the old or the new state at every kill point',
    async (operation) => {
      const r = await sweep(operation);
      expect(r.inconsistent).toEqual([]);
      expect(r.killPoints).toBeGreaterThan(SMALL.has(operation) ? 1 : 2);
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
          if (isVirtError(err, 'OPERATION_TIMEOUT')) message = err.message;
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
