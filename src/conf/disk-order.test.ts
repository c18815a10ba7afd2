import { describe, expect, it } from 'vitest';
import { definedDiskOrder, diskNameIndex, effectiveDiskBus, momentDiskOrder } from './disk-order.js';
import { parseDomainXml } from './domain-xml.js';

/** A domain with one file disk per entry: `target`, `target:bus`, `target::floppy`. */
function domain(...disks: string[]) {
  const devices = disks.map((spec, i) => {
    const [target, bus, device] = spec.split(':');
    const busAttr = bus === undefined || bus === '' ? '' : ` bus='${bus}'`;
    return `<disk type='file' device='${device ?? 'disk'}'><source file='/i/${i}'/><target dev='${target}'${busAttr}/></disk>`;
  });
  return parseDomainXml(`<domain type='test'><name>d</name><devices>${devices.join('')}</devices></domain>`);
}

const targets = (disks: readonly { readonly target: string }[]) => disks.map((d) => d.target);

describe('diskNameIndex', () => {
  it.each<[string, number]>([
    ['vda', 0],
    ['hdz', 25],
    ['sdaa', 26],
    ['vdzz', 701],
    ['xvdb', 1],
    ['ubda', 0],
    ['fdb', 1],
    ['vdb1', 1],
    ['xyz', -1],
    ['vd', -1],
    ['vdA', -1],
    ['vda1x', -1],
    ['nvme0n1', -1],
  ])('%s is %i', (name, index) => {
    expect(diskNameIndex(name)).toBe(index);
  });
});

describe('effectiveDiskBus', () => {
  it('takes bus=, then fdc for floppies, then the target prefix, then ide', () => {
    const dom = domain('vda:sata', 'hda::floppy', 'sdb', 'vdc', 'xvda', 'ubda', 'hdd', 'fda');
    expect(dom.disks.map(effectiveDiskBus)).toEqual([
      'sata',
      'fdc',
      'scsi',
      'virtio',
      'xen',
      'uml',
      'ide',
      'ide',
    ]);
  });
});

// Every expectation below is what libvirt 9.0's test driver printed for the same definition:
// the disk order of the defined domain's XML, then that of a default snapshot and checkpoint.
describe('libvirt disk order', () => {
  it.each<[string, string[], string[], string[]]>([
    [
      'no buses written',
      ['hdc', 'vdb', 'hda', 'vda'],
      ['hda', 'vda', 'vdb', 'hdc'],
      ['hda', 'hdc', 'vda', 'vdb'],
    ],
    [
      'floppies and two buses, no bus written',
      ['vdb', 'hdb', 'hda', 'vda', 'hdc', 'fdb::floppy', 'fda::floppy'],
      ['hda', 'vda', 'fda', 'vdb', 'hdb', 'fdb', 'hdc'],
      ['hda', 'hdb', 'hdc', 'vda', 'vdb', 'fda', 'fdb'],
    ],
    [
      'some buses written',
      ['vdb:virtio', 'vda', 'hda:ide', 'sda:sata', 'hdb'],
      ['vdb', 'vda', 'hdb', 'hda', 'sda'],
      ['vda', 'vdb', 'hda', 'hdb', 'sda'],
    ],
    [
      'all buses written',
      ['sdb:sata', 'sda:scsi', 'sdc:sata', 'hda:sata', 'vdz:scsi'],
      ['hda', 'sdb', 'sdc', 'sda', 'vdz'],
      ['hda', 'sdb', 'sdc', 'sda', 'vdz'],
    ],
    ['usb disks', ['sdb:usb', 'sda', 'sdc:usb'], ['sdb', 'sdc', 'sda'], ['sdb', 'sdc', 'sda']],
    ['partitions', ['vda2', 'vda1', 'vdb'], ['vda2', 'vda1', 'vdb'], ['vda2', 'vda1', 'vdb']],
    [
      'xen and uml names',
      ['ubda', 'vda', 'xvdb', 'xvda'],
      ['ubda', 'vda', 'xvda', 'xvdb'],
      ['ubda', 'vda', 'xvda', 'xvdb'],
    ],
    [
      'a mixed real-world machine',
      [
        'vdb',
        'vda',
        'vdc',
        'vdd',
        'vde',
        'vdf:virtio',
        'hdc',
        'fda::floppy',
        'sdb:scsi',
        'sda',
        'hdb',
        'xvda:xen',
        'sdc:sata',
        'fdb:fdc:floppy',
      ],
      ['vda', 'fda', 'sda', 'vdb', 'hdb', 'vdc', 'hdc', 'vdd', 'vde', 'vdf', 'sdb', 'xvda', 'sdc', 'fdb'],
      ['vda', 'vdb', 'vdc', 'vdd', 'vde', 'vdf', 'fda', 'fdb', 'sda', 'sdb', 'hdb', 'hdc', 'xvda', 'sdc'],
    ],
  ])('%s', (_what, written, defined, moment) => {
    const dom = domain(...written);
    expect(targets(definedDiskOrder(dom))).toEqual(defined);
    expect(targets(momentDiskOrder(dom))).toEqual(moment);
  });

  it('is stable once every disk has its bus', () => {
    const dom = domain('vdb', 'hdb', 'hda', 'vda', 'hdc', 'fdb::floppy', 'fda::floppy');
    const once = momentDiskOrder(dom);
    const again = momentDiskOrder({ ...dom, disks: once.map((d) => ({ ...d, bus: effectiveDiskBus(d) })) });
    expect(targets(again)).toEqual(targets(once));
  });
});
