import { compact } from './compact.js';
import type { DiskSource, DiskSourceHost } from './snapshot-def.js';
import { attr, childElements, xmlErrorAt } from './xml/reader.js';
import type { XmlElement } from './xml/tree.js';
import { element } from './xml/writer.js';

/**
 * libvirt's image formats (`virStorageFileFormat` without `none`).
 *
 * @internal
 */
export const STORAGE_FORMATS: readonly string[] = [
  'raw',
  'dir',
  'bochs',
  'cloop',
  'dmg',
  'iso',
  'vpc',
  'vdi',
  'fat',
  'vhd',
  'ploop',
  'cow',
  'qcow',
  'qcow2',
  'qed',
  'vmdk',
];

/** Image formats libvirt can follow backing chains of (schema `storageFormatBacking`). @internal */
export const BACKING_FORMATS: readonly string[] = ['cow', 'qcow', 'qcow2', 'qed', 'vmdk'];

/** libvirt's storage source types (`virStorageType` without `none`). @internal */
export const STORAGE_TYPES: readonly string[] = [
  'file',
  'block',
  'dir',
  'network',
  'volume',
  'nvme',
  'vhostuser',
  'vhostvdpa',
];

/** Source types a snapshot or backup image can have. @internal */
export type ImageSourceType = 'file' | 'block' | 'network';

/**
 * Parses a `<source>`, `<target>` or `<scratch>` element of the given storage type: the path
 * attribute that belongs to the type, network hosts, and every other child kept verbatim.
 *
 * @throws `XML_ERROR` for a network source without protocol.
 * @internal
 */
export function parseDiskSource(el: XmlElement, type: ImageSourceType): DiskSource {
  const extra = childElements(el).filter((c) => type !== 'network' || c.name !== 'host');
  const base = extra.length > 0 ? { extra } : {};
  switch (type) {
    case 'file':
      return compact({ file: nonEmpty(attr(el, 'file')), ...base });
    case 'block':
      return compact({ dev: nonEmpty(attr(el, 'dev')), ...base });
    case 'network': {
      const protocol = attr(el, 'protocol');
      if (protocol === undefined) throw xmlErrorAt(el, 'missing network source protocol type');
      const hosts = childElements(el, 'host').map(parseHost);
      return compact({
        protocol,
        name: attr(el, 'name'),
        hosts: hosts.length > 0 ? hosts : undefined,
        ...base,
      });
    }
  }
}

/** The path libvirt keeps for a source: `file`, `dev` or the network volume name. @internal */
export function diskSourcePath(type: ImageSourceType, src: DiskSource | undefined): string | undefined {
  switch (type) {
    case 'file':
      return src?.file;
    case 'block':
      return src?.dev;
    case 'network':
      return src?.name;
  }
}

/**
 * Formats a source like libvirt's `virDomainDiskSourceFormat`: the type's path attribute, then
 * hosts and the verbatim children. Returns `undefined` when there is nothing to print.
 *
 * @internal
 */
export function formatDiskSource(
  name: string,
  type: ImageSourceType,
  src: DiskSource | undefined,
): XmlElement | undefined {
  if (src === undefined) return undefined;
  const attrs =
    type === 'file'
      ? { file: src.file }
      : type === 'block'
        ? { dev: src.dev }
        : { protocol: src.protocol, name: src.name };
  const hosts = type === 'network' ? (src.hosts ?? []).map(formatHost) : [];
  const el = element(name, attrs, [...hosts, ...(src.extra ?? [])]);
  return Object.keys(el.attributes).length === 0 && el.children.length === 0 ? undefined : el;
}

function parseHost(el: XmlElement): DiskSourceHost {
  return compact({
    name: attr(el, 'name'),
    port: attr(el, 'port'),
    transport: attr(el, 'transport'),
    socket: attr(el, 'socket'),
  });
}

function formatHost(host: DiskSourceHost): XmlElement {
  return element('host', {
    name: host.name,
    port: host.port,
    transport: host.transport,
    socket: host.socket,
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === '' ? undefined : value;
}
