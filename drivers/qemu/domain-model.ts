import { parseDomainXml, type DomainDef, type XmlElement } from 'virtkit';
import { checkChildren, unsupported } from './domain-check.js';
import { parseDisks, type QemuDiskDef } from './domain-disks.js';
import {
  parseControllers,
  parseGraphics,
  parseGuestAgent,
  parseInterfaces,
  parseSerials,
  parseVideo,
  type QemuControllerDef,
  type QemuGraphicsDef,
  type QemuGuestAgentDef,
  type QemuInterfaceDef,
  type QemuSerialDef,
  type QemuVideoDef,
} from './domain-devices.js';
import {
  parseClock,
  parseCpu,
  parseFeatures,
  parseLifecycle,
  parseOs,
  parseVcpus,
  requiredMemory,
} from './domain-machine.js';
import { parseMemoryKiB } from './domain-memory.js';
import { attrOf, elements, first } from './xml-walk.js';

export type {
  QemuCharSource,
  QemuControllerDef,
  QemuGraphicsDef,
  QemuGuestAgentDef,
  QemuInterfaceDef,
  QemuSerialDef,
  QemuVideoDef,
} from './domain-devices.js';
export type { QemuDiskDef } from './domain-disks.js';

/**
 * `<cpu mode=…>` values the qemu driver runs (`default` = no `<cpu>` element: QEMU's model).
 *
 * @internal
 */
export const QEMU_CPU_MODES = ['default', 'host-passthrough', 'maximum', 'custom'] as const;

/**
 * What the qemu driver runs for one domain: the part of the domain XML that becomes the
 * QEMU command line, checked and with libvirt's defaults applied.
 *
 * @internal
 */
export interface QemuDomainDef {
  /** `kvm` runs under KVM, `qemu` under TCG (libvirt's rule, no fallback). */
  readonly type: 'qemu' | 'kvm';
  readonly name: string;
  /** Lower-case uuid, `''` when the XML has none (the define path generates one). */
  readonly uuid: string;
  /** `<memory>` in KiB (libvirt rounds up to whole KiB). */
  readonly memoryKiB: number;
  /** `<currentMemory>` in KiB (the balloon target); equals `memoryKiB` when absent or larger. */
  readonly currentMemoryKiB: number;
  /** `<vcpu>`: maximum and `current=` (online at start). */
  readonly vcpus: { readonly max: number; readonly current: number };
  readonly os: {
    readonly arch: 'x86_64';
    /** Machine type as QEMU names it (`q35`, `pc`, `pc-q35-7.2`, …). */
    readonly machine: string;
    /** `q35` for every q35 machine, `pc` for i440fx ones. */
    readonly family: 'q35' | 'pc';
    readonly kernel: string | undefined;
    readonly initrd: string | undefined;
    readonly cmdline: string | undefined;
  };
  readonly cpu: { readonly mode: (typeof QEMU_CPU_MODES)[number]; readonly model: string | undefined };
  readonly features: { readonly acpi: boolean };
  readonly clock: 'utc' | 'localtime';
  /** `<on_reboot>`: `destroy` becomes `-no-reboot`. */
  readonly onReboot: 'restart' | 'destroy';
  readonly disks: readonly QemuDiskDef[];
  readonly interfaces: readonly QemuInterfaceDef[];
  readonly serials: readonly QemuSerialDef[];
  readonly graphics: QemuGraphicsDef | undefined;
  readonly video: QemuVideoDef | undefined;
  readonly guestAgent: QemuGuestAgentDef | undefined;
  readonly controllers: readonly QemuControllerDef[];
  /** `<memballoon model='virtio'>` (libvirt's default) or `none`. */
  readonly memballoon: boolean;
}

/**
 * Reads what QEMU needs from a domain definition (XML text, or a parsed {@link DomainDef}).
 * Everything the driver cannot run is refused here, so a defined domain never fails at
 * start because of its XML.
 *
 * @throws `XML_ERROR` for a missing or malformed required element (`an os <type> must be
 * specified`, memory), `CONFIG_UNSUPPORTED` naming the element or value the driver cannot
 * run (see the translation table in docs/qemu-driver.md).
 * @internal
 */
export function parseQemuDomain(input: string | DomainDef): QemuDomainDef {
  const def = typeof input === 'string' ? parseDomainXml(input) : input;
  const el = def.element;
  const type = def.type;
  if (type !== 'qemu' && type !== 'kvm') {
    throw unsupported(
      `emulator does not support virt type '${type}': the qemu driver runs domains of type 'qemu' or 'kvm'`,
    );
  }
  checkChildren(el, 'domain', DOMAIN_CHILDREN);
  const os = parseOs(el);
  const memoryKiB = requiredMemory(el);
  const current = first(el, 'currentMemory');
  const currentKiB = current === undefined ? memoryKiB : parseMemoryKiB(current, 'currentMemory');
  const devices = first(el, 'devices') ?? { name: 'devices', attributes: {}, children: [] };
  checkChildren(devices, 'devices', DEVICE_CHILDREN);
  checkInputs(devices);
  const disks = parseDisks(devices, os.family);
  const interfaces = parseInterfaces(devices, def.uuid);
  const cpu = parseCpu(el, type);
  assignBootOrder(el, disks, interfaces);
  return {
    type,
    name: def.name,
    uuid: def.uuid,
    memoryKiB,
    currentMemoryKiB: currentKiB > memoryKiB || currentKiB === 0 ? memoryKiB : currentKiB,
    vcpus: parseVcpus(el),
    os,
    cpu,
    features: parseFeatures(el),
    clock: parseClock(el),
    onReboot: parseLifecycle(el),
    disks,
    interfaces,
    serials: parseSerials(devices),
    graphics: parseGraphics(devices),
    video: parseVideo(devices),
    guestAgent: parseGuestAgent(devices),
    controllers: parseControllers(devices, os.family),
    memballoon: parseMemballoon(devices),
  };
}

function checkInputs(devices: XmlElement): void {
  for (const input of elements(devices, 'input')) {
    const type = attrOf(input, 'type') ?? '';
    const bus = attrOf(input, 'bus') ?? 'ps2';
    // libvirt lists the PS/2 mouse and keyboard every x86 machine has; nothing to add.
    if ((type !== 'mouse' && type !== 'keyboard') || bus !== 'ps2') {
      throw unsupported(`input type '${type}' on bus '${bus}' is not supported by the qemu driver`);
    }
  }
}

/**
 * The define-time check of the qemu driver: everything {@link parseQemuDomain} refuses.
 *
 * @internal
 */
export function validateQemuDomain(input: string | DomainDef): void {
  parseQemuDomain(input);
}

/** Top-level elements: run, or harmless to accept (descriptions, libvirt's own bookkeeping). */
const DOMAIN_CHILDREN = [
  'name',
  'uuid',
  'title',
  'description',
  'metadata',
  'memory',
  'currentMemory',
  'vcpu',
  'os',
  'cpu',
  'features',
  'clock',
  'on_poweroff',
  'on_reboot',
  'on_crash',
  'devices',
];

const DEVICE_CHILDREN = [
  'emulator',
  'disk',
  'interface',
  'serial',
  'console',
  'channel',
  'graphics',
  'video',
  'controller',
  'memballoon',
  'input',
];

function parseMemballoon(devices: XmlElement): boolean {
  const balloons = elements(devices, 'memballoon');
  if (balloons.length > 1) throw unsupported('only one <memballoon> is supported');
  const model = attrOf(balloons[0], 'model') ?? 'virtio';
  if (model !== 'virtio' && model !== 'none')
    throw unsupported(`memballoon model '${model}' is not supported`);
  return model === 'virtio';
}

/** `<os><boot dev=…>` → bootindex on the first device of that kind, unless devices set `<boot order>`. */
function assignBootOrder(el: XmlElement, disks: QemuDiskDef[], nets: QemuInterfaceDef[]): void {
  const boots = elements(first(el, 'os') ?? el, 'boot');
  const perDevice =
    disks.some((d) => d.bootIndex !== undefined) || nets.some((n) => n.bootIndex !== undefined);
  if (boots.length > 0 && perDevice) {
    throw unsupported('per-device boot elements cannot be used together with os/boot elements');
  }
  if (perDevice) return;
  const devs = boots.length === 0 ? ['hd'] : boots.map((b) => attrOf(b, 'dev') ?? '');
  devs.forEach((dev, i) => {
    const pick = (): { bootIndex: number | undefined } | undefined => {
      switch (dev) {
        case 'hd':
          return disks.find((d) => d.device === 'disk');
        case 'cdrom':
          return disks.find((d) => d.device === 'cdrom');
        case 'network':
          return nets[0];
        default:
          throw unsupported(`boot device '${dev}' is not supported by the qemu driver`);
      }
    };
    const target = pick();
    if (target !== undefined && target.bootIndex === undefined) target.bootIndex = i + 1;
  });
}
