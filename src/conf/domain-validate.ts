import { VirtError } from '../errors.js';
import type { DomainDef, DomainDiskDef } from './domain-def.js';
import { definedDiskOrder } from './disk-order.js';
import { attr, child, childElements } from './xml/reader.js';
import type { XmlElement } from './xml/tree.js';

/**
 * libvirt's `virDomainDefCheckDuplicateDiskInfo`, part of the validation of every domain it
 * defines or starts: no two disks may share a target. Disks are compared in libvirt's order of
 * the parsed definition; the message names both sources as `virDomainDiskGetSource` gives them
 * (file, device or directory path, the path of a network source, `<null>` for anything else).
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

/** `virDomainDiskGetSource` of every disk that has one. */
function messageSources(def: DomainDef): Map<DomainDiskDef, string> {
  const devices = child(def.element, 'devices');
  const elements = devices === undefined ? [] : childElements(devices, 'disk');
  const out = new Map<DomainDiskDef, string>();
  def.disks.forEach((disk, i) => {
    const source = elements[i] === undefined ? undefined : child(elements[i], 'source');
    const path = disk.type === 'network' ? source && networkPath(source) : disk.source;
    if (path !== undefined && path !== '') out.set(disk, path);
  });
  return out;
}

/**
 * The path libvirt keeps for a network source: its `name`, without the pool or volume before
 * the first `/` for rbd and gluster, with `/0` (lun 0) added to an iSCSI name without a lun.
 */
function networkPath(source: XmlElement): string | undefined {
  const name = attr(source, 'name');
  if (name === undefined) return undefined;
  switch (attr(source, 'protocol')) {
    case 'rbd':
    case 'gluster':
      return name.includes('/') ? name.slice(name.indexOf('/') + 1) : name;
    case 'iscsi':
      return name.includes('/') ? name : `${name}/0`;
    default:
      return name;
  }
}
