import { join } from 'node:path';
import { VirtError } from 'virtkit';
import { acceleratorFor, type KvmStatus } from './accelerator.js';
import { diskDevice, diskNodeNames } from './command-line-disks.js';
import type { QemuCharSource, QemuDomainDef } from './domain-model.js';

/**
 * Where the process keeps its runtime files and how it starts.
 *
 * @internal
 */
export interface QemuArgvOptions {
  /** The domain's run directory (owner-only, 0700): QMP, agent and VNC sockets go here. */
  readonly runDir: string;
  /** @defaultValue `<runDir>/qmp.sock` */
  readonly qmpSocket?: string;
  /** @defaultValue `<runDir>/pid` */
  readonly pidFile?: string;
  /** Start with the CPUs stopped (`-S`). */
  readonly paused?: boolean;
  /** Result of `probeKvm()`; needed for `<domain type='kvm'>`. */
  readonly kvm?: KvmStatus;
}

/**
 * The runtime paths of a domain's process inside its run directory.
 *
 * @internal
 */
export function runPaths(options: QemuArgvOptions): {
  qmp: string;
  pid: string;
  agent: string;
  vnc: string;
} {
  return {
    qmp: options.qmpSocket ?? join(options.runDir, 'qmp.sock'),
    pid: options.pidFile ?? join(options.runDir, 'pid'),
    agent: join(options.runDir, 'qga.sock'),
    vnc: join(options.runDir, 'vnc.sock'),
  };
}

/**
 * The QEMU sandbox libvirt uses. `spawn=deny` forbids QEMU's own fork, so the process is never
 * started with `-daemonize` (it dies of SIGSYS): the caller detaches it from Node instead, and
 * memory snapshots must hand QEMU a file descriptor (`fd:` migration), not `exec:`.
 *
 * @internal
 */
export const QEMU_SANDBOX = 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny';

/**
 * Turns a checked domain into the arguments of `qemu-system-x86_64` (without the binary): an
 * array for `spawn`, never a shell string. Disks become a `-blockdev` node graph in JSON (see
 * `diskNodeNames` for the stable names) and devices are JSON too, so paths need no escaping
 * there; in the remaining `key=value` options (`-chardev path=`, `-name`, `-vnc`) commas are
 * doubled, QEMU's own escape.
 *
 * @throws `CONFIG_UNSUPPORTED` for a `kvm` domain without usable KVM; `OPERATION_FAILED` when
 * a socket path in the run directory is longer than a unix socket allows.
 * @internal
 */
export function buildQemuArgv(def: QemuDomainDef, options: QemuArgvOptions): string[] {
  const accel = acceleratorFor(def.type, options.kvm);
  const paths = runPaths(options);
  const args: string[] = ['-name', `guest=${opt(def.name)},debug-threads=on`];
  if (options.paused === true) args.push('-S');
  args.push('-pidfile', paths.pid);
  args.push('-machine', machineOption(def), '-accel', accel);
  if (def.cpu.mode !== 'default') args.push('-cpu', cpuOption(def));
  args.push('-m', `size=${def.memoryKiB}k`);
  const { max, current } = def.vcpus;
  args.push('-smp', `${current},maxcpus=${max},sockets=${max},cores=1,threads=1`);
  if (def.uuid !== '') args.push('-uuid', def.uuid);
  args.push('-no-user-config', '-nodefaults');
  args.push('-chardev', `socket,id=charmonitor,path=${socketPath(paths.qmp)},server=on,wait=off`);
  args.push('-mon', 'chardev=charmonitor,id=monitor,mode=control');
  args.push('-rtc', `base=${def.clock}`);
  if (def.onReboot === 'destroy') args.push('-no-reboot');
  args.push('-boot', 'strict=on');
  if (def.os.kernel !== undefined) args.push('-kernel', def.os.kernel);
  if (def.os.initrd !== undefined) args.push('-initrd', def.os.initrd);
  if (def.os.cmdline !== undefined) args.push('-append', def.os.cmdline);
  for (const dev of controllerDevices(def)) args.push('-device', json(dev));
  for (const disk of def.disks) {
    const nodes = diskNodeNames(disk.target);
    if (disk.source !== undefined) {
      args.push('-blockdev', json(storageNode(disk.source, nodes.storage)));
      args.push(
        '-blockdev',
        json({
          'node-name': nodes.format,
          'read-only': disk.readonly,
          driver: disk.format,
          file: nodes.storage,
        }),
      );
    }
    args.push('-device', json(diskDevice(disk, def.os.family)));
  }
  def.interfaces.forEach((net, i) => {
    args.push('-netdev', `user,id=hostnet${i}`);
    const dev = { driver: NIC_DEVICES[net.model], netdev: `hostnet${i}`, id: `net${i}`, mac: net.mac };
    args.push('-device', json(net.bootIndex === undefined ? dev : { ...dev, bootindex: net.bootIndex }));
  });
  for (const serial of def.serials) {
    const id = `charserial${serial.port}`;
    args.push('-chardev', chardev(serial.source, id));
    args.push(
      '-device',
      json({ driver: 'isa-serial', chardev: id, id: `serial${serial.port}`, index: serial.port }),
    );
  }
  if (def.guestAgent !== undefined) {
    args.push('-chardev', `socket,id=charchannel0,path=${socketPath(paths.agent)},server=on,wait=off`);
    const port = {
      driver: 'virtserialport',
      bus: 'virtio-serial0.0',
      nr: 1,
      chardev: 'charchannel0',
      id: 'channel0',
    };
    args.push('-device', json({ ...port, name: def.guestAgent.name }));
  }
  args.push(...displayArgs(def, paths.vnc));
  if (def.memballoon) args.push('-device', json({ driver: 'virtio-balloon-pci', id: 'balloon0' }));
  args.push('-sandbox', QEMU_SANDBOX, '-msg', 'timestamp=on');
  return args;
}

/** Longest unix socket path: `sun_path` is 108 bytes with the terminating NUL. */
const MAX_SOCKET_BYTES = 107;

const NIC_DEVICES = {
  virtio: 'virtio-net-pci',
  e1000: 'e1000',
  e1000e: 'e1000e',
  rtl8139: 'rtl8139',
} as const;

/** QemuOpts escaping for a `key=value` option value: a comma is written twice. */
function opt(value: string): string {
  return value.replaceAll(',', ',,');
}

function socketPath(path: string): string {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_BYTES) {
    throw new VirtError(
      'OPERATION_FAILED',
      `unix socket path '${path}' is too long (${bytes} bytes, at most ${MAX_SOCKET_BYTES}): use a shorter root`,
    );
  }
  return opt(path);
}

function json(value: object): string {
  return JSON.stringify(value);
}

function machineOption(def: QemuDomainDef): string {
  const parts = [def.os.machine, 'usb=off', 'dump-guest-core=off'];
  if (!def.features.acpi) parts.push('acpi=off');
  return parts.join(',');
}

function cpuOption(def: QemuDomainDef): string {
  switch (def.cpu.mode) {
    case 'host-passthrough':
      return 'host';
    case 'maximum':
      return 'max';
    case 'custom':
    case 'default':
      return def.cpu.model ?? 'qemu64';
  }
}

function storageNode(path: string, nodeName: string): object {
  return { driver: 'file', filename: path, 'node-name': nodeName, 'auto-read-only': true, discard: 'unmap' };
}

/** Controllers the XML asks for, plus those its devices need (libvirt adds them to the XML). */
function controllerDevices(def: QemuDomainDef): object[] {
  const wanted = new Map<string, string>();
  for (const c of def.controllers) if (c.device !== undefined) wanted.set(c.type, c.device);
  if (def.disks.some((d) => d.bus === 'scsi') && !wanted.has('scsi')) wanted.set('scsi', 'virtio-scsi-pci');
  if (def.os.family === 'pc' && def.disks.some((d) => d.bus === 'sata') && !wanted.has('sata'))
    wanted.set('sata', 'ahci');
  if (def.guestAgent !== undefined && !wanted.has('virtio-serial'))
    wanted.set('virtio-serial', 'virtio-serial-pci');
  const ids: Record<string, string> = {
    usb: 'usb',
    sata: 'sata0',
    scsi: 'scsi0',
    'virtio-serial': 'virtio-serial0',
  };
  return [...wanted].map(([type, driver]) => ({ driver, id: ids[type] ?? type }));
}

function chardev(source: QemuCharSource, id: string): string {
  switch (source.type) {
    case 'null':
    case 'pty':
      return `${source.type},id=${id}`;
    case 'file':
      return `file,id=${id},path=${opt(source.path)}`;
    case 'unix':
      return `socket,id=${id},path=${socketPath(source.path)},server=on,wait=off`;
  }
}

function displayArgs(def: QemuDomainDef, vncSocket: string): string[] {
  const out: string[] = [];
  if (def.graphics === undefined) out.push('-display', 'none');
  else out.push('-vnc', `unix:${socketPath(vncSocket)}`);
  // libvirt adds a VGA card for graphics without <video>; a <video> alone is kept too.
  const model = def.video?.model ?? (def.graphics === undefined ? 'none' : 'vga');
  if (model === 'vga') out.push('-device', json({ driver: 'VGA', id: 'video0' }));
  if (model === 'virtio') out.push('-device', json({ driver: 'virtio-vga', id: 'video0' }));
  return out;
}
