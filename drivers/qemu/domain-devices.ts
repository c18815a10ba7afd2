import { createHash } from 'node:crypto';
import type { XmlElement } from 'virtkit';
import { checkChildren, unsupported, xmlError } from './domain-check.js';
import { bootOrder } from './domain-disks.js';
import { attrOf, elements, first } from './xml-walk.js';

/**
 * One `<interface>` (user networking only, for now).
 *
 * @internal
 */
export interface QemuInterfaceDef {
  readonly type: 'user';
  readonly model: 'virtio' | 'e1000' | 'e1000e' | 'rtl8139';
  readonly mac: string;
  bootIndex: number | undefined;
}

/**
 * Where a serial port's bytes go.
 *
 * @internal
 */
export type QemuCharSource =
  | { readonly type: 'null' }
  | { readonly type: 'pty' }
  | { readonly type: 'file'; readonly path: string }
  | { readonly type: 'unix'; readonly path: string };

/** @internal */
export interface QemuSerialDef {
  readonly port: number;
  readonly source: QemuCharSource;
}

/** VNC on a unix socket in the run directory. @internal */
export interface QemuGraphicsDef {
  readonly type: 'vnc';
}

/** @internal */
export interface QemuVideoDef {
  readonly model: 'vga' | 'virtio' | 'none';
}

/** The `org.qemu.guest_agent.0` virtio channel; its socket lives in the run directory. @internal */
export interface QemuGuestAgentDef {
  readonly name: 'org.qemu.guest_agent.0';
}

/** @internal */
export interface QemuControllerDef {
  readonly type: 'usb' | 'pci' | 'sata' | 'scsi' | 'virtio-serial';
  readonly index: number;
  /** QEMU device to add, or `undefined` for a built-in or absent controller. */
  readonly device: string | undefined;
}

const NIC_MODELS = ['virtio', 'e1000', 'e1000e', 'rtl8139'] as const;

/** @internal */
export function parseInterfaces(devices: XmlElement, uuid: string): QemuInterfaceDef[] {
  return elements(devices, 'interface').map((el, i) => {
    const type = attrOf(el, 'type') ?? '';
    if (type !== 'user') {
      throw unsupported(`interface type '${type}' is not supported by the qemu driver yet (only 'user')`);
    }
    checkChildren(el, "interface type='user'", ['mac', 'model', 'boot', 'address', 'alias']);
    const model = attrOf(first(el, 'model'), 'type') ?? 'rtl8139';
    if (!(NIC_MODELS as readonly string[]).includes(model))
      throw unsupported(`interface model '${model}' is not supported`);
    const given = attrOf(first(el, 'mac'), 'address');
    if (given !== undefined && !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(given)) {
      throw xmlError(`unable to parse mac address '${given}'`);
    }
    if (given !== undefined && (parseInt(given.slice(0, 2), 16) & 1) === 1) {
      throw xmlError(`expected unicast mac address, found multicast '${given}'`);
    }
    return {
      type,
      model: model as QemuInterfaceDef['model'],
      mac: given?.toLowerCase() ?? stableMac(uuid, i),
      bootIndex: bootOrder(el, `interface ${i}`),
    };
  });
}

/** libvirt generates 52:54:00:xx:xx:xx once at define; we derive it from uuid and index so it stays stable. */
function stableMac(uuid: string, index: number): string {
  const h = createHash('sha256').update(`${uuid}/${index}`).digest();
  return ['52', '54', '00', ...[0, 1, 2].map((i) => h[i]!.toString(16).padStart(2, '0'))].join(':');
}

/** `<serial>` ports, and a `<console target type='serial'>` that adds port 0 when none exists. */
export function parseSerials(devices: XmlElement): QemuSerialDef[] {
  const serials = elements(devices, 'serial').map((el, i) => parseSerial(el, i));
  for (const console of elements(devices, 'console')) {
    const target = attrOf(first(console, 'target'), 'type') ?? 'serial';
    if (target !== 'serial')
      throw unsupported(`console target type '${target}' is not supported by the qemu driver`);
    // As in libvirt, a serial console is an alias of the first serial port.
    if (serials.length === 0) serials.push(parseSerial(console, 0));
  }
  const ports = new Set<number>();
  for (const s of serials) {
    if (ports.has(s.port)) throw xmlError(`serial port ${s.port} is used twice`);
    ports.add(s.port);
  }
  return serials;
}

function parseSerial(el: XmlElement, index: number): QemuSerialDef {
  checkChildren(el, el.name, ['source', 'target', 'alias', 'address', 'log']);
  if (first(el, 'log') !== undefined)
    throw unsupported(`<${el.name}><log> is not supported by the qemu driver`);
  const targetEl = first(el, 'target');
  const targetType = attrOf(targetEl, 'type') ?? (el.name === 'serial' ? 'isa-serial' : 'serial');
  if (el.name === 'serial' && targetType !== 'isa-serial')
    throw unsupported(`serial target type '${targetType}' is not supported`);
  const portText = attrOf(targetEl, 'port');
  const port = portText === undefined ? index : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 3)
    throw unsupported(`serial port '${portText ?? ''}' is not supported (0 to 3)`);
  return { port, source: charSource(el) };
}

function charSource(el: XmlElement): QemuCharSource {
  const type = attrOf(el, 'type') ?? 'pty';
  const source = first(el, 'source');
  const path = attrOf(source, 'path');
  switch (type) {
    case 'null':
    case 'pty':
      return { type };
    case 'file':
    case 'unix': {
      if (path === undefined || !path.startsWith('/'))
        throw unsupported(`<${el.name} type='${type}'> needs an absolute source path`);
      const mode = attrOf(source, 'mode') ?? 'bind';
      if (type === 'unix' && mode !== 'bind')
        throw unsupported(`<${el.name} type='unix'> supports only mode='bind'`);
      if (attrOf(source, 'append') !== undefined)
        throw unsupported(`<${el.name}> source append is not supported`);
      return { type, path };
    }
    default:
      throw unsupported(
        `<${el.name}> type '${type}' is not supported by the qemu driver (null, pty, file, unix)`,
      );
  }
}

/** @internal */
export function parseGraphics(devices: XmlElement): QemuGraphicsDef | undefined {
  const all = elements(devices, 'graphics');
  if (all.length > 1) throw unsupported('only one <graphics> is supported by the qemu driver');
  const g = all[0];
  if (g === undefined) return undefined;
  const type = attrOf(g, 'type') ?? '';
  if (type !== 'vnc')
    throw unsupported(
      `graphics type '${type}' is not supported by the qemu driver (only vnc on a unix socket)`,
    );
  checkChildren(g, "graphics type='vnc'", ['listen']);
  for (const name of Object.keys(g.attributes)) {
    if (name !== 'type' && name !== 'autoport')
      throw unsupported(
        `<graphics type='vnc' ${name}=…> is not supported: vnc listens on a unix socket in the run directory`,
      );
  }
  for (const listen of elements(g, 'listen')) {
    const lt = attrOf(listen, 'type');
    if (lt !== 'socket' || attrOf(listen, 'socket') !== undefined) {
      throw unsupported(
        "vnc supports only <listen type='socket'/> without a path: the socket lives in the run directory",
      );
    }
  }
  return { type: 'vnc' };
}

/** @internal */
export function parseVideo(devices: XmlElement): QemuVideoDef | undefined {
  const all = elements(devices, 'video');
  if (all.length > 1) throw unsupported('only one <video> is supported by the qemu driver');
  const v = all[0];
  if (v === undefined) return undefined;
  checkChildren(v, 'video', ['model', 'alias', 'address']);
  const model = attrOf(first(v, 'model'), 'type') ?? 'vga';
  if (model !== 'vga' && model !== 'virtio' && model !== 'none')
    throw unsupported(`video model '${model}' is not supported (vga, virtio, none)`);
  return { model };
}

const AGENT = 'org.qemu.guest_agent.0';

/** @internal */
export function parseGuestAgent(devices: XmlElement): QemuGuestAgentDef | undefined {
  let agent: QemuGuestAgentDef | undefined;
  for (const ch of elements(devices, 'channel')) {
    checkChildren(ch, 'channel', ['source', 'target', 'alias', 'address']);
    const target = first(ch, 'target');
    if (
      attrOf(ch, 'type') !== 'unix' ||
      attrOf(target, 'type') !== 'virtio' ||
      attrOf(target, 'name') !== AGENT
    ) {
      throw unsupported(
        `only the guest agent channel (<channel type='unix'> with <target type='virtio' name='${AGENT}'/>) is supported`,
      );
    }
    if (attrOf(first(ch, 'source'), 'path') !== undefined) {
      throw unsupported('the guest agent socket lives in the run directory: leave out <source path>');
    }
    if (agent !== undefined) throw unsupported('only one guest agent channel is supported');
    agent = { name: AGENT };
  }
  return agent;
}

/** @internal */
export function parseControllers(devices: XmlElement, family: 'q35' | 'pc'): QemuControllerDef[] {
  const out: QemuControllerDef[] = [];
  for (const el of elements(devices, 'controller')) {
    checkChildren(el, 'controller', ['alias', 'address', 'model', 'target']);
    const type = attrOf(el, 'type') ?? '';
    const index = Number(attrOf(el, 'index') ?? '0');
    const model = attrOf(el, 'model');
    if (!Number.isInteger(index) || index < 0)
      throw xmlError(`invalid controller index '${attrOf(el, 'index') ?? ''}'`);
    if (out.some((c) => c.type === type && c.index === index))
      throw xmlError(`multiple ${type} controllers with index ${index}`);
    out.push(controller(type, index, model, family));
  }
  return out;
}

function controller(
  type: string,
  index: number,
  model: string | undefined,
  family: 'q35' | 'pc',
): QemuControllerDef {
  const only0 = (what: string): void => {
    if (index !== 0)
      throw unsupported(`only one ${what} controller (index 0) is supported by the qemu driver`);
  };
  switch (type) {
    case 'usb':
      only0('usb');
      if (model === 'none') return { type, index, device: undefined };
      if (model === undefined || model === 'qemu-xhci') return { type, index, device: 'qemu-xhci' };
      throw unsupported(`usb controller model '${model}' is not supported (none or qemu-xhci)`);
    case 'pci': {
      const root = family === 'q35' ? 'pcie-root' : 'pci-root';
      if (index === 0 && (model === undefined || model === root)) return { type, index, device: undefined };
      throw unsupported(
        `pci controller model '${model ?? ''}' index ${index} is not supported (only the ${root})`,
      );
    }
    case 'sata':
      only0('sata');
      if (model !== undefined) throw unsupported(`sata controller model '${model}' is not supported`);
      return { type, index, device: family === 'q35' ? undefined : 'ahci' };
    case 'scsi':
      only0('scsi');
      if (model !== undefined && model !== 'virtio-scsi')
        throw unsupported(`scsi controller model '${model}' is not supported (virtio-scsi)`);
      return { type, index, device: 'virtio-scsi-pci' };
    case 'virtio-serial':
      only0('virtio-serial');
      return { type, index, device: 'virtio-serial-pci' };
    default:
      throw unsupported(`controller type '${type}' is not supported by the qemu driver`);
  }
}
