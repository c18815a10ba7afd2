import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import {
  checkDuplicateDiskTargets,
  domainDefFromElement,
  updateDomainDisk,
  VirtError,
  type DomainDef,
  type DomainDiskDef,
  type XmlElement,
  type XmlText,
} from 'virtkit';
import { assertStorableName } from './layout.js';

/**
 * Domain types the qemu driver runs.
 *
 * @internal
 */
export const QEMU_DOMAIN_TYPES = ['qemu', 'kvm'] as const;

/**
 * Image formats the qemu driver manages.
 *
 * @internal
 */
export const QEMU_IMAGE_FORMATS = ['qcow2', 'raw'] as const;

/**
 * Checks a parsed definition against what the qemu driver supports and returns it as it is
 * stored: a uuid generated when missing, the runtime `id` dropped, `raw` made explicit for
 * file disks without a format (libvirt's qemu default).
 *
 * @throws `XML_DETAIL` for a name that cannot be stored, `CONFIG_UNSUPPORTED` for another
 * domain type or a disk that is not a local qcow2/raw file with an absolute path,
 * `XML_ERROR` for a duplicated disk target (libvirt's message).
 * @internal
 */
export function prepareDomainDef(parsed: DomainDef): DomainDef {
  assertStorableName('domain', parsed.name);
  if (!(QEMU_DOMAIN_TYPES as readonly string[]).includes(parsed.type)) {
    throw new VirtError(
      'CONFIG_UNSUPPORTED',
      `emulator does not support virt type '${parsed.type}': the qemu driver runs domains of type 'qemu' or 'kvm'`,
    );
  }
  parsed.disks.forEach(checkDisk);
  checkDuplicateDiskTargets(parsed);
  const sources = new Map<string, string>();
  for (const disk of parsed.disks) {
    const other = disk.source === undefined ? undefined : sources.get(disk.source);
    if (other !== undefined) {
      throw new VirtError(
        'CONFIG_UNSUPPORTED',
        `disks '${other}' and '${disk.target}' use the same image '${disk.source}'`,
      );
    }
    if (disk.source !== undefined) sources.set(disk.source, disk.target);
  }
  let def = normalizeRoot(parsed);
  for (const disk of def.disks) {
    if (disk.source !== undefined && disk.format === undefined)
      def = updateDomainDisk(def, disk.target, { format: 'raw' });
  }
  return def;
}

/**
 * The image format of a disk as the driver treats it (`raw` when not given).
 *
 * @internal
 */
export function diskFormat(disk: DomainDiskDef): string {
  return disk.format ?? 'raw';
}

/**
 * libvirt's check before it names an external snapshot file after a disk's image: `stat` the
 * path (following links) and accept only a regular file.
 *
 * @internal
 */
export function isHostRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * {@link isHostRegularFile} for creating a snapshot of `domain`: a disk image that does not
 * exist at all is `SYSTEM_ERROR` naming the disk and the path (as every other operation on a
 * missing image), not libvirt's "not a regular file".
 *
 * @internal
 */
export function hostRegularFileOf(domain: DomainDef): (path: string) => boolean {
  return (path) => {
    try {
      return statSync(path).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false;
      throw imageStatError(domain.disks.find((d) => d.source === path)?.target ?? '?', path, err);
    }
  };
}

/**
 * `SYSTEM_ERROR` for a disk image that cannot be stat'ed, naming the disk and the path.
 *
 * @internal
 */
export function imageStatError(disk: string, path: string, cause: unknown): VirtError {
  const code = (cause as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'No such file or directory' : (cause as Error).message;
  return new VirtError('SYSTEM_ERROR', `unable to stat image of disk '${disk}': '${path}': ${why}`, {
    cause,
    driver: 'qemu',
    details: { disk, path },
  });
}

function checkDisk(disk: DomainDiskDef): void {
  const what = `disk '${disk.target}'`;
  if (disk.source === undefined && disk.type !== 'network') return;
  if (disk.type !== 'file') {
    throw new VirtError(
      'CONFIG_UNSUPPORTED',
      `${what}: the qemu driver supports only file disks, not type '${disk.type}'`,
    );
  }
  const source = disk.source ?? '';
  if (!isAbsolute(source)) {
    throw new VirtError('CONFIG_UNSUPPORTED', `${what}: source path '${source}' must be absolute`);
  }
  const format = disk.format ?? 'raw';
  if (!(QEMU_IMAGE_FORMATS as readonly string[]).includes(format)) {
    throw new VirtError(
      'CONFIG_UNSUPPORTED',
      `${what}: image format '${format}' is not supported by the qemu driver (qcow2 or raw)`,
    );
  }
}

function normalizeRoot(def: DomainDef): DomainDef {
  let el = def.element;
  if (el.attributes['id'] !== undefined) {
    const attributes = Object.fromEntries(Object.entries(el.attributes).filter(([k]) => k !== 'id'));
    el = { ...el, attributes };
  }
  if (def.uuid === '') el = insertAfterName(el, uuidElement(randomUUID()));
  return el === def.element ? def : domainDefFromElement(el);
}

function uuidElement(uuid: string): XmlElement {
  return { name: 'uuid', attributes: {}, children: [{ text: uuid }] };
}

function insertAfterName(el: XmlElement, added: XmlElement): XmlElement {
  const children: (XmlElement | XmlText)[] = [...el.children];
  const at = children.findIndex((c) => (c as XmlElement).name === 'name');
  children.splice(at + 1, 0, added);
  return { ...el, children };
}
