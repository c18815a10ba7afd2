import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection, Domain } from 'virtkit';
import { currentSources, DataModel, differences, domainSources } from './qemu-external-model.js';
import {
  bitmapNames,
  codeOf,
  domainXml,
  errorOf,
  HAVE_QEMU,
  hashTree,
  makeDisks,
  newWorld,
  open,
  type TestDisk,
  type World,
} from './qemu-fixture.js';

describe.runIf(HAVE_QEMU)('qemu driver: reverting to external snapshots', () => {
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
  const verify = async (): Promise<void> => expect(await differences(dom, model, world)).toEqual([]);
  const files = (): string[] => readdirSync(world.images).sort();
  const top = async (): Promise<string> => (await currentSources(dom))[0]!.path;
  const snapXml = async (name: string): Promise<string> => (await dom.lookupSnapshotByName(name)).getXml();
  const state = (): unknown => ({ root: hashTree(world.root), images: hashTree(world.images) });

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

  it('reverts to the current leaf twice in a row: a fresh overlay each time, the old one dropped', async () => {
    await write(0, 1);
    await ext('e1');
    await write(1, 2);
    await revert('e1');
    await verify();
    const first = await top();
    expect(first).toMatch(new RegExp(`^${join(world.images, 'vda')}\\.revert-\\d+$`));
    expect(files()).toEqual([
      'vda.qcow2',
      expect.stringMatching(/^vda\.revert-/),
      'vdb.qcow2',
      expect.stringMatching(/^vdb\.revert-/),
    ]);
    expect(await snapXml('e1')).toContain(`<source file='${first}'/>`);
    await write(3);
    await revert('e1');
    await verify();
    const second = await top();
    expect(second).not.toBe(first);
    expect(files()).toHaveLength(4);
    const xml = await snapXml('e1');
    expect(xml).toContain(`<source file='${second}'/>`);
    expect(xml).not.toContain('<revertDisks>');
    await write(4);
    await verify();
  });

  it('a snapshot with children keeps its overlays and records the new ones in revertDisks', async () => {
    await write(0);
    await ext('e1');
    await write(1);
    await ext('e2');
    await write(2);
    await revert('e1');
    await verify();
    const xml = await snapXml('e1');
    expect(xml).toContain(`<revertDisks>`);
    expect(xml).toContain(`<source file='${join(world.images, 'vda.e1')}'/>`);
    expect(xml).toContain(`<source file='${await top()}'/>`);
    expect(files()).not.toContain('vda.e2');
    await write(3);
    await revert('e1');
    await verify();
    await write(4);
    await ext('e3');
    expect(await snapXml('e1')).not.toContain('<revertDisks>');
    await write(5);
    await revert('e2');
    await verify();
    await revert('e3');
    await verify();
  });

  it('reverts to every node of a branchy tree in turn, writing in between', async () => {
    await write(0, 1);
    await ext('a');
    await write(1, 2);
    await ext('b');
    await write(2, 3);
    await ext('c');
    await revert('a');
    await write(0, 4);
    await ext('d');
    await revert('b');
    await write(5);
    await ext('e');
    await write(6, 0);
    await verify();
    for (const name of ['a', 'b', 'c', 'd', 'e', 'b', 'a', 'e', 'c']) {
      await revert(name);
      await verify();
      await write(7, name.charCodeAt(0) % 7);
      await verify();
    }
  });

  it('mixes with internal snapshots: internal ones in an overlay the domain left can be reverted to', async () => {
    await write(0);
    await dom.createSnapshot({ name: 's0' });
    model.snapshot('s0');
    await write(1);
    await ext('e1');
    await write(2);
    await dom.createSnapshot({ name: 's2' });
    model.snapshot('s2');
    await write(3);
    await revert('e1');
    await write(4);
    await verify();
    expect(await snapXml('e1')).toContain('<revertDisks>');
    await revert('s2');
    await verify();
    expect(await top()).toBe(join(world.images, 'vda.e1'));
    expect(await snapXml('e1')).not.toContain('<revertDisks>');
    expect(files()).toEqual(['vda.e1', 'vda.qcow2', 'vdb.e1', 'vdb.qcow2']);
    expect((await errorOf((await dom.lookupSnapshotByName('s0')).revert())).code).toBe(
      'OPERATION_UNSUPPORTED',
    );
    await revert('e1');
    await verify();
  });

  it("restores the snapshot's definition (event DEFINED/FROM_SNAPSHOT); disks it left out keep their image", async () => {
    const xml = `<domainsnapshot><name>e1</name><disks><disk name='vda' snapshot='external'/><disk name='vdb' snapshot='no'/></disks></domainsnapshot>`;
    await write(0);
    await dom.createSnapshot(xml, { diskOnly: true });
    await write(1);
    const before = await currentSources(dom);
    const redefined = domainXml('vm', disks)
      .replace('65536', '131072')
      .replace('</name>', `</name><uuid>${dom.uuid}</uuid>`);
    const replaced = redefined.replace(disks[0]!.path, before[0]!.path);
    await conn.defineDomain(replaced);
    const events: string[] = [];
    conn.on('domain-event', (e) => events.push(`${e.event}/${e.detail}`));
    await (await dom.lookupSnapshotByName('e1')).revert();
    const now = await dom.getXml();
    expect(now).toContain("<memory unit='KiB'>65536</memory>");
    const sources = domainSources(now);
    expect(sources[0]!.path).toMatch(/vda\.revert-\d+$/);
    expect(sources[1]!.path).toBe(before[1]!.path);
    expect(events).toContain('DEFINED/FROM_SNAPSHOT');
    expect(files()).toEqual(['vda.qcow2', sources[0]!.path.split('/').at(-1), 'vdb.qcow2'].sort());
  });

  it('carries recording bitmaps of the frozen images into the new overlays', async () => {
    await dom.createCheckpoint({ name: 'c1' });
    await write(0);
    await ext('e1');
    await write(1);
    await revert('e1');
    expect(bitmapNames(await top())).toEqual(['c1']);
  });

  it('is all-or-nothing: a failing overlay on the second disk removes the first; refusals change nothing', async () => {
    await write(0);
    await ext('e1');
    await write(1);
    const before = state();
    const runner = async (file: string, args: readonly string[]) => {
      if (args[0] === 'create' && String(args.at(-1)).includes('/vdb.')) throw new Error('injected');
      return { stdout: execFileSync(file, [...args], { encoding: 'utf8' }), stderr: '' };
    };
    const failing = await open(world, { driverOptions: { runner } });
    const d2 = await failing.lookupDomainByName('vm');
    expect(await codeOf((await d2.lookupSnapshotByName('e1')).revert())).toBe('OPERATION_FAILED');
    await failing.close();
    expect(state()).toEqual(before);
    const e1 = await dom.lookupSnapshotByName('e1');
    expect(await codeOf(e1.revert({ running: true }))).toBe('OPERATION_UNSUPPORTED');
    rmSync(disks[1]!.path);
    const missing = await errorOf(e1.revert());
    expect(missing.code).toBe('OPERATION_INVALID');
    expect(missing.message).toBe(
      `image '${disks[1]!.path}' of disk 'vdb' frozen by snapshot 'e1' is missing`,
    );
  });
});
