import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection, Domain } from 'virtkit';
import {
  backingOf,
  bitmapNames,
  codeOf,
  domainXml,
  errorOf,
  HAVE_QEMU,
  hashTree,
  holds,
  img,
  info,
  makeDisks,
  newWorld,
  open,
  writeSlots,
  type TestDisk,
  type World,
} from './qemu-fixture.js';

describe.runIf(HAVE_QEMU)('qemu driver: external disk-only snapshots of shut-off domains', () => {
  let world: World;
  let conn: Connection;
  let disks: TestDisk[];
  let dom: Domain;

  const sourceOf = async (target: string): Promise<string> => {
    const m = new RegExp(`<source file='([^']+)'/>\\s*<target dev='${target}'`).exec(await dom.getXml());
    return m?.[1] ?? '';
  };

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

  it("creates overlays with libvirt's default names; the old images keep the snapshot's data", async () => {
    writeSlots(disks[0]!.path, 'qcow2', [0x11]);
    writeSlots(disks[1]!.path, 'qcow2', [0x21]);
    const e1 = await dom.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', {
      diskOnly: true,
    });
    const overlays = disks.map((d) => join(world.images, `${d.target}.e1`));
    expect(await sourceOf('vda')).toBe(overlays[0]);
    expect(await sourceOf('vdb')).toBe(overlays[1]);
    for (const [i, o] of overlays.entries()) {
      expect(info(o).format).toBe('qcow2');
      expect(backingOf(o)).toBe(disks[i]!.path);
    }
    const xml = await e1.getXml();
    expect(xml).toContain('<state>shutoff</state>');
    expect(xml).toContain(`<disk name='vda' snapshot='external' type='file'>`);
    expect(xml).toContain(`<source file='${overlays[0]}'/>`);
    expect(xml).toContain(`<source file='${disks[0]!.path}'/>`);
    // the guest keeps writing into the overlays; the snapshot's images do not change
    writeSlots(overlays[0]!, 'qcow2', [0, 0x12]);
    writeSlots(overlays[1]!, 'qcow2', [0, 0x22]);
    expect(holds(disks[0]!.path, 'qcow2', [0x11])).toBe(true);
    expect(holds(disks[1]!.path, 'qcow2', [0x21])).toBe(true);
    expect(holds(overlays[0]!, 'qcow2', [0x11, 0x12])).toBe(true);
    expect(holds(overlays[1]!, 'qcow2', [0x21, 0x22])).toBe(true);
    expect((await dom.listSnapshots({ external: true })).map((s) => s.name)).toEqual(['e1']);
    const e2 = await dom.createSnapshot('<domainsnapshot><name>e2</name></domainsnapshot>', {
      diskOnly: true,
    });
    expect((await e2.getParent()).name).toBe('e1');
    expect(backingOf(join(world.images, 'vda.e2'))).toBe(overlays[0]);
  });

  it('takes per-disk modes and explicit files from the XML', async () => {
    const target = join(world.images, 'custom-a.qcow2');
    const xml =
      `<domainsnapshot><name>e1</name><disks>` +
      `<disk name='vda' snapshot='external'><source file='${target}'/></disk>` +
      `<disk name='vdb' snapshot='no'/></disks></domainsnapshot>`;
    await dom.createSnapshot(xml, { diskOnly: true });
    expect(await sourceOf('vda')).toBe(target);
    expect(await sourceOf('vdb')).toBe(disks[1]!.path);
    expect(existsSync(join(world.images, 'vdb.e1'))).toBe(false);
  });

  it('an external disk without diskOnly implies a disk-only snapshot; mixing with internal is refused', async () => {
    const ext = "<disks><disk name='vda' snapshot='external'/><disk name='vdb' snapshot='external'/></disks>";
    expect(await codeOf(dom.createSnapshot(`<domainsnapshot><name>x</name>${ext}</domainsnapshot>`))).toBe(
      'CONFIG_UNSUPPORTED',
    );
    const mixed = "<disks><disk name='vda' snapshot='internal'/></disks>";
    const err = await errorOf(
      dom.createSnapshot(`<domainsnapshot><name>m</name>${mixed}</domainsnapshot>`, { diskOnly: true }),
    );
    expect(err.code).toBe('CONFIG_UNSUPPORTED');
    expect(err.message).toBe('mixing internal and external targets for a snapshot is not yet supported');
    const attr = domainXml('vm2', disks).replaceAll(
      "<disk type='file' device='disk'>",
      "<disk type='file' device='disk' snapshot='external'>",
    );
    const d2 = await conn.defineDomain(attr);
    const snap = await d2.createSnapshot(
      '<domainsnapshot><name>auto</name><disks><disk name="vda"/><disk name="vdb"/></disks></domainsnapshot>',
    );
    expect(await snap.getXml()).toContain("snapshot='internal'");
  });

  it('refuses an existing target without reuseExt, and a reused file that is not an overlay of the disk', async () => {
    const taken = join(world.images, 'vda.e1');
    img(['create', '-q', '-f', 'qcow2', taken, '1M']);
    const before = { root: hashTree(world.root), images: hashTree(world.images) };
    const err = await errorOf(
      dom.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', { diskOnly: true }),
    );
    expect(err.code).toBe('CONFIG_UNSUPPORTED');
    expect(err.message).toBe(
      `external snapshot file for disk vda already exists and is not a block device: ${taken}`,
    );
    const reuse = await errorOf(
      dom.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', {
        diskOnly: true,
        reuseExt: true,
      }),
    );
    expect(reuse.code).toBe('CONFIG_UNSUPPORTED');
    expect(reuse.message).toMatch(/must be a qcow2 image backed by/);
    const missing = await errorOf(
      dom.createSnapshot(`<domainsnapshot><name>e9</name></domainsnapshot>`, {
        diskOnly: true,
        reuseExt: true,
      }),
    );
    expect(missing.code).toBe('SYSTEM_ERROR');
    expect({ root: hashTree(world.root), images: hashTree(world.images) }).toEqual(before);
  });

  it('reuses prepared overlays with reuseExt', async () => {
    for (const d of disks)
      img([
        'create',
        '-q',
        '-f',
        'qcow2',
        '-b',
        d.path,
        '-F',
        'qcow2',
        join(world.images, `${d.target}.pre`),
      ]);
    await dom.createSnapshot('<domainsnapshot><name>pre</name></domainsnapshot>', {
      diskOnly: true,
      reuseExt: true,
    });
    expect(await sourceOf('vda')).toBe(join(world.images, 'vda.pre'));
  });

  it('an empty existing target is overwritten, and emptied again when the snapshot fails', async () => {
    const empty = join(world.images, 'vda.e1');
    writeFileSync(empty, '');
    const runner = async (file: string, args: readonly string[]) => {
      if (args[0] === 'create' && args.at(-1) === join(world.images, 'vdb.e1')) throw new Error('injected');
      const { execFileSync } = await import('node:child_process');
      return { stdout: execFileSync(file, [...args], { encoding: 'utf8' }), stderr: '' };
    };
    const failing = await open(world, { driverOptions: { runner } });
    const d2 = await failing.lookupDomainByName('vm');
    expect(
      await codeOf(d2.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', { diskOnly: true })),
    ).toBe('OPERATION_FAILED');
    await failing.close();
    expect(existsSync(empty) && info(empty).format).toBe('raw');
    expect(existsSync(join(world.images, 'vdb.e1'))).toBe(false);
    expect(await sourceOf('vda')).toBe(disks[0]!.path);
    await dom.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', { diskOnly: true });
    expect(backingOf(empty)).toBe(disks[0]!.path);
  });

  it('puts qcow2 overlays on raw disks too', async () => {
    const raw = makeDisks(world, ['vdc'], 'raw');
    writeSlots(raw[0]!.path, 'raw', [0x41]);
    const d2 = await conn.defineDomain(domainXml('rawvm', raw));
    await d2.createSnapshot('<domainsnapshot><name>r1</name></domainsnapshot>', { diskOnly: true });
    const overlay = join(world.images, 'vdc.r1');
    expect(info(overlay).format).toBe('qcow2');
    expect(backingOf(overlay)).toBe(raw[0]!.path);
    expect(await d2.getXml()).toContain(
      `<driver name='qemu' type='qcow2'/>\n      <source file='${overlay}'/>`,
    );
    expect(holds(overlay, 'qcow2', [0x41])).toBe(true);
  });

  it('noMetadata creates the overlays and repoints the domain but records no snapshot', async () => {
    await dom.createSnapshot('<domainsnapshot><name>q</name></domainsnapshot>', {
      diskOnly: true,
      noMetadata: true,
    });
    expect(await dom.listSnapshots()).toEqual([]);
    expect(await sourceOf('vda')).toBe(join(world.images, 'vda.q'));
  });

  it('carries recording bitmaps (checkpoints) into the overlays', async () => {
    await dom.createCheckpoint('<domaincheckpoint><name>c1</name></domaincheckpoint>');
    img(['bitmap', '--add', '--disable', disks[0]!.path, 'off']);
    await dom.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', { diskOnly: true });
    expect(bitmapNames(join(world.images, 'vda.e1'))).toEqual(['c1']);
    expect(bitmapNames(join(world.images, 'vdb.e1'))).toEqual(['c1']);
    expect(bitmapNames(disks[0]!.path)).toEqual(['c1', 'off']);
  });

  it('reverts and deletes external snapshots (see qemu-external-*.test.ts); metadataOnly leaves the images alone', async () => {
    writeSlots(disks[0]!.path, 'qcow2', [0x11]);
    const e1 = await dom.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', {
      diskOnly: true,
    });
    writeSlots(join(world.images, 'vda.e1'), 'qcow2', [0, 0x12]);
    await e1.revert();
    const top = await sourceOf('vda');
    expect(top).toMatch(/\/vda\.revert-\d+$/);
    expect(existsSync(join(world.images, 'vda.e1'))).toBe(false);
    expect(holds(top, 'qcow2', [0x11])).toBe(true);
    const images = hashTree(world.images);
    await e1.delete({ metadataOnly: true });
    expect(await dom.listSnapshots()).toEqual([]);
    expect(hashTree(world.images)).toEqual(images);
    await dom.createSnapshot('<domainsnapshot><name>e2</name></domainsnapshot>', { diskOnly: true });
    await (await dom.lookupSnapshotByName('e2')).delete();
    // the base image, forgotten by the metadataOnly delete, had one dependent left: folded too
    expect(await sourceOf('vda')).toBe(disks[0]!.path);
    expect(holds(disks[0]!.path, 'qcow2', [0x11])).toBe(true);
    expect(readdirSync(world.images).sort()).toEqual(['vda.qcow2', 'vdb.qcow2']);
  });

  it('refuses to revert an internal snapshot whose image an external snapshot froze', async () => {
    writeSlots(disks[0]!.path, 'qcow2', [0x11]);
    const s1 = await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
    await dom.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', { diskOnly: true });
    const before = { root: hashTree(world.root), images: hashTree(world.images) };
    const err = await errorOf(s1.revert());
    expect(err.code).toBe('OPERATION_UNSUPPORTED');
    expect(err.message).toMatch(/read-only backing image of external snapshot 'e1'/);
    expect(err.message).toMatch(/Delete 'e1' first/);
    expect({ root: hashTree(world.root), images: hashTree(world.images) }).toEqual(before);
    // forgotten with metadataOnly, the overlays hold only the current state: the revert drops them
    await (await dom.lookupSnapshotByName('e1')).delete({ metadataOnly: true });
    await s1.revert();
    expect(await sourceOf('vda')).toBe(disks[0]!.path);
    expect(readdirSync(world.images).sort()).toEqual(['vda.qcow2', 'vdb.qcow2']);
    expect(holds(disks[0]!.path, 'qcow2', [0x11])).toBe(true);
  });

  describe('internal revert after external snapshots (no dead end)', () => {
    const s1Data = [0x11, 0x12];
    const setup = async (): Promise<void> => {
      writeSlots(disks[0]!.path, 'qcow2', s1Data);
      writeSlots(disks[1]!.path, 'qcow2', [0x21]);
    };
    const expectS1 = async (): Promise<void> => {
      expect(await sourceOf('vda')).toBe(disks[0]!.path);
      expect(await sourceOf('vdb')).toBe(disks[1]!.path);
      expect(holds(disks[0]!.path, 'qcow2', s1Data)).toBe(true);
      expect(holds(disks[1]!.path, 'qcow2', [0x21])).toBe(true);
      expect(readdirSync(world.images).sort()).toEqual(['vda.qcow2', 'vdb.qcow2']);
    };

    it('s1, e1, delete e1 (folded back into the base image), revert s1 — also with force', async () => {
      await setup();
      const s1 = await dom.createSnapshot({ name: 's1' });
      const e1 = await dom.createSnapshot({ name: 'e1' }, { diskOnly: true });
      writeSlots(join(world.images, 'vda.e1'), 'qcow2', [0x31, 0x32, 0x33]);
      await e1.delete();
      expect((await dom.listSnapshots()).map((s) => s.name)).toEqual(['s1']);
      // like libvirt's active block-commit: the domain is back on the base image, data intact
      expect(await sourceOf('vda')).toBe(disks[0]!.path);
      expect(holds(disks[0]!.path, 'qcow2', [0x31, 0x32, 0x33])).toBe(true);
      expect(img(['snapshot', '-l', disks[0]!.path])).toContain('s1');
      await s1.revert();
      await expectS1();
      writeSlots(disks[0]!.path, 'qcow2', [0x41]);
      await s1.revert({ force: true });
      await expectS1();
    });

    it('the same tree imported from libvirt with redefine', async () => {
      await setup();
      const s1 = await dom.createSnapshot({ name: 's1' });
      const e1 = await dom.createSnapshot({ name: 'e1' }, { diskOnly: true });
      writeSlots(join(world.images, 'vda.e1'), 'qcow2', [0x31]);
      const xml = { dom: await dom.getXml(), s1: await s1.getXml(), e1: await e1.getXml() };
      await dom.undefine({ snapshotsMetadata: true });
      dom = await conn.defineDomain(xml.dom);
      await dom.createSnapshot(xml.s1, { redefine: true });
      await dom.createSnapshot(xml.e1, { redefine: true, current: true });
      const s1b = await dom.lookupSnapshotByName('s1');
      expect(await codeOf(s1b.revert())).toBe('OPERATION_UNSUPPORTED');
      await (await dom.lookupSnapshotByName('e1')).delete();
      expect(await sourceOf('vda')).toBe(disks[0]!.path);
      await s1b.revert();
      await expectS1();
    });

    it('overlays only the current state uses are dropped by the revert (noMetadata overlays)', async () => {
      await setup();
      const s1 = await dom.createSnapshot({ name: 's1' });
      await dom.createSnapshot({ name: 'n1' }, { diskOnly: true, noMetadata: true });
      await dom.createSnapshot({ name: 'n2' }, { diskOnly: true, noMetadata: true });
      expect(await sourceOf('vda')).toBe(join(world.images, 'vda.n2'));
      writeSlots(join(world.images, 'vda.n2'), 'qcow2', [0x51]);
      await s1.revert();
      await expectS1();
    });

    it('drops the revert overlays of the state being left even when their snapshot is gone', async () => {
      await setup();
      const e0 = await dom.createSnapshot({ name: 'e0' }, { diskOnly: true });
      writeSlots(join(world.images, 'vda.e0'), 'qcow2', [0x71]);
      const s1 = await dom.createSnapshot({ name: 's1' });
      await e0.revert();
      const revertOverlay = await sourceOf('vda');
      expect(revertOverlay).toMatch(/vda\.revert-\d+$/);
      await e0.delete();
      expect(await sourceOf('vda')).toBe(revertOverlay);
      await s1.revert();
      expect(await sourceOf('vda')).toBe(join(world.images, 'vda.e0'));
      expect(holds(join(world.images, 'vda.e0'), 'qcow2', [0x71, 0x12])).toBe(true);
      expect(readdirSync(world.images).sort()).toEqual(['vda.e0', 'vda.qcow2', 'vdb.e0', 'vdb.qcow2']);
    });

    it('an internal snapshot in an overlay above the image is named as what to delete first', async () => {
      await setup();
      const s1 = await dom.createSnapshot({ name: 's1' });
      const e1 = await dom.createSnapshot({ name: 'e1' }, { diskOnly: true });
      writeSlots(join(world.images, 'vda.e1'), 'qcow2', [0x61]);
      const s2 = await dom.createSnapshot({ name: 's2' });
      // vda.e1 holds s2, so deleting e1 cannot fold it away
      await e1.delete();
      expect(await sourceOf('vda')).toBe(join(world.images, 'vda.e1'));
      const before = { root: hashTree(world.root), images: hashTree(world.images) };
      const err = await errorOf(s1.revert());
      expect(err.code).toBe('OPERATION_UNSUPPORTED');
      expect(err.message).toMatch(/internal snapshot 's2' in an overlay above it/);
      expect(err.message).toMatch(/Delete 's2' first/);
      expect({ root: hashTree(world.root), images: hashTree(world.images) }).toEqual(before);
      await s2.revert();
      expect(holds(join(world.images, 'vda.e1'), 'qcow2', [0x61, 0x12])).toBe(true);
      await s2.delete();
      await s1.revert();
      await expectS1();
    });
  });

  it('internal snapshots on top of an overlay revert and delete normally', async () => {
    await dom.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', { diskOnly: true });
    const top = join(world.images, 'vda.e1');
    writeSlots(top, 'qcow2', [0x31]);
    const s2 = await dom.createSnapshot('<domainsnapshot><name>s2</name></domainsnapshot>');
    writeSlots(top, 'qcow2', [0x32]);
    await s2.revert();
    expect(holds(top, 'qcow2', [0x31])).toBe(true);
    await s2.delete();
    expect(await sourceOf('vda')).toBe(top);
  });
});
