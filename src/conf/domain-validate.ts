import { VirtError } from '../errors.js';
import type { DomainDef, DomainDiskDef } from './domain-def.js';
import { definedDiskOrder } from './disk-order.js';
import { attr, child, childElements } from './xml/reader.js';

/**
 * libvirt's `virDomainDefCheckDuplicateDiskInfo`, part of the validation of every domain it
 * defines or starts: no two disks may share a target. Disks are compared in libvirt's order of
 * the parsed definition; the message names both sources as `virDomainDiskGetSource` gives them
 * (file, device or directory path, the network `name`, `<null>` for anything else).
 *
 * @throws `XML_ERROR` "target 'T' duplicated for disk sources 'A' and 'B'".
 * @public
 */
export function checkDuplicateDiskTargets(def: DomainDef): void {
  const sources = messageSources(def);
  const disks = definedDiskOrder(def);
  disks.forEach((a, i) => {
    const b = disks.slice(i + 1).find((d) => d.target === a.target);
    if (b === undefined) return;
    throw new VirtError(
      'XML_ERROR',
      `target '${a.target}' duplicated for disk sources '${sources.get(a) ?? '<null>'}' and '${sources.get(b) ?? '<null>'}'`,
    );
  });
}

/** `virDomainDiskGetSource` of every disk: its source path, or the name of a network disk. */
function messageSources(def: DomainDef): Map<DomainDiskDef, string> {
  const devices = child(def.element, 'devices');
  const elements = devices === undefined ? [] : childElements(devices, 'disk');
  const out = new Map<DomainDiskDef, string>();
  def.disks.forEach((disk, i) => {
    const source = elements[i] === undefined ? undefined : child(elements[i], 'source');
    const path = disk.type === 'network' ? source && attr(source, 'name') : disk.source;
    if (path !== undefined && path !== '') out.set(disk, path);
  });
  return out;
}
