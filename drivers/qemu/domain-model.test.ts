import { describe, expect, it } from 'vitest';
import { isVirtError } from 'virtkit';
import { parseQemuDomain, validateQemuDomain } from './domain-model.js';

/** A domain XML: `head` goes after `<name>`, `devices` inside `<devices>`. */
function dom(
  o: { type?: string; head?: string; os?: string; devices?: string; memory?: string } = {},
): string {
  const os = o.os ?? "<os><type arch='x86_64' machine='q35'>hvm</type></os>";
  const memory = o.memory ?? "<memory unit='MiB'>128</memory>";
  return `<domain type='${o.type ?? 'qemu'}'><name>vm</name>${memory}${o.head ?? ''}${os}<devices>${o.devices ?? ''}</devices></domain>`;
}

const disk = (attrs: string, inner: string): string => `<disk ${attrs}>${inner}</disk>`;
const qcow2 = (target: string, bus = 'virtio', extra = ''): string =>
  disk(
    "type='file' device='disk'",
    `<driver name='qemu' type='qcow2'/><source file='/img/${target}.qcow2'/><target dev='${target}' bus='${bus}'/>${extra}`,
  );

function failure(xml: string): { code: string; message: string } {
  try {
    validateQemuDomain(xml);
  } catch (err) {
    if (isVirtError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  return { code: 'none', message: '' };
}

describe('parseQemuDomain: refused at define time', () => {
  const cases: [string, string, string, RegExp][] = [
    ['no <os>', dom({ os: '' }), 'XML_ERROR', /^an os <type> must be specified$/],
    ['empty os type', dom({ os: '<os><type/></os>' }), 'XML_ERROR', /^an os <type> must be specified$/],
    ['os type linux', dom({ os: '<os><type>linux</type></os>' }), 'CONFIG_UNSUPPORTED', /os type 'linux'/],
    [
      'arch aarch64',
      dom({ os: "<os><type arch='aarch64'>hvm</type></os>" }),
      'CONFIG_UNSUPPORTED',
      /'aarch64'/,
    ],
    [
      'machine isapc',
      dom({ os: "<os><type machine='isapc'>hvm</type></os>" }),
      'CONFIG_UNSUPPORTED',
      /'isapc'/,
    ],
    [
      'relative kernel',
      dom({ os: '<os><type>hvm</type><kernel>vmlinuz</kernel></os>' }),
      'CONFIG_UNSUPPORTED',
      /absolute/,
    ],
    [
      'initrd without kernel',
      dom({ os: '<os><type>hvm</type><initrd>/i</initrd></os>' }),
      'CONFIG_UNSUPPORTED',
      /<kernel>/,
    ],
    [
      'os loader',
      dom({ os: '<os><type>hvm</type><loader>/x</loader></os>' }),
      'CONFIG_UNSUPPORTED',
      /<loader> in <os>/,
    ],
    [
      'boot fd',
      dom({ os: "<os><type>hvm</type><boot dev='fd'/></os>" }),
      'CONFIG_UNSUPPORTED',
      /boot device 'fd'/,
    ],
    ['no memory', dom({ memory: '' }), 'XML_ERROR', /^Memory size must be specified via <memory>/],
    ['memory 0', dom({ memory: '<memory>0</memory>' }), 'XML_ERROR', /^Memory size must be specified/],
    ['memory text', dom({ memory: '<memory>lots</memory>' }), 'XML_ERROR', /invalid value 'lots'/],
    ['memory unit', dom({ memory: "<memory unit='xb'>1</memory>" }), 'XML_ERROR', /unknown suffix 'xb'/],
    ['memory too large', dom({ memory: "<memory unit='EiB'>99</memory>" }), 'XML_ERROR', /too large/],
    ['maxMemory', dom({ head: "<maxMemory slots='2'>1</maxMemory>" }), 'CONFIG_UNSUPPORTED', /<maxMemory>/],
    ['vcpu 0', dom({ head: '<vcpu>0</vcpu>' }), 'XML_ERROR', /Invalid number of vCPUs/],
    ['vcpu current > max', dom({ head: "<vcpu current='3'>2</vcpu>" }), 'XML_ERROR', /between 1 and 2/],
    ['vcpu text', dom({ head: '<vcpu>two</vcpu>' }), 'XML_ERROR', /must be an integer/],
    ['vcpu 300', dom({ head: '<vcpu>300</vcpu>' }), 'CONFIG_UNSUPPORTED', /machine type limit/],
    [
      'vcpu auto placement',
      dom({ head: "<vcpu placement='auto'>1</vcpu>" }),
      'CONFIG_UNSUPPORTED',
      /placement 'auto'/,
    ],
    [
      'host-passthrough under TCG',
      dom({ head: "<cpu mode='host-passthrough'/>" }),
      'CONFIG_UNSUPPORTED',
      /^CPU mode 'host-passthrough' for x86_64 qemu domain on x86_64 host is not supported by hypervisor$/,
    ],
    [
      'host-model',
      dom({ type: 'kvm', head: "<cpu mode='host-model'/>" }),
      'CONFIG_UNSUPPORTED',
      /'host-model'/,
    ],
    [
      'cpu features',
      dom({ head: "<cpu mode='custom'><model>qemu64</model><feature name='x'/></cpu>" }),
      'CONFIG_UNSUPPORTED',
      /<feature> in <cpu>/,
    ],
    ['custom cpu without model', dom({ head: "<cpu mode='custom'/>" }), 'XML_ERROR', /valid <model>/],
    [
      'hyperv feature',
      dom({ head: '<features><hyperv/></features>' }),
      'CONFIG_UNSUPPORTED',
      /<hyperv> in <features>/,
    ],
    [
      'clock variable',
      dom({ head: "<clock offset='variable'/>" }),
      'CONFIG_UNSUPPORTED',
      /clock offset 'variable'/,
    ],
    [
      'clock timer',
      dom({ head: "<clock offset='utc'><timer name='rtc'/></clock>" }),
      'CONFIG_UNSUPPORTED',
      /<timer> in <clock>/,
    ],
    [
      'on_poweroff restart',
      dom({ head: '<on_poweroff>restart</on_poweroff>' }),
      'CONFIG_UNSUPPORTED',
      /on_poweroff/,
    ],
    ['on_crash restart', dom({ head: '<on_crash>restart</on_crash>' }), 'CONFIG_UNSUPPORTED', /on_crash/],
    [
      'numatune',
      dom({ head: '<numatune/>' }),
      'CONFIG_UNSUPPORTED',
      /^element <numatune> in <domain> is not supported/,
    ],
    ['seclabel', dom({ head: "<seclabel type='dynamic'/>" }), 'CONFIG_UNSUPPORTED', /<seclabel>/],
    [
      'hostdev',
      dom({ devices: "<hostdev mode='subsystem'/>" }),
      'CONFIG_UNSUPPORTED',
      /<hostdev> in <devices>/,
    ],
    ['xen type', dom({ type: 'xen' }), 'CONFIG_UNSUPPORTED', /virt type 'xen'/],
    [
      'transient disk',
      dom({ devices: qcow2('vda', 'virtio', '<transient/>') }),
      'CONFIG_UNSUPPORTED',
      /^disk 'vda': transient disks not supported yet$/,
    ],
    [
      'block disk',
      dom({ devices: disk("type='block'", "<source dev='/dev/sda'/><target dev='vda'/>") }),
      'CONFIG_UNSUPPORTED',
      /only file disks/,
    ],
    [
      'lun device',
      dom({ devices: disk("type='file' device='lun'", "<source file='/x'/><target dev='sda'/>") }),
      'CONFIG_UNSUPPORTED',
      /'lun'/,
    ],
    [
      'floppy device',
      dom({ devices: disk("type='file' device='floppy'", "<source file='/x'/><target dev='fda'/>") }),
      'CONFIG_UNSUPPORTED',
      /'floppy'/,
    ],
    [
      'vmdk',
      dom({ devices: qcow2('vda').replace("type='qcow2'", "type='vmdk'") }),
      'CONFIG_UNSUPPORTED',
      /image format 'vmdk'/,
    ],
    [
      'driver cache',
      dom({ devices: qcow2('vda').replace("type='qcow2'", "type='qcow2' cache='none'") }),
      'CONFIG_UNSUPPORTED',
      /<driver cache=…>/,
    ],
    [
      'relative source',
      dom({ devices: qcow2('vda').replace('/img/vda', 'img/vda') }),
      'CONFIG_UNSUPPORTED',
      /must be absolute/,
    ],
    [
      'empty disk',
      dom({ devices: disk("type='file' device='disk'", "<target dev='vda'/>") }),
      'CONFIG_UNSUPPORTED',
      /only a cdrom can be empty/,
    ],
    [
      'ide bus on q35',
      dom({ devices: qcow2('hda', 'ide') }),
      'CONFIG_UNSUPPORTED',
      /IDE controllers are unsupported/,
    ],
    ['usb bus', dom({ devices: qcow2('sda', 'usb') }), 'CONFIG_UNSUPPORTED', /disk bus 'usb'/],
    [
      'virtio cdrom',
      dom({ devices: disk("type='file' device='cdrom'", "<target dev='vdc' bus='virtio'/>") }),
      'CONFIG_UNSUPPORTED',
      /ejectable media/,
    ],
    [
      'readonly sata disk',
      dom({ devices: qcow2('sda', 'sata', '<readonly/>') }),
      'CONFIG_UNSUPPORTED',
      /^readonly sata disks are not supported$/,
    ],
    ['7th sata port', dom({ devices: qcow2('sdg', 'sata') }), 'CONFIG_UNSUPPORTED', /6 ports/],
    ['unknown target name', dom({ devices: qcow2('xyz') }), 'XML_ERROR', /Unknown disk name 'xyz'/],
    [
      'same sata unit',
      dom({ devices: qcow2('sda', 'sata') + qcow2('vda', 'sata') }),
      'XML_ERROR',
      /sata unit 0/,
    ],
    [
      'disk iotune',
      dom({ devices: qcow2('vda', 'virtio', '<iotune/>') }),
      'CONFIG_UNSUPPORTED',
      /<iotune> in <disk dev='vda'>/,
    ],
    [
      'bad boot order',
      dom({ devices: qcow2('vda', 'virtio', "<boot order='0'/>") }),
      'XML_ERROR',
      /boot order/,
    ],
    [
      'os boot and device boot',
      dom({
        os: "<os><type>hvm</type><boot dev='hd'/></os>",
        devices: qcow2('vda', 'virtio', "<boot order='1'/>"),
      }),
      'CONFIG_UNSUPPORTED',
      /per-device boot elements/,
    ],
    [
      'network interface',
      dom({ devices: "<interface type='network'><source network='default'/></interface>" }),
      'CONFIG_UNSUPPORTED',
      /interface type 'network'/,
    ],
    [
      'bridge interface',
      dom({ devices: "<interface type='bridge'/>" }),
      'CONFIG_UNSUPPORTED',
      /interface type 'bridge'/,
    ],
    [
      'nic model',
      dom({ devices: "<interface type='user'><model type='ne2k_pci'/></interface>" }),
      'CONFIG_UNSUPPORTED',
      /'ne2k_pci'/,
    ],
    [
      'bad mac',
      dom({ devices: "<interface type='user'><mac address='zz'/></interface>" }),
      'XML_ERROR',
      /mac address 'zz'/,
    ],
    [
      'multicast mac',
      dom({ devices: "<interface type='user'><mac address='01:00:00:00:00:01'/></interface>" }),
      'XML_ERROR',
      /multicast/,
    ],
    ['serial tcp', dom({ devices: "<serial type='tcp'/>" }), 'CONFIG_UNSUPPORTED', /type 'tcp'/],
    [
      'serial file without path',
      dom({ devices: "<serial type='file'/>" }),
      'CONFIG_UNSUPPORTED',
      /absolute source path/,
    ],
    [
      'serial unix connect',
      dom({ devices: "<serial type='unix'><source mode='connect' path='/s'/></serial>" }),
      'CONFIG_UNSUPPORTED',
      /mode='bind'/,
    ],
    [
      'serial log',
      dom({ devices: "<serial type='pty'><log file='/l'/></serial>" }),
      'CONFIG_UNSUPPORTED',
      /<log>/,
    ],
    [
      'serial port 4',
      dom({ devices: "<serial type='pty'><target port='4'/></serial>" }),
      'CONFIG_UNSUPPORTED',
      /0 to 3/,
    ],
    [
      'virtio console',
      dom({ devices: "<console type='pty'><target type='virtio'/></console>" }),
      'CONFIG_UNSUPPORTED',
      /console target type 'virtio'/,
    ],
    ['spice', dom({ devices: "<graphics type='spice'/>" }), 'CONFIG_UNSUPPORTED', /graphics type 'spice'/],
    [
      'vnc on tcp',
      dom({ devices: "<graphics type='vnc' port='5900'/>" }),
      'CONFIG_UNSUPPORTED',
      /unix socket/,
    ],
    [
      'vnc listen address',
      dom({ devices: "<graphics type='vnc'><listen type='address' address='0.0.0.0'/></graphics>" }),
      'CONFIG_UNSUPPORTED',
      /listen type='socket'/,
    ],
    [
      'vnc socket path',
      dom({ devices: "<graphics type='vnc'><listen type='socket' socket='/tmp/v'/></graphics>" }),
      'CONFIG_UNSUPPORTED',
      /without a path/,
    ],
    [
      'two graphics',
      dom({ devices: "<graphics type='vnc'/><graphics type='vnc'/>" }),
      'CONFIG_UNSUPPORTED',
      /only one <graphics>/,
    ],
    [
      'video qxl',
      dom({ devices: "<video><model type='qxl'/></video>" }),
      'CONFIG_UNSUPPORTED',
      /video model 'qxl'/,
    ],
    [
      'spice channel',
      dom({
        devices: "<channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>",
      }),
      'CONFIG_UNSUPPORTED',
      /guest agent channel/,
    ],
    [
      'agent with a path',
      dom({
        devices:
          "<channel type='unix'><source mode='bind' path='/x'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>",
      }),
      'CONFIG_UNSUPPORTED',
      /run directory/,
    ],
    [
      'ide controller',
      dom({ devices: "<controller type='ide'/>" }),
      'CONFIG_UNSUPPORTED',
      /controller type 'ide'/,
    ],
    [
      'pcie-root-port',
      dom({ devices: "<controller type='pci' index='1' model='pcie-root-port'/>" }),
      'CONFIG_UNSUPPORTED',
      /pci controller/,
    ],
    [
      'usb ehci',
      dom({ devices: "<controller type='usb' model='ich9-ehci1'/>" }),
      'CONFIG_UNSUPPORTED',
      /usb controller model/,
    ],
    [
      'lsilogic',
      dom({ devices: "<controller type='scsi' model='lsilogic'/>" }),
      'CONFIG_UNSUPPORTED',
      /'lsilogic'/,
    ],
    [
      'two scsi controllers',
      dom({ devices: "<controller type='scsi' index='1'/>" }),
      'CONFIG_UNSUPPORTED',
      /index 0/,
    ],
    [
      'memballoon xen',
      dom({ devices: "<memballoon model='xen'/>" }),
      'CONFIG_UNSUPPORTED',
      /memballoon model 'xen'/,
    ],
    [
      'usb tablet',
      dom({ devices: "<input type='tablet' bus='usb'/>" }),
      'CONFIG_UNSUPPORTED',
      /input type 'tablet'/,
    ],
  ];
  it.each(cases)('%s', (_what, xml, code, message) => {
    const got = failure(xml);
    expect(got.code).toBe(code);
    expect(got.message).toMatch(message);
  });
});

describe('parseQemuDomain: memory units as libvirt scales them', () => {
  const cases: [string | undefined, string, number][] = [
    [undefined, '65536', 65536],
    ['b', '1048576', 1024],
    ['bytes', '1025', 2],
    ['KB', '1024', 1000],
    ['k', '64', 64],
    ['KiB', '64', 64],
    ['MB', '1', 977],
    ['M', '64', 65536],
    ['MiB', '64', 65536],
    ['mib', '1', 1024],
    ['GB', '1', 976563],
    ['G', '1', 1048576],
    ['GiB', '2', 2097152],
    ['TB', '1', 976562500],
    ['T', '1', 1073741824],
    ['TiB', '1', 1073741824],
  ];
  it.each(cases)('unit %s, %s', (unit, value, kib) => {
    const u = unit === undefined ? '' : ` unit='${unit}'`;
    expect(parseQemuDomain(dom({ memory: `<memory${u}>${value}</memory>` })).memoryKiB).toBe(kib);
  });

  it('caps currentMemory at memory and keeps a smaller balloon target', () => {
    const mem = "<memory unit='MiB'>128</memory>";
    expect(
      parseQemuDomain(dom({ memory: `${mem}<currentMemory unit='MiB'>96</currentMemory>` })).currentMemoryKiB,
    ).toBe(98304);
    expect(
      parseQemuDomain(dom({ memory: `${mem}<currentMemory unit='MiB'>256</currentMemory>` }))
        .currentMemoryKiB,
    ).toBe(131072);
    expect(parseQemuDomain(dom({ memory: mem })).currentMemoryKiB).toBe(131072);
  });
});

describe('parseQemuDomain: what a supported domain becomes', () => {
  it('applies libvirt defaults to a minimal domain', () => {
    const def = parseQemuDomain(dom({ os: '<os><type>hvm</type></os>' }));
    expect(def).toMatchObject({
      type: 'qemu',
      name: 'vm',
      vcpus: { max: 1, current: 1 },
      os: { arch: 'x86_64', machine: 'pc', family: 'pc' },
      cpu: { mode: 'default' },
      features: { acpi: false },
      clock: 'utc',
      onReboot: 'restart',
      disks: [],
      memballoon: true,
      graphics: undefined,
      guestAgent: undefined,
    });
  });

  it('reads disks: bus from the target prefix, unit from the name, readonly cdrom, first disk boots', () => {
    const cd = disk(
      "type='file' device='cdrom'",
      "<source file='/iso/x.iso'/><target dev='sdc' bus='sata'/>",
    );
    const def = parseQemuDomain(
      dom({ devices: qcow2('vdb') + cd + qcow2('vdaa') + qcow2('sdb').replace(" bus='sata'", '') }),
    );
    expect(def.disks.map((d) => [d.target, d.bus, d.device, d.unit, d.readonly, d.bootIndex])).toEqual([
      ['vdb', 'virtio', 'disk', 1, false, 1],
      ['sdc', 'sata', 'cdrom', 2, true, undefined],
      ['vdaa', 'virtio', 'disk', 26, false, undefined],
      ['sdb', 'virtio', 'disk', 1, false, undefined],
    ]);
    expect(
      parseQemuDomain(dom({ devices: disk("type='file'", "<source file='/r.img'/><target dev='sda'/>") }))
        .disks[0],
    ).toMatchObject({
      bus: 'scsi',
      format: 'raw',
    });
  });

  it('derives a stable locally administered-style mac from the uuid when none is given', () => {
    const xml = dom({
      head: '<uuid>11111111-2222-3333-4444-555555555555</uuid>',
      devices: "<interface type='user'/>",
    });
    const a = parseQemuDomain(xml).interfaces[0]!;
    expect(a).toMatchObject({ type: 'user', model: 'rtl8139' });
    expect(a.mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(parseQemuDomain(xml).interfaces[0]!.mac).toBe(a.mac);
  });

  it('makes a serial console the first serial port, as libvirt does', () => {
    const def = parseQemuDomain(
      dom({ devices: "<console type='pty'><target type='serial' port='0'/></console>" }),
    );
    expect(def.serials).toEqual([{ port: 0, source: { type: 'pty' } }]);
    const both = parseQemuDomain(
      dom({
        devices:
          "<serial type='file'><source path='/log'/></serial><console type='file'><source path='/log'/></console>",
      }),
    );
    expect(both.serials).toEqual([{ port: 0, source: { type: 'file', path: '/log' } }]);
  });

  it('accepts what libvirt itself adds (addresses, aliases, ps2 inputs, emulator, pci root)', () => {
    const devices =
      '<emulator>/usr/bin/qemu-system-x86_64</emulator>' +
      qcow2(
        'vda',
        'virtio',
        "<address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/><alias name='virtio-disk0'/>",
      ) +
      "<controller type='pci' index='0' model='pcie-root'/><controller type='usb' model='none'/>" +
      "<input type='mouse' bus='ps2'/><input type='keyboard' bus='ps2'/><memballoon model='none'/>";
    const def = parseQemuDomain(dom({ devices }));
    expect(def.disks).toHaveLength(1);
    expect(def.memballoon).toBe(false);
  });
});
