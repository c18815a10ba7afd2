import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection, Domain, Progress } from 'virtkit';
import { findBinary } from '../helpers/binaries.js';
import {
  backingFile,
  currentSources,
  DataModel,
  differences,
  doomedNames,
  parentName,
} from './qemu-external-model.js';
import {
  domainXml,
  errorOf,
  HAVE_QEMU,
  hashTree,
  makeDisks,
  newWorld,
  open,
  SLOT,
  type TestDisk,
  type World,
} from './qemu-fixture.js';

const NBDINFO = HAVE_QEMU ? findBinary('nbdinfo') : undefined;
const QEMU_NBD = HAVE_QEMU ? findBinary('qemu-nbd') : undefined;

/** Dirty 64 KiB slots of bitmap `name` of an image (with its backing chain), via qemu-nbd + nbdinfo. */
function dirtySlots(path: string, name: string): number[] {
  const nbd = [QEMU_NBD ?? 'qemu-nbd', '-r', '-f', 'qcow2', '-B', name, path];
  const r = spawnSync(
    NBDINFO ?? 'nbdinfo',
    ['--json', `--map=qemu:dirty-bitmap:${name}`, '--', '[', ...nbd, ']'],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`nbdinfo failed: ${r.stderr}`);
  const out: number[] = [];
  for (const e of JSON.parse(r.stdout) as { offset: number; length: number; type: number }[]) {
    if (e.type === 1) for (let o = e.offset; o < e.offset + e.length; o += SLOT) out.push(o / SLOT);
  }
  return out;
}

describe.runIf(HAVE_QEMU)('qemu driver: deleting external snapshots (merging images)', () => {
  let world: World;
  let conn: Connection;
  let disks: TestDisk[];
  let dom: Domain;
  let model: DataModel;

  const ext = async (name: string): Promise<void> => {
    await dom.createSnapshot({ name }, { diskOnly: true });
    model.snapshot(name);
  };
  const write = (...slots: number[]): Promise<void> => model.write(dom, slots);
  const revert = async (name: string): Promise<void> => {
    await (await dom.lookupSnapshotByName(name)).revert();
    model.revert(name);
  };
  const del = async (name: string, mode: 'self' | 'children' | 'childrenOnly' = 'self'): Promise<void> => {
    const snap = await dom.lookupSnapshotByName(name);
    const doomed = await doomedNames(snap, mode);
    await snap.delete(mode === 'self' ? {} : { [mode]: true });
    model.forget(doomed);
  };
  const verify = async (): Promise<void> => expect(await differences(dom, model, world)).toEqual([]);
  const files = (): string[] =>
    (spawnSync('ls', [world.images], { encoding: 'utf8' }).stdout ?? '').split('\n').filter(Boolean);
  const tree = async (): Promise<Record<string, string | null>> => {
    const out: Record<string, string | null> = {};
    for (const s of await dom.listSnapshots()) out[s.name] = await parentName(s);
    return out;
  };
  const current = async (): Promise<string | null> =>
    (await dom.hasCurrentSnapshot()) ? (await dom.currentSnapshot()).name : null;
  const state = (): unknown => ({ root: hashTree(world.root), images: hashTree(world.images) });

  /** e1 → e2 → e3 (current), each layer overlapping the one below. */
  const chain = async (): Promise<void> => {
    await write(0, 1);
    await ext('e1');
    await write(1, 2);
    await ext('e2');
    await write(2, 3, 0);
    await ext('e3');
    await write(3, 4);
  };

  beforeEach(async () => {
    world = newWorld();
    conn = await open(world);
    disks = makeDisks(world, ['vda', 'vdb']);
    dom = await conn.defineDomain(domainXml('vm', disks));
    model = new DataModel(2);
  });

  afterEach(async () => {
    await conn.close();
    world.cleanup();
  });

  it('linear chain: the current leaf is committed into its frozen image, which the domain uses again', async () => {
    await chain();
    await verify();
    await del('e3');
    await verify();
    expect((await currentSources(dom)).map((s) => s.path)).toEqual(
      disks.map((d) => join(world.images, `${d.target}.e2`)),
    );
    expect(files()).toEqual(['vda.e1', 'vda.e2', 'vda.qcow2', 'vdb.e1', 'vdb.e2', 'vdb.qcow2']);
    expect(await current()).toBe('e2');
    await write(5);
    await verify();
  });

  it('linear chain: a middle snapshot is folded; its child reads the same through the merged image', async () => {
    await chain();
    await del('e2');
    await verify();
    expect(await tree()).toEqual({ e1: null, e3: 'e1' });
    expect(files()).toEqual(['vda.e1', 'vda.e3', 'vda.qcow2', 'vdb.e1', 'vdb.e3', 'vdb.qcow2']);
    expect(backingFile(join(world.images, 'vda.e3'))).toBe(join(world.images, 'vda.e1'));
    const e3 = await (await dom.lookupSnapshotByName('e3')).getXml();
    expect(e3).toContain(`<source file='${join(world.images, 'vda.e1')}'/>`);
    await revert('e3');
    await verify();
  });

  it('linear chain: the root is folded into the base image; deleting every snapshot leaves the base images', async () => {
    await chain();
    await del('e1');
    await verify();
    expect(files()).toEqual(['vda.e2', 'vda.e3', 'vda.qcow2', 'vdb.e2', 'vdb.e3', 'vdb.qcow2']);
    await del('e3');
    await verify();
    await del('e2');
    await verify();
    expect(files()).toEqual(['vda.qcow2', 'vdb.qcow2']);
    expect((await currentSources(dom)).map((s) => s.path)).toEqual(disks.map((d) => d.path));
  });

  it('a non-current leaf loses its frozen image; the parent gets its revert overlays as disks', async () => {
    await chain();
    await revert('e2');
    await write(6);
    await verify();
    const e2 = await dom.lookupSnapshotByName('e2');
    expect(await e2.getXml()).toContain('<revertDisks>');
    await del('e3');
    await verify();
    expect(files().filter((f) => f.startsWith('vda'))).toEqual([
      'vda.e1',
      'vda.qcow2',
      expect.stringMatching(/^vda\.revert-\d+$/),
    ]);
    const xml = await e2.getXml();
    expect(xml).not.toContain('<revertDisks>');
    expect(xml).toContain(`<source file='${(await currentSources(dom))[0]!.path}'/>`);
  });

  it('a node with two and then three children stays as a shared backing image and is folded once one child is left', async () => {
    await write(0);
    await ext('root');
    await write(1);
    await ext('mid');
    await write(2);
    await ext('a');
    await write(3);
    await revert('mid');
    await write(4, 0);
    await ext('b');
    await write(5);
    await revert('mid');
    await write(6);
    await ext('c');
    await write(7, 2);
    await verify();
    const before = files();
    await del('mid');
    await verify();
    expect(await tree()).toEqual({ root: null, a: 'root', b: 'root', c: 'root' });
    // vda.root (frozen by mid) now backs three branches without a snapshot of its own: kept, no copy
    expect(files()).toEqual(before);
    await del('root');
    await verify();
    await del('a');
    await verify();
    await del('b');
    await verify();
    expect(await tree()).toEqual({ c: null });
    await del('c');
    await verify();
    expect(files()).toEqual(['vda.qcow2', 'vdb.qcow2']);
  });

  it('deletes the branch points of a branchy tree in any order, and its root', async () => {
    await write(0);
    await ext('r');
    await write(1);
    await ext('x');
    await write(2);
    await ext('x1');
    await revert('x');
    await write(3);
    await ext('x2');
    await revert('r');
    await write(4);
    await ext('y');
    await write(5);
    await ext('y1');
    await revert('y');
    await write(6, 1);
    await ext('y2');
    await write(7);
    await verify();
    for (const n of ['y', 'r', 'x']) {
      await del(n);
      await verify();
    }
    expect(await tree()).toEqual({ x1: null, x2: null, y1: null, y2: null });
    for (const n of ['y1', 'x1', 'y2']) {
      await revert(n);
      await write(n.length);
      await verify();
    }
    for (const n of ['x2', 'y1', 'y2']) {
      await del(n);
      await verify();
    }
    await del('x1');
    await verify();
    expect(files()).toEqual(['vda.qcow2', 'vdb.qcow2']);
  });

  it('children and childrenOnly over external subtrees keep the current state and every survivor', async () => {
    await chain();
    await revert('e1');
    await write(5);
    await ext('f');
    await write(6);
    await verify();
    await del('e2', 'childrenOnly');
    await verify();
    expect(await tree()).toEqual({ e1: null, e2: 'e1', f: 'e1' });
    await del('e1', 'childrenOnly');
    await verify();
    expect(await tree()).toEqual({ e1: null });
    expect(await current()).toBe('e1');
    await write(7);
    await ext('g');
    await write(0);
    await del('e1', 'children');
    await verify();
    expect(await tree()).toEqual({});
    expect(files()).toEqual(['vda.qcow2', 'vdb.qcow2']);
  });

  it('metadataOnly forgets the snapshot and leaves every image alone', async () => {
    await chain();
    const images = hashTree(world.images);
    await (await dom.lookupSnapshotByName('e2')).delete({ metadataOnly: true });
    model.forget(['e2']);
    expect(hashTree(world.images)).toEqual(images);
    expect(await tree()).toEqual({ e1: null, e3: 'e1' });
  });

  it('checkpoints survive folds: an incremental bitmap still covers every write since its checkpoint', async () => {
    await write(0);
    await dom.createCheckpoint({ name: 'c1' });
    await write(1);
    await ext('e1');
    await write(2);
    await dom.createCheckpoint({ name: 'c2' });
    await write(3);
    await ext('e2');
    await write(4);
    await del('e2');
    await verify();
    await del('e1');
    await verify();
    expect(files()).toEqual(['vda.qcow2', 'vdb.qcow2']);
    expect(dirtySlots(disks[0]!.path, 'c1')).toEqual([1, 2, 3, 4]);
    expect(dirtySlots(disks[0]!.path, 'c2')).toEqual([3, 4]);
    await write(6);
    expect(dirtySlots(disks[1]!.path, 'c1')).toEqual([1, 2, 3, 4, 6]);
    await (await dom.lookupCheckpointByName('c2')).delete();
    expect(dirtySlots(disks[1]!.path, 'c1')).toEqual([1, 2, 3, 4, 6]);
  });

  it('refuses, changing nothing, to merge away an image holding internal snapshots that stay', async () => {
    await write(0);
    await ext('e1');
    await write(1);
    await dom.createSnapshot({ name: 's2' });
    model.snapshot('s2');
    await write(2);
    const before = state();
    const err = await errorOf((await dom.lookupSnapshotByName('e1')).delete());
    expect(err.code).toBe('OPERATION_UNSUPPORTED');
    expect(err.message).toContain(`cannot merge image '${join(world.images, 'vda.e1')}' of disk 'vda'`);
    expect(err.message).toContain("internal snapshots 's2'");
    expect(state()).toEqual(before);
    await del('s2');
    await del('e1');
    await verify();
    expect(files()).toEqual(['vda.qcow2', 'vdb.qcow2']);
  });

  it('an internal snapshot in an overlay the domain left goes with its image', async () => {
    await write(0);
    await ext('e1');
    await write(1);
    await dom.createSnapshot({ name: 's2' });
    model.snapshot('s2');
    await revert('e1');
    await write(2);
    await verify();
    expect(existsSync(join(world.images, 'vda.e1'))).toBe(true);
    await del('s2');
    await verify();
    expect(existsSync(join(world.images, 'vda.e1'))).toBe(false);
  });

  it('reports progress per merge step, and an aborted signal changes nothing', async () => {
    await chain();
    const before = state();
    const controller = new AbortController();
    controller.abort();
    const e2 = await dom.lookupSnapshotByName('e2');
    expect((await errorOf(e2.delete({ signal: controller.signal }))).code).toBe('OPERATION_ABORTED');
    expect(state()).toEqual(before);
    const phases: Progress[] = [];
    await e2.delete({ onProgress: (p) => phases.push(p) });
    model.forget(['e2']);
    await verify();
    expect(phases.map((p) => p.phase)).toEqual(
      expect.arrayContaining(['commit vda vda.e2', 'commit vdb vdb.e2', 'drop vda vda.e2']),
    );
    // One `steps` event per step; the commits also report their bytes while they run.
    const steps = phases.filter((p) => p.unit === 'steps');
    expect(steps.at(-1)).toMatchObject({ completed: steps.length, total: steps.length });
    const bytes = phases.filter((p) => p.unit === 'bytes');
    expect(new Set(bytes.map((p) => p.phase))).toEqual(new Set(['commit vda vda.e2', 'commit vdb vdb.e2']));
    expect(bytes.filter((p) => p.completed === p.total).length).toBe(2);
  });

  it('raw base images take the merged data and format', async () => {
    const other = newWorld();
    try {
      const raw = makeDisks(other, ['vdc'], 'raw');
      const d2 = await conn.defineDomain(domainXml('rawvm', raw));
      const m2 = new DataModel(1);
      await m2.write(d2, [0]);
      await d2.createSnapshot({ name: 'r1' }, { diskOnly: true });
      m2.snapshot('r1');
      await m2.write(d2, [1]);
      await (await d2.lookupSnapshotByName('r1')).delete();
      m2.forget(['r1']);
      expect(await differences(d2, m2, other)).toEqual([]);
      expect(await currentSources(d2)).toEqual([{ path: raw[0]!.path, format: 'raw' }]);
    } finally {
      other.cleanup();
    }
  });
});
