import type { XmlElement } from 'virtkit';
import { checkChildren, unsupported, xmlError } from './domain-check.js';
import { parseMemoryKiB } from './domain-memory.js';
import type { QemuDomainDef } from './domain-model.js';
import { attrOf, first, textOf } from './xml-walk.js';

// The machine-level parts of a domain: os, memory, vcpus, cpu, features, clock, lifecycle.

const MACHINES = /^(q35|pc|pc-q35-[0-9.]+|pc-i440fx-[0-9.]+)$/;

/** @internal */
export function parseOs(el: XmlElement): QemuDomainDef['os'] {
  const os = first(el, 'os');
  const typeEl = first(os, 'type');
  const osType = textOf(typeEl);
  if (os === undefined || typeEl === undefined || osType === undefined || osType === '') {
    throw xmlError('an os <type> must be specified');
  }
  if (osType !== 'hvm')
    throw unsupported(`os type '${osType}' is not supported: the qemu driver runs 'hvm' guests`);
  checkChildren(os, 'os', ['type', 'kernel', 'initrd', 'cmdline', 'boot']);
  const arch = attrOf(typeEl, 'arch') ?? 'x86_64';
  if (arch !== 'x86_64')
    throw unsupported(`no guest architecture '${arch}': the qemu driver runs x86_64 guests`);
  const machine = attrOf(typeEl, 'machine') ?? 'pc';
  if (!MACHINES.test(machine)) {
    throw unsupported(`machine type '${machine}' is not supported by the qemu driver (q35 or pc)`);
  }
  const kernel = textOf(first(os, 'kernel'));
  const initrd = textOf(first(os, 'initrd'));
  for (const [what, path] of [
    ['kernel', kernel],
    ['initrd', initrd],
  ] as const) {
    if (path !== undefined && !path.startsWith('/'))
      throw unsupported(`os <${what}> path '${path}' must be absolute`);
  }
  if (initrd !== undefined && kernel === undefined) throw unsupported('os <initrd> needs an os <kernel>');
  const cmdline = textOf(first(os, 'cmdline'));
  const family = machine === 'q35' || machine.startsWith('pc-q35-') ? 'q35' : 'pc';
  return { arch, machine, family, kernel, initrd, cmdline };
}

/** @internal */
export function requiredMemory(el: XmlElement): number {
  const memory = first(el, 'memory');
  const kib = memory === undefined ? 0 : parseMemoryKiB(memory, 'memory');
  if (kib === 0) throw xmlError('Memory size must be specified via <memory> or in the <numa> configuration');
  return kib;
}

/** @internal */
export function parseVcpus(el: XmlElement): QemuDomainDef['vcpus'] {
  const vcpu = first(el, 'vcpu');
  if (vcpu === undefined) return { max: 1, current: 1 };
  const max = count(textOf(vcpu) ?? '', 'maximum vcpus count');
  const currentAttr = attrOf(vcpu, 'current');
  const current = currentAttr === undefined ? max : count(currentAttr, 'current vcpus count');
  if (max === 0) throw xmlError('Invalid number of vCPUs');
  if (current === 0 || current > max)
    throw xmlError(`current vcpus count ${current} must be between 1 and ${max}`);
  if (max > 255) throw unsupported(`Maximum CPUs greater than specified machine type limit 255`);
  const placement = attrOf(vcpu, 'placement');
  if (placement !== undefined && placement !== 'static') {
    throw unsupported(`vcpu placement '${placement}' is not supported by the qemu driver`);
  }
  if (attrOf(vcpu, 'cpuset') !== undefined)
    throw unsupported('vcpu cpuset is not supported by the qemu driver');
  return { max, current };
}

function count(text: string, what: string): number {
  if (!/^[0-9]+$/.test(text.trim())) throw xmlError(`${what} must be an integer`);
  return Number(text.trim());
}

/** @internal */
export function parseCpu(el: XmlElement, type: 'qemu' | 'kvm'): QemuDomainDef['cpu'] {
  const cpu = first(el, 'cpu');
  if (cpu === undefined) return { mode: 'default', model: undefined };
  checkChildren(cpu, 'cpu', ['model']);
  const model = first(cpu, 'model');
  const mode = attrOf(cpu, 'mode') ?? (model === undefined ? 'default' : 'custom');
  switch (mode) {
    case 'default':
    case 'maximum':
      return { mode, model: undefined };
    case 'host-passthrough':
      // libvirt refuses it for TCG: the host CPU cannot be emulated.
      if (type !== 'kvm') {
        throw unsupported(
          `CPU mode 'host-passthrough' for x86_64 ${type} domain on x86_64 host is not supported by hypervisor`,
        );
      }
      return { mode, model: undefined };
    case 'custom': {
      const name = textOf(model);
      if (name === undefined || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
        throw xmlError(`cpu mode 'custom' needs a valid <model>, not '${name ?? ''}'`);
      }
      return { mode, model: name };
    }
    default:
      throw unsupported(`CPU mode '${mode}' is not supported by the qemu driver`);
  }
}

/** @internal */
export function parseFeatures(el: XmlElement): QemuDomainDef['features'] {
  const features = first(el, 'features');
  if (features === undefined) return { acpi: false };
  checkChildren(features, 'features', ['acpi', 'apic', 'pae']);
  return { acpi: first(features, 'acpi') !== undefined };
}

/** @internal */
export function parseClock(el: XmlElement): QemuDomainDef['clock'] {
  const clock = first(el, 'clock');
  if (clock === undefined) return 'utc';
  checkChildren(clock, 'clock', []);
  const offset = attrOf(clock, 'offset') ?? 'utc';
  if (offset !== 'utc' && offset !== 'localtime') {
    throw unsupported(`clock offset '${offset}' is not supported by the qemu driver`);
  }
  return offset;
}

/** @internal */
export function parseLifecycle(el: XmlElement): QemuDomainDef['onReboot'] {
  const value = (name: string, fallback: string): string => textOf(first(el, name)) ?? fallback;
  const poweroff = value('on_poweroff', 'destroy');
  if (poweroff !== 'destroy')
    throw unsupported(`on_poweroff '${poweroff}' is not supported by the qemu driver`);
  const crash = value('on_crash', 'destroy');
  if (crash !== 'destroy') throw unsupported(`on_crash '${crash}' is not supported by the qemu driver`);
  const reboot = value('on_reboot', 'restart');
  if (reboot !== 'restart' && reboot !== 'destroy') {
    throw unsupported(`on_reboot '${reboot}' is not supported by the qemu driver`);
  }
  return reboot;
}
