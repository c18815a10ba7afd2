import type { XmlElement } from 'virtkit';
import { checkChildren, unsupported, xmlError } from './domain-check.js';
import { attrOf, first, elements, textOf } from './xml-walk.js';

/**
 * One `<disk>` as QEMU runs it.
 *
 * @internal
 */
export interface QemuDiskDef {
  /** `<target dev>`: also the QEMU device id and the key of the node names. */
  readonly target: string;
  readonly bus: 'virtio' | 'sata' | 'scsi';
  readonly device: 'disk' | 'cdrom';
  readonly format: 'qcow2' | 'raw';
  /** Absolute image path; `undefined` for an empty cdrom. */
  readonly source: string | undefined;
  readonly readonly: boolean;
  /** libvirt's `virDiskNameToIndex` of the target (`vda` 0, `sdb` 1, `vdaa` 26). */
  readonly unit: number;
  readonly serial: string | undefined;
  bootIndex: number | undefined;
}

const DISK_CHILDREN = [
  'driver',
  'source',
  'target',
  'readonly',
  'serial',
  'boot',
  'address',
  'alias',
  'backingStore',
];
const PREFIXES = ['vd', 'sd', 'hd'];

/** @internal */
export function parseDisks(devices: XmlElement, family: 'q35' | 'pc'): QemuDiskDef[] {
  const disks = elements(devices, 'disk').map((el) => parseDisk(el, family));
  const units = new Map<string, string>();
  for (const d of disks) {
    if (d.bus === 'virtio') continue;
    const key = `${d.bus}:${d.unit}`;
    const other = units.get(key);
    if (other !== undefined) {
      throw xmlError(`disks '${other}' and '${d.target}' both use ${d.bus} unit ${d.unit}`);
    }
    units.set(key, d.target);
  }
  return disks;
}

function parseDisk(el: XmlElement, family: 'q35' | 'pc'): QemuDiskDef {
  const target = attrOf(first(el, 'target'), 'dev') ?? '';
  const what = `disk '${target}'`;
  if (first(el, 'transient') !== undefined) throw unsupported(`${what}: transient disks not supported yet`);
  checkChildren(el, `disk dev='${target}'`, DISK_CHILDREN);
  const type = attrOf(el, 'type') ?? 'file';
  if (type !== 'file')
    throw unsupported(`${what}: the qemu driver supports only file disks, not type '${type}'`);
  const device = attrOf(el, 'device') ?? 'disk';
  if (device !== 'disk' && device !== 'cdrom')
    throw unsupported(`${what}: disk device '${device}' is not supported`);
  const driver = first(el, 'driver');
  for (const name of Object.keys(driver?.attributes ?? {})) {
    if (name !== 'name' && name !== 'type')
      throw unsupported(`${what}: <driver ${name}=…> is not supported yet`);
  }
  const driverName = attrOf(driver, 'name') ?? 'qemu';
  if (driverName !== 'qemu') throw unsupported(`${what}: unsupported driver name '${driverName}'`);
  const format = attrOf(driver, 'type') ?? 'raw';
  if (format !== 'qcow2' && format !== 'raw') {
    throw unsupported(`${what}: image format '${format}' is not supported by the qemu driver (qcow2 or raw)`);
  }
  const sourceEl = first(el, 'source');
  const source = attrOf(sourceEl, 'file') || undefined;
  if (source !== undefined && !source.startsWith('/'))
    throw unsupported(`${what}: source path '${source}' must be absolute`);
  if (sourceEl !== undefined) checkChildren(sourceEl, 'source', []);
  if (source === undefined && device !== 'cdrom') throw unsupported(`${what}: only a cdrom can be empty`);
  const unit = diskIndex(target);
  const bus = diskBus(el, target, what, family);
  const readonly = device === 'cdrom' || first(el, 'readonly') !== undefined;
  if (bus === 'virtio' && device === 'cdrom')
    throw unsupported(`${what}: disk type of '${target}' does not support ejectable media`);
  if (bus === 'sata' && readonly && device === 'disk')
    throw unsupported('readonly sata disks are not supported');
  if (bus === 'sata' && unit > 5) throw unsupported(`${what}: the sata controller has 6 ports (sda … sdf)`);
  const serial = textOf(first(el, 'serial'));
  if (serial !== undefined && !/^[A-Za-z0-9_ .+-]{1,20}$/.test(serial))
    throw xmlError(`${what}: invalid serial '${serial}'`);
  return { target, bus, device, format, source, readonly, unit, serial, bootIndex: bootOrder(el, what) };
}

function diskBus(el: XmlElement, target: string, what: string, family: 'q35' | 'pc'): QemuDiskDef['bus'] {
  // libvirt's default bus follows the target prefix; sd… on q35 is SCSI too.
  const bus =
    attrOf(first(el, 'target'), 'bus') ??
    (target.startsWith('vd') ? 'virtio' : target.startsWith('sd') ? 'scsi' : 'ide');
  if (bus === 'virtio' || bus === 'sata' || bus === 'scsi') return bus;
  if (bus === 'ide' && family === 'q35')
    throw unsupported(`${what}: IDE controllers are unsupported for this QEMU binary or machine type`);
  throw unsupported(`${what}: disk bus '${bus}' is not supported by the qemu driver (virtio, sata or scsi)`);
}

/** libvirt's `virDiskNameToIndex`: the letters after a known prefix, bijective base 26. */
function diskIndex(target: string): number {
  const prefix = PREFIXES.find((p) => target.startsWith(p));
  const letters = prefix === undefined ? '' : target.slice(prefix.length);
  if (!/^[a-z]{1,3}$/.test(letters)) throw xmlError(`Unknown disk name '${target}' and no address specified`);
  let index = 0;
  for (const c of letters) index = index * 26 + (c.charCodeAt(0) - 96);
  return index - 1;
}

/** A device's `<boot order>`. @internal */
export function bootOrder(el: XmlElement, what: string): number | undefined {
  const boot = first(el, 'boot');
  if (boot === undefined) return undefined;
  const order = attrOf(boot, 'order') ?? '';
  if (!/^[1-9][0-9]{0,3}$/.test(order))
    throw xmlError(`${what}: incorrect boot order '${order}', expecting positive integer`);
  return Number(order);
}
