// defineDomain runs the qemu domain model: what QEMU cannot run is refused at define time,
// with libvirt's codes, and the root stays unchanged.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection } from 'virtkit';
import {
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

describe.runIf(HAVE_QEMU)('qemu driver: define checks what QEMU can run', () => {
  let world: World;
  let conn: Connection;
  let disks: TestDisk[];

  beforeEach(async () => {
    world = newWorld();
    conn = await open(world);
    disks = makeDisks(world, ['vda']);
  });

  afterEach(async () => {
    await conn.close();
    world.cleanup();
  });

  it('refuses, leaving the root unchanged', async () => {
    await conn.defineDomain(domainXml('keep', disks));
    const before = hashTree(world.root);
    const base = domainXml('vm', disks);
    const cases: [string, string, RegExp][] = [
      [base.replace(/<os>.*<\/os>/, ''), 'XML_ERROR', /^an os <type> must be specified$/],
      [base.replace("bus='virtio'/>", "bus='virtio'/><transient/>"), 'CONFIG_UNSUPPORTED', /transient disks/],
      [
        domainXml('vm', disks, "<interface type='network'/>"),
        'CONFIG_UNSUPPORTED',
        /interface type 'network'/,
      ],
      [domainXml('vm', disks, "<graphics type='spice'/>"), 'CONFIG_UNSUPPORTED', /graphics type 'spice'/],
      [domainXml('vm', disks, "<hostdev mode='subsystem'/>"), 'CONFIG_UNSUPPORTED', /<hostdev>/],
      [
        base.replace('<vcpu>', "<cpu mode='host-passthrough'/><vcpu>"),
        'CONFIG_UNSUPPORTED',
        /^CPU mode 'host-passthrough' for x86_64 qemu domain/,
      ],
    ];
    for (const [xml, code, message] of cases) {
      const err = await errorOf(conn.defineDomain(xml));
      expect(err.code, xml).toBe(code);
      expect(err.message, xml).toMatch(message);
    }
    expect(hashTree(world.root)).toEqual(before);
  });

  it('accepts a domain with every supported device', async () => {
    const extra =
      "<interface type='user'><model type='virtio'/></interface><serial type='pty'/>" +
      "<console type='pty'><target type='serial'/></console>" +
      "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>" +
      "<graphics type='vnc'><listen type='socket'/></graphics><video><model type='virtio'/></video>" +
      "<controller type='usb' model='none'/><memballoon model='none'/>\n";
    const dom = await conn.defineDomain(domainXml('full', disks, extra));
    expect(await dom.getXml()).toContain("<graphics type='vnc'>");
  });
});
