import { describe, expect, it } from 'vitest';
import { isVirtError } from 'virtkit';
import { acceleratorFor, probeKvm } from './accelerator.js';
import { buildQemuArgv, QEMU_SANDBOX, type QemuArgvOptions } from './command-line.js';
import { parseQemuDomain } from './domain-model.js';

const UUID = '11111111-2222-3333-4444-555555555555';
const RUN = '/run/vk/vm';

function dom(o: { type?: string; head?: string; os?: string; devices?: string } = {}): string {
  const os = o.os ?? "<os><type arch='x86_64' machine='q35'>hvm</type></os>";
  return `<domain type='${o.type ?? 'qemu'}'><name>vm</name><uuid>${UUID}</uuid><memory unit='MiB'>128</memory>${o.head ?? ''}${os}<devices>${o.devices ?? ''}</devices></domain>`;
}

function argv(xml: string, options: Partial<QemuArgvOptions> = {}): string[] {
  return buildQemuArgv(parseQemuDomain(xml), { runDir: RUN, ...options });
}

/** The values of every occurrence of `option` in `args`. */
function values(args: readonly string[], option: string): string[] {
  return args.flatMap((a, i) => (a === option ? [args[i + 1]!] : []));
}

const json = (args: readonly string[], option: string): unknown[] =>
  values(args, option).map((v) => JSON.parse(v) as unknown);

const qcow2 = (target: string, bus: string, extra = ''): string =>
  `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/img/${target}.qcow2'/><target dev='${target}' bus='${bus}'/>${extra}</disk>`;

describe('buildQemuArgv', () => {
  it('turns the smallest domain into exactly this command line', () => {
    expect(argv(dom({ devices: "<memballoon model='none'/>" }), { paused: true })).toEqual([
      '-name', 'guest=vm,debug-threads=on',
      '-S',
      '-pidfile', `${RUN}/pid`,
      '-machine', 'q35,usb=off,dump-guest-core=off,acpi=off',
      '-accel', 'tcg',
      '-m', 'size=131072k',
      '-smp', '1,maxcpus=1,sockets=1,cores=1,threads=1',
      '-uuid', UUID,
      '-no-user-config',
      '-nodefaults',
      '-chardev', `socket,id=charmonitor,path=${RUN}/qmp.sock,server=on,wait=off`,
      '-mon', 'chardev=charmonitor,id=monitor,mode=control',
      '-rtc', 'base=utc',
      '-boot', 'strict=on',
      '-display', 'none',
      '-sandbox', 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny',
      '-msg', 'timestamp=on',
    ]); // prettier-ignore
    expect(QEMU_SANDBOX).not.toContain('spawn=allow');
  });

  // [what, domain XML, option, the values that option must have, in order]
  const table: [string, string, string, string[]][] = [
    [
      'acpi feature keeps ACPI on',
      dom({ head: '<features><acpi/><apic/></features>' }),
      '-machine',
      ['q35,usb=off,dump-guest-core=off'],
    ],
    [
      'pc machine',
      dom({ os: "<os><type machine='pc-i440fx-7.2'>hvm</type></os>" }),
      '-machine',
      ['pc-i440fx-7.2,usb=off,dump-guest-core=off,acpi=off'],
    ],
    [
      'vcpu current/max',
      dom({ head: "<vcpu current='2'>4</vcpu>" }),
      '-smp',
      ['2,maxcpus=4,sockets=4,cores=1,threads=1'],
    ],
    ['cpu maximum', dom({ head: "<cpu mode='maximum'/>" }), '-cpu', ['max']],
    [
      'cpu custom model',
      dom({ head: "<cpu mode='custom'><model>Nehalem</model></cpu>" }),
      '-cpu',
      ['Nehalem'],
    ],
    ['cpu model without mode', dom({ head: '<cpu><model>qemu64</model></cpu>' }), '-cpu', ['qemu64']],
    ['memory in GiB', dom({ head: '' }).replace("unit='MiB'>128", "unit='GiB'>1"), '-m', ['size=1048576k']],
    ['clock localtime', dom({ head: "<clock offset='localtime'/>" }), '-rtc', ['base=localtime']],
    [
      'direct kernel boot',
      dom({
        os: '<os><type>hvm</type><kernel>/k,1</kernel><initrd>/i</initrd><cmdline>console=ttyS0 quiet</cmdline></os>',
      }),
      '-kernel',
      ['/k,1'],
    ],
    [
      'kernel command line is one argument',
      dom({ os: '<os><type>hvm</type><kernel>/k</kernel><cmdline>console=ttyS0 quiet</cmdline></os>' }),
      '-append',
      ['console=ttyS0 quiet'],
    ],
    [
      'user networking',
      dom({ devices: "<interface type='user'/><interface type='user'/>" }),
      '-netdev',
      ['user,id=hostnet0', 'user,id=hostnet1'],
    ],
    [
      'serial to a file, comma doubled',
      dom({ devices: "<serial type='file'><source path='/log/a,b'/></serial>" }),
      '-chardev',
      [`socket,id=charmonitor,path=${RUN}/qmp.sock,server=on,wait=off`, 'file,id=charserial0,path=/log/a,,b'],
    ],
    [
      'serial pty and null',
      dom({ devices: "<serial type='pty'/><serial type='null'/>" }),
      '-chardev',
      [
        `socket,id=charmonitor,path=${RUN}/qmp.sock,server=on,wait=off`,
        'pty,id=charserial0',
        'null,id=charserial1',
      ],
    ],
    [
      'serial unix',
      dom({ devices: "<serial type='unix'><source mode='bind' path='/s/ser.sock'/></serial>" }),
      '-chardev',
      [
        `socket,id=charmonitor,path=${RUN}/qmp.sock,server=on,wait=off`,
        'socket,id=charserial0,path=/s/ser.sock,server=on,wait=off',
      ],
    ],
    [
      'vnc on the run dir socket',
      dom({ devices: "<graphics type='vnc' autoport='yes'><listen type='socket'/></graphics>" }),
      '-vnc',
      [`unix:${RUN}/vnc.sock`],
    ],
    ['on_reboot destroy', dom({ head: '<on_reboot>destroy</on_reboot>' }), '-no-reboot', []],
  ];
  it.each(table)('%s', (_what, xml, option, expected) => {
    const args = argv(xml);
    if (expected.length === 0) expect(args).toContain(option);
    else expect(values(args, option)).toEqual(expected);
  });

  it('builds a -blockdev graph in JSON keyed by the disk target, commas and all', () => {
    const xml = dom({ devices: qcow2('vda', 'virtio').replace('/img/vda.qcow2', '/img/a,b"c.qcow2') });
    const args = argv(xml);
    expect(json(args, '-blockdev')).toEqual([
      {
        driver: 'file',
        filename: '/img/a,b"c.qcow2',
        'node-name': 'vk-vda-storage',
        'auto-read-only': true,
        discard: 'unmap',
      },
      { 'node-name': 'vk-vda-format', 'read-only': false, driver: 'qcow2', file: 'vk-vda-storage' },
    ]);
    expect(json(args, '-device')).toContainEqual({
      driver: 'virtio-blk-pci',
      id: 'vda',
      drive: 'vk-vda-format',
      bootindex: 1,
    });
  });

  // [what, devices XML, machine, the -device JSON objects expected among the devices]
  const devices: [string, string, string, object[]][] = [
    [
      'sata disk on q35 uses the built-in AHCI',
      qcow2('sdb', 'sata'),
      'q35',
      [{ driver: 'ide-hd', bus: 'ide.1', id: 'sdb', drive: 'vk-sdb-format', bootindex: 1 }],
    ],
    [
      'sata disk on pc gets an ahci controller',
      qcow2('sda', 'sata'),
      'pc',
      [
        { driver: 'ahci', id: 'sata0' },
        { driver: 'ide-hd', bus: 'sata0.0', id: 'sda', drive: 'vk-sda-format', bootindex: 1 },
      ],
    ],
    [
      'scsi disk gets a virtio-scsi controller',
      qcow2('sdc', 'scsi'),
      'q35',
      [
        { driver: 'virtio-scsi-pci', id: 'scsi0' },
        {
          driver: 'scsi-hd',
          bus: 'scsi0.0',
          channel: 0,
          'scsi-id': 2,
          lun: 0,
          id: 'sdc',
          drive: 'vk-sdc-format',
          bootindex: 1,
        },
      ],
    ],
    [
      'empty sata cdrom has no drive',
      "<disk type='file' device='cdrom'><target dev='sda' bus='sata'/></disk>",
      'q35',
      [{ driver: 'ide-cd', bus: 'ide.0', id: 'sda' }],
    ],
    [
      'scsi cdrom boots first when asked',
      "<disk type='file' device='cdrom'><source file='/x.iso'/><target dev='sda' bus='scsi'/><boot order='1'/></disk>",
      'q35',
      [
        {
          driver: 'scsi-cd',
          bus: 'scsi0.0',
          channel: 0,
          'scsi-id': 0,
          lun: 0,
          id: 'sda',
          drive: 'vk-sda-format',
          bootindex: 1,
        },
      ],
    ],
    [
      'disk serial',
      qcow2('vda', 'virtio', '<serial>disk-1</serial>'),
      'q35',
      [{ driver: 'virtio-blk-pci', id: 'vda', drive: 'vk-vda-format', serial: 'disk-1', bootindex: 1 }],
    ],
    [
      'virtio nic with its mac',
      "<interface type='user'><mac address='52:54:00:AA:BB:CC'/><model type='virtio'/></interface>",
      'q35',
      [{ driver: 'virtio-net-pci', netdev: 'hostnet0', id: 'net0', mac: '52:54:00:aa:bb:cc' }],
    ],
    [
      'serial port device',
      "<serial type='pty'><target port='1'/></serial>",
      'q35',
      [{ driver: 'isa-serial', chardev: 'charserial1', id: 'serial1', index: 1 }],
    ],
    [
      'guest agent channel',
      "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>",
      'q35',
      [
        { driver: 'virtio-serial-pci', id: 'virtio-serial0' },
        {
          driver: 'virtserialport',
          bus: 'virtio-serial0.0',
          nr: 1,
          chardev: 'charchannel0',
          id: 'channel0',
          name: 'org.qemu.guest_agent.0',
        },
      ],
    ],
    ['vnc adds a VGA card', "<graphics type='vnc'/>", 'q35', [{ driver: 'VGA', id: 'video0' }]],
    [
      'virtio video',
      "<graphics type='vnc'/><video><model type='virtio'/></video>",
      'q35',
      [{ driver: 'virtio-vga', id: 'video0' }],
    ],
    [
      'usb controller',
      "<controller type='usb' model='qemu-xhci'/>",
      'q35',
      [{ driver: 'qemu-xhci', id: 'usb' }],
    ],
    ['default balloon', '', 'q35', [{ driver: 'virtio-balloon-pci', id: 'balloon0' }]],
  ];
  it.each(devices)('%s', (_what, xml, machine, expected) => {
    const got = json(
      argv(dom({ os: `<os><type machine='${machine}'>hvm</type></os>`, devices: xml })),
      '-device',
    );
    for (const dev of expected) expect(got).toContainEqual(dev);
  });

  it('boots in <os><boot> order, disk or network', () => {
    const xml = dom({
      os: "<os><type>hvm</type><boot dev='network'/><boot dev='hd'/></os>",
      devices: qcow2('vda', 'virtio') + "<interface type='user'><model type='virtio'/></interface>",
    });
    const boot = json(argv(xml), '-device').map((d) => [
      (d as { id: string }).id,
      (d as { bootindex?: number }).bootindex,
    ]);
    expect(boot).toContainEqual(['net0', 1]);
    expect(boot).toContainEqual(['vda', 2]);
  });

  it('puts QMP, agent and vnc sockets in the run dir and doubles commas in it', () => {
    const xml = dom({
      devices:
        "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel><graphics type='vnc'/>",
    });
    const args = argv(xml, { runDir: '/r,1' });
    expect(values(args, '-chardev')).toEqual([
      'socket,id=charmonitor,path=/r,,1/qmp.sock,server=on,wait=off',
      'socket,id=charchannel0,path=/r,,1/qga.sock,server=on,wait=off',
    ]);
    expect(values(args, '-vnc')).toEqual(['unix:/r,,1/vnc.sock']);
    expect(values(args, '-pidfile')).toEqual(['/r,1/pid']);
    expect(values(args, '-name')).toEqual(['guest=vm,debug-threads=on']);
  });

  it('doubles commas in the guest name', () => {
    expect(values(argv(dom().replace('<name>vm</name>', '<name>a,b</name>')), '-name')).toEqual([
      'guest=a,,b,debug-threads=on',
    ]);
  });

  it('refuses socket paths longer than a unix socket allows', () => {
    let code = '';
    try {
      argv(dom(), { runDir: `/${'x'.repeat(100)}` });
    } catch (err) {
      code = isVirtError(err) ? err.code : 'other';
    }
    expect(code).toBe('OPERATION_FAILED');
  });
});

describe('accelerator', () => {
  it('follows the domain type: qemu is TCG whatever KVM says, kvm is KVM', () => {
    expect(acceleratorFor('qemu', { usable: true })).toBe('tcg');
    expect(acceleratorFor('qemu', undefined)).toBe('tcg');
    expect(acceleratorFor('kvm', { usable: true })).toBe('kvm');
  });

  it.each([[{ usable: false, reason: '/dev/kvm: ENOENT' } as const], [undefined]])(
    'refuses a kvm domain without usable KVM (%j), never falling back to TCG',
    (kvm) => {
      let err: unknown;
      try {
        argv(dom({ type: 'kvm' }), kvm === undefined ? {} : { kvm });
      } catch (e) {
        err = e;
      }
      expect(isVirtError(err, 'CONFIG_UNSUPPORTED')).toBe(true);
      expect((err as Error).message).toMatch(/^domain requires KVM, but it is not available/);
    },
  );

  it('runs a kvm domain with -accel kvm only, and host-passthrough as -cpu host', () => {
    const args = argv(dom({ type: 'kvm', head: "<cpu mode='host-passthrough'/>" }), {
      kvm: { usable: true },
    });
    expect(values(args, '-accel')).toEqual(['kvm']);
    expect(values(args, '-cpu')).toEqual(['host']);
  });

  it('probes the KVM device by opening it, and says why it cannot', async () => {
    expect(await probeKvm('/nonexistent/kvm')).toEqual({ usable: false, reason: '/nonexistent/kvm: ENOENT' });
  });
});
