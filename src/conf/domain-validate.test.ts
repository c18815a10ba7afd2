import { describe, expect, it } from 'vitest';
import { VirtError } from '../errors.js';
import { checkDuplicateDiskTargets } from './domain-validate.js';
import { parseDomainXml } from './domain-xml.js';

const FILE = (t: string, p: string, bus = '') =>
  `<disk type='file'><source file='${p}'/><target dev='${t}'${bus === '' ? '' : ` bus='${bus}'`}/></disk>`;
const BLOCK = (t: string) => `<disk type='block'><source dev='/dev/sdx'/><target dev='${t}'/></disk>`;
const NETWORK = (t: string) =>
  `<disk type='network'><source protocol='nbd' name='exp'><host name='h' port='10809'/></source><target dev='${t}'/></disk>`;
const VOLUME = (t: string) =>
  `<disk type='volume'><source pool='default' volume='v1'/><target dev='${t}'/></disk>`;
const NVME = (t: string) =>
  `<disk type='nvme'><source type='pci' managed='yes' namespace='1'><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source><target dev='${t}'/></disk>`;
const CDROM = (t: string) => `<disk type='file' device='cdrom'><target dev='${t}'/><readonly/></disk>`;
const VHOST = (t: string) =>
  `<disk type='vhostuser'><source type='unix' path='/run/v.sock'/><target dev='${t}' bus='virtio'/></disk>`;

const domain = (...disks: string[]) =>
  parseDomainXml(`<domain type='test'><name>d</name><devices>${disks.join('')}</devices></domain>`);

function messageOf(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof VirtError) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'ok';
}

// The messages are those libvirt 9.0's test driver gave when defining the same disks.
describe('checkDuplicateDiskTargets', () => {
  it.each<[string, string[], string]>([
    ['two files', [FILE('sda', '/1'), FILE('sda', '/2')], "'sda' duplicated for disk sources '/1' and '/2'"],
    [
      'two files on different buses',
      [FILE('sda', '/1', 'sata'), FILE('sda', '/2', 'scsi')],
      "'sda' duplicated for disk sources '/1' and '/2'",
    ],
    [
      'a block and a network disk',
      [BLOCK('sda'), NETWORK('sda')],
      "'sda' duplicated for disk sources '/dev/sdx' and 'exp'",
    ],
    [
      'a volume and an nvme disk',
      [VOLUME('sda'), NVME('sda')],
      "'sda' duplicated for disk sources '<null>' and '<null>'",
    ],
    [
      'an empty cdrom and a vhost-user disk',
      [CDROM('sda'), VHOST('sda')],
      "'sda' duplicated for disk sources '<null>' and '<null>'",
    ],
    [
      'the first pair, in libvirt order',
      [FILE('sdb', '/1'), FILE('sda', '/2'), FILE('sdb', '/3')],
      "'sdb' duplicated for disk sources '/1' and '/3'",
    ],
  ])('refuses %s', (_what, disks, message) => {
    expect(messageOf(() => checkDuplicateDiskTargets(domain(...disks)))).toBe(`XML_ERROR: target ${message}`);
  });

  it.each<[string, string, string]>([
    ['rbd', 'pool/img/x', 'img/x'],
    ['gluster', 'vol/dir/img', 'dir/img'],
    ['iscsi', 'iqn.x:y/1', 'iqn.x:y/1'],
    ['iscsi', 'iqn.x:y', 'iqn.x:y/0'],
    ['nbd', 'exp/a', 'exp/a'],
    ['http', '/a/b.iso', '/a/b.iso'],
  ])('names a %s source %s as %s', (protocol, name, path) => {
    const net = `<disk type='network'><source protocol='${protocol}' name='${name}'><host name='h'/></source><target dev='sda'/></disk>`;
    expect(messageOf(() => checkDuplicateDiskTargets(domain(net, FILE('sda', '/f'))))).toBe(
      `XML_ERROR: target 'sda' duplicated for disk sources '${path}' and '/f'`,
    );
  });

  it('accepts distinct targets, including partitions of one drive', () => {
    expect(messageOf(() => checkDuplicateDiskTargets(domain(FILE('vda', '/1'), FILE('vda1', '/2'))))).toBe(
      'ok',
    );
  });
});
