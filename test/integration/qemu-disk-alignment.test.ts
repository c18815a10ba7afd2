import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection, Domain } from 'virtkit';
import { errorOf, HAVE_QEMU, makeDisks, newWorld, open, type TestDisk, type World } from './qemu-fixture.js';

/** `[name, snapshot]` of every `<disks>` entry of snapshot XML, or `[name, checkpoint]`. */
function diskModes(xml: string, attribute: 'snapshot' | 'checkpoint'): [string, string][] {
  const body = xml.slice(xml.indexOf('<disks>'), xml.indexOf('</disks>'));
  return [...body.matchAll(/<disk name='([^']+)'(?: [^>]*)?>/g)].map((m) => [
    m[1] ?? '',
    new RegExp(`${attribute}='([^']+)'`).exec(m[0])?.[1] ?? '',
  ]);
}

function fileDisk(disk: TestDisk, extra = ''): string {
  return (
    `<disk type='file' device='disk'><driver name='qemu' type='${disk.format}'/>` +
    `<source file='${disk.path}'/><target dev='${disk.target}'${extra}/></disk>`
  );
}

const VHOST_USER =
  "<disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/>" +
  "<source type='unix' path='/run/vhost-user.sock'><reconnect enabled='yes' timeout='10'/></source>" +
  "<target dev='vdz' bus='virtio'/></disk>";

function domainXml(name: string, devices: string): string {
  return (
    `<domain type='qemu'><name>${name}</name><memory unit='KiB'>65536</memory><vcpu>1</vcpu>` +
    `<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>${devices}</devices></domain>`
  );
}

// The orders and modes expected here are those libvirt 9.0 gives the same definitions.
describe.runIf(HAVE_QEMU)('qemu driver: disks of snapshots and checkpoints as libvirt aligns them', () => {
  let world: World;
  let conn: Connection;

  beforeEach(async () => {
    world = newWorld();
    conn = await open(world);
  });

  afterEach(async () => {
    await conn.close();
    world.cleanup();
  });

  it("lists disks in libvirt's order (by bus, then drive index), whatever the written order", async () => {
    const disks = makeDisks(world, ['hdc', 'vdb', 'hda', 'vda']);
    const dom = await conn.defineDomain(domainXml('order', disks.map((d) => fileDisk(d)).join('')));
    const s1 = await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
    const order = ['hda', 'hdc', 'vda', 'vdb'];
    expect(diskModes(await s1.getXml(), 'snapshot')).toEqual(order.map((t) => [t, 'internal']));
    await s1.delete();
    const e1 = await dom.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', {
      diskOnly: true,
    });
    expect(diskModes(await e1.getXml(), 'snapshot')).toEqual(order.map((t) => [t, 'external']));
    const c1 = await dom.createCheckpoint('<domaincheckpoint><name>c1</name></domaincheckpoint>');
    expect(diskModes(await c1.getXml(), 'checkpoint')).toEqual(order.map((t) => [t, 'bitmap']));
  });

  describe('a vhost-user disk', () => {
    let dom: Domain;
    let disks: TestDisk[];

    beforeEach(async () => {
      disks = makeDisks(world, ['vda']);
      dom = await conn.defineDomain(domainXml('vhost', fileDisk(disks[0]!, " bus='virtio'") + VHOST_USER));
    });

    it("is left out of a default snapshot as 'no'", async () => {
      const s1 = await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
      expect(diskModes(await s1.getXml(), 'snapshot')).toEqual([
        ['vda', 'internal'],
        ['vdz', 'no'],
      ]);
    });

    it("may be listed as 'no'", async () => {
      const xml =
        "<domainsnapshot><name>s2</name><disks><disk name='vdz' snapshot='no'/></disks></domainsnapshot>";
      expect(diskModes(await (await dom.createSnapshot(xml)).getXml(), 'snapshot')).toEqual([
        ['vda', 'internal'],
        ['vdz', 'no'],
      ]);
    });

    it('gets no generated file in a disk-only snapshot', async () => {
      const e1 = await dom.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', {
        diskOnly: true,
      });
      expect(diskModes(await e1.getXml(), 'snapshot')).toEqual([
        ['vda', 'external'],
        ['vdz', 'no'],
      ]);
      expect(existsSync(join(world.images, 'vda.e1'))).toBe(true);
    });
  });

  describe('names of external files', () => {
    it('are generated only after the image is found to be a regular file on the host', async () => {
      const disks = makeDisks(world, ['vda', 'vdb']);
      const dom = await conn.defineDomain(domainXml('host', disks.map((d) => fileDisk(d)).join('')));
      rmSync(disks[1]!.path);
      const err = await errorOf(
        dom.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', { diskOnly: true }),
      );
      // a missing image is named with its path, as on every other operation (libvirt says
      // "not a regular file" here too)
      expect([err.code, err.message]).toEqual([
        'SYSTEM_ERROR',
        `unable to stat image of disk 'vdb': '${disks[1]!.path}': No such file or directory`,
      ]);
      expect(existsSync(join(world.images, 'vda.e1'))).toBe(false);
      mkdirSync(disks[1]!.path);
      const notFile = await errorOf(dom.createSnapshot('<domainsnapshot/>', { diskOnly: true }));
      expect([notFile.code, notFile.message]).toEqual([
        'CONFIG_UNSUPPORTED',
        "source for disk 'vdb' is not a regular file; refusing to generate external snapshot name",
      ]);
      expect(existsSync(join(world.images, 'vda.e1'))).toBe(false);
      // a file given in the XML needs no generated name, hence no check
      const given =
        `<domainsnapshot><name>e2</name><disks><disk name='vdb' snapshot='no'/></disks>` +
        `</domainsnapshot>`;
      await dom.createSnapshot(given, { diskOnly: true });
      expect(existsSync(join(world.images, 'vda.e2'))).toBe(true);
    });

    it('follow a symbolic link to a regular file, as stat does', async () => {
      const [disk] = makeDisks(world, ['vda']);
      const link = join(world.images, 'link.qcow2');
      symlinkSync(disk!.path, link);
      const dom = await conn.defineDomain(domainXml('link', fileDisk({ ...disk!, path: link })));
      await dom.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', { diskOnly: true });
      expect(existsSync(join(world.images, 'link.e1'))).toBe(true);
    });
  });
});
