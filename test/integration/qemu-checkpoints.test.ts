import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection, Domain } from 'virtkit';
import { findBinary } from '../helpers/binaries.js';
import {
  bitmapNames,
  codeOf,
  exactly,
  MALFORMED,
  domainXml,
  errorOf,
  HAVE_QEMU,
  hashTree,
  img,
  info,
  makeDisks,
  newWorld,
  open,
  SLOT,
  writeSlots,
  type TestDisk,
  type World,
} from './qemu-fixture.js';

const NBDINFO = HAVE_QEMU ? findBinary('nbdinfo') : undefined;
const QEMU_NBD = HAVE_QEMU ? findBinary('qemu-nbd') : undefined;

/** Dirty 64 KiB slots of bitmap `name` in a single image, read through qemu-nbd + nbdinfo. */
function dirtySlots(path: string, name: string): number[] {
  const r = spawnSync(
    NBDINFO ?? 'nbdinfo',
    [
      '--json',
      `--map=qemu:dirty-bitmap:${name}`,
      '--',
      '[',
      QEMU_NBD ?? 'qemu-nbd',
      '-r',
      '-f',
      'qcow2',
      '-B',
      name,
      path,
      ']',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`nbdinfo failed: ${r.stderr}`);
  const extents = JSON.parse(r.stdout) as { offset: number; length: number; type: number }[];
  const out: number[] = [];
  for (const e of extents) {
    if (e.type !== 1) continue;
    for (let o = e.offset; o < e.offset + e.length; o += SLOT) out.push(o / SLOT);
  }
  return out;
}

describe.runIf(HAVE_QEMU)('qemu driver: checkpoints of shut-off domains (persistent bitmaps)', () => {
  let world: World;
  let conn: Connection;
  let disks: TestDisk[];
  let dom: Domain;
  const ckpt = (name: string, extra = ''): Promise<unknown> =>
    dom.createCheckpoint(`<domaincheckpoint><name>${name}</name>${extra}</domaincheckpoint>`);
  const names = async (): Promise<string[]> =>
    (await dom.listCheckpoints({ topological: true })).map((c) => c.name);

  beforeEach(async () => {
    world = newWorld();
    conn = await open(world);
    disks = makeDisks(world, ['vda', 'vdb']);
    dom = await conn.defineDomain(domainXml('vm', disks));
  });

  afterEach(async () => {
    await conn.close();
    world.cleanup();
  });

  it('creates a recording bitmap per disk, chained by parent, tracking later writes', async () => {
    await ckpt('c1');
    expect(disks.map((d) => bitmapNames(d.path))).toEqual([['c1'], ['c1']]);
    const flags = info(disks[0]!.path)['format-specific']?.data?.bitmaps?.[0]?.flags;
    expect(flags).toEqual(['auto']);
    writeSlots(disks[0]!.path, 'qcow2', [0, 0x11]);
    await ckpt('c2');
    writeSlots(disks[0]!.path, 'qcow2', [0, 0, 0x12]);
    expect(dirtySlots(disks[0]!.path, 'c1')).toEqual([1, 2]);
    expect(dirtySlots(disks[0]!.path, 'c2')).toEqual([2]);
    const c2 = await dom.lookupCheckpointByName('c2');
    expect((await c2.getParent()).name).toBe('c1');
    const xml = await c2.getXml({ noDomain: true });
    expect(xml).toContain("<disk name='vda' checkpoint='bitmap' bitmap='c2'/>");
    expect(xml).toContain('<parent>\n    <name>c1</name>\n  </parent>');
    expect(await codeOf(c2.getXml({ size: true }))).toBe('OPERATION_INVALID');
  });

  it("delete merges the bitmap into its parent's, so incremental backups from the parent stay correct", async () => {
    await ckpt('c1');
    writeSlots(disks[0]!.path, 'qcow2', [0x11]);
    img(['bitmap', '--disable', disks[0]!.path, 'c1']);
    await ckpt('c2');
    writeSlots(disks[0]!.path, 'qcow2', [0, 0, 0x12]);
    expect(dirtySlots(disks[0]!.path, 'c1')).toEqual([0]);
    await (await dom.lookupCheckpointByName('c2')).delete();
    expect(bitmapNames(disks[0]!.path)).toEqual(['c1']);
    expect(dirtySlots(disks[0]!.path, 'c1')).toEqual([0, 2]);
    expect(await names()).toEqual(['c1']);
  });

  it('delete removes the bitmap from every image of the backing chain that has it', async () => {
    await ckpt('c1');
    await dom.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', { diskOnly: true });
    const overlay = join(world.images, 'vda.e1');
    expect(bitmapNames(overlay)).toEqual(['c1']);
    await (await dom.lookupCheckpointByName('c1')).delete();
    expect(bitmapNames(overlay)).toEqual([]);
    expect(bitmapNames(disks[0]!.path)).toEqual([]);
    expect(await names()).toEqual([]);
  });

  it('children, childrenOnly and metadataOnly', async () => {
    await ckpt('a');
    await ckpt('b');
    await ckpt('c');
    await (await dom.lookupCheckpointByName('a')).delete({ childrenOnly: true });
    expect(await names()).toEqual(['a']);
    expect(disks.map((d) => bitmapNames(d.path))).toEqual([['a'], ['a']]);
    await ckpt('d');
    expect((await (await dom.lookupCheckpointByName('d')).getParent()).name).toBe('a');
    await (await dom.lookupCheckpointByName('a')).delete({ children: true });
    expect(await names()).toEqual([]);
    expect(disks.map((d) => bitmapNames(d.path))).toEqual([[], []]);
    await ckpt('m');
    await (await dom.lookupCheckpointByName('m')).delete({ metadataOnly: true });
    expect(await names()).toEqual([]);
    expect(disks.map((d) => bitmapNames(d.path))).toEqual([['m'], ['m']]);
  });

  it('honours <disks>: unlisted disks get no bitmap', async () => {
    await ckpt('c1', "<disks><disk name='vdb' checkpoint='bitmap'/></disks>");
    expect(disks.map((d) => bitmapNames(d.path))).toEqual([[], ['c1']]);
  });

  it('refuses raw disks, other bitmap names, quiesce, existing bitmaps and bad names, changing nothing', async () => {
    const raw = makeDisks(world, ['vdc'], 'raw');
    const mixed = await conn.defineDomain(domainXml('mixed', [...disks, ...raw]));
    img(['bitmap', '--add', disks[1]!.path, 'taken']);
    const before = { root: hashTree(world.root), images: hashTree(world.images) };
    const cases: [Domain, string, object, string | RegExp][] = [
      [mixed, '<domaincheckpoint><name>r</name></domaincheckpoint>', {}, 'CONFIG_UNSUPPORTED'],
      [
        dom,
        "<domaincheckpoint><name>x</name><disks><disk name='vda' bitmap='other'/></disks></domaincheckpoint>",
        {},
        'CONFIG_UNSUPPORTED',
      ],
      [dom, '<domaincheckpoint><name>x</name></domaincheckpoint>', { quiesce: true }, 'INVALID_ARG'],
      [dom, '<domaincheckpoint><name>taken</name></domaincheckpoint>', {}, 'OPERATION_INVALID'],
      [dom, '<domaincheckpoint><name>a/b</name></domaincheckpoint>', {}, 'XML_INVALID_SCHEMA'],
      [dom, '<domaincheckpoint><name>..</name></domaincheckpoint>', {}, 'XML_INVALID_SCHEMA'],
      [
        dom,
        "<domaincheckpoint><name>x</name><disks><disk name='vdz'/></disks></domaincheckpoint>",
        {},
        'CONFIG_UNSUPPORTED',
      ],
      [dom, '<domaincheckpoint><name>x', {}, MALFORMED],
    ];
    for (const [d, xml, options, code] of cases) {
      expect(await codeOf(d.createCheckpoint(xml, options)), xml).toMatch(exactly(code));
    }
    expect((await errorOf(mixed.createCheckpoint('<domaincheckpoint/>'))).message).toBe(
      'checkpoint for disk vdc unsupported for storage type raw',
    );
    expect({ root: hashTree(world.root), images: hashTree(world.images) }).toEqual(before);
  });

  it('redefine, with redefineValidate checking the bitmaps', async () => {
    await ckpt('c1');
    await ckpt('c2');
    const x1 = await (await dom.lookupCheckpointByName('c1')).getXml();
    const x2 = await (await dom.lookupCheckpointByName('c2')).getXml();
    await (await dom.lookupCheckpointByName('c1')).delete({ metadataOnly: true, children: true });
    await dom.createCheckpoint(x1, { redefine: true, redefineValidate: true });
    await dom.createCheckpoint(x2, { redefine: true, redefineValidate: true });
    expect(await names()).toEqual(['c1', 'c2']);
    img(['bitmap', '--remove', disks[1]!.path, 'c2']);
    await (await dom.lookupCheckpointByName('c2')).delete({ metadataOnly: true });
    const err = await errorOf(dom.createCheckpoint(x2, { redefine: true, redefineValidate: true }));
    expect(err.code).toBe('CHECKPOINT_INCONSISTENT');
    expect(err.message).toBe("missing or broken bitmap 'c2' for disk 'vdb'");
    await dom.createCheckpoint(x2, { redefine: true });
    expect(await names()).toEqual(['c1', 'c2']);
  });

  it('remembers the current checkpoint across connections, also on a branch', async () => {
    await ckpt('c1');
    await ckpt('c2');
    const x3 =
      '<domaincheckpoint><name>c3</name><parent><name>c1</name></parent><creationTime>1</creationTime></domaincheckpoint>';
    await dom.createCheckpoint(x3, { redefine: true });
    const other = await open(world);
    const d2 = await other.lookupDomainByName('vm');
    await d2.createCheckpoint('<domaincheckpoint><name>c4</name></domaincheckpoint>');
    expect((await (await d2.lookupCheckpointByName('c4')).getParent()).name).toBe('c2');
    await other.close();
  });
});
