// defineDomain does not run the qemu domain model (start does): real-world XML that the running
// model refuses still defines and snapshots offline.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection } from 'virtkit';
import { validateQemuDomain } from '../../drivers/qemu/domain-model.js';
import {
  domainXml,
  HAVE_QEMU,
  makeDisks,
  newWorld,
  open,
  type TestDisk,
  type World,
} from './qemu-fixture.js';

describe.runIf(HAVE_QEMU)('qemu driver: define and the running-domain model', () => {
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

  it('defines (and snapshots offline) a virt-install-style domain the running model refuses', async () => {
    // What `virsh dumpxml` gives for a virt-install VM: elements start() will need to accept.
    const extra =
      "<interface type='network'><source network='default'/><model type='virtio'/></interface>" +
      "<input type='tablet' bus='usb'/><rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\n";
    const xml = domainXml('web01', disks, extra).replace(
      '<os>',
      "<resource><partition>/machine</partition></resource><pm><suspend-to-mem enabled='no'/></pm><os>",
    );
    expect(() => validateQemuDomain(xml)).toThrow(/not supported by the qemu driver/);
    const dom = await conn.defineDomain(xml);
    const s1 = await dom.createSnapshot({ name: 's1' });
    expect(s1.name).toBe('s1');
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
