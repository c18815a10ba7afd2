import { VirtError } from '../errors.js';
import type { DomainDef, DomainDiskDef, SnapshotLocation } from './domain-def.js';
import {
  attr,
  child,
  childElements,
  childText,
  expectRoot,
  isElement,
  parseXml,
  requiredAttr,
  xmlErrorAt,
} from './xml/reader.js';
import type { XmlElement, XmlText } from './xml/tree.js';
import { mapChild, mapChildren, withAttr, withoutAttrs } from './xml/tree-edit.js';
import { element, formatXml } from './xml/writer.js';

/**
 * Parses a `<domain>` document into the {@link DomainDef} subset snapshots need.
 *
 * @throws `XML_ERROR` when the text is not well formed, the root is not `<domain>`, or the
 * definition lacks a type, a name, a well-formed uuid or a disk target.
 * @public
 */
export function parseDomainXml(xml: string | Uint8Array): DomainDef {
  const root = parseXml(xml);
  expectRoot(root, 'domain');
  return domainDefFromElement(root);
}

/**
 * Builds a {@link DomainDef} from a parsed `<domain>` (or `<inactiveDomain>`) element. The
 * uuid is normalised to lower-case dashed form, in the definition and in the kept element, as
 * libvirt prints it; a missing uuid stays `''`. Like libvirt, the children of `<metadata>` that
 * have no namespace, or repeat one already used, are dropped.
 *
 * @throws `XML_ERROR` for a missing type or name, a malformed uuid, or a disk without target.
 * @public
 */
export function domainDefFromElement(el: XmlElement): DomainDef {
  if (el.name !== 'domain' && el.name !== 'inactiveDomain') {
    throw xmlErrorAt(el, `expecting root element of 'domain', not '${el.name}'`);
  }
  const type = requiredAttr(el, 'type');
  const name = childText(el, 'name');
  if (name === undefined) throw xmlErrorAt(el, 'missing name information in domain definition');
  const uuidEl = child(el, 'uuid');
  const uuidText = childText(el, 'uuid');
  const uuid = uuidText === undefined ? '' : normalizeUuid(uuidText, uuidEl);
  const devices = child(el, 'devices');
  const disks = devices === undefined ? [] : childElements(devices, 'disk').map(parseDisk);
  const normalized =
    uuid === '' || uuid === uuidText
      ? el
      : mapChild(el, 'uuid', (u) => ({ ...u, children: [{ text: uuid }] }));
  return { type, name, uuid, disks, element: sanitizeMetadata(normalized) };
}

/**
 * Options of {@link formatDomainXml}.
 *
 * @public
 */
export interface DomainFormatOptions {
  /** Keep secrets such as graphics passwords (`VIR_DOMAIN_XML_SECURE`). */
  readonly secure?: boolean;
}

/**
 * Formats a domain definition as libvirt prints it. Without `secure`, secrets (graphics
 * passwords) are left out, as libvirt does without `VIR_DOMAIN_XML_SECURE`.
 *
 * @public
 */
export function formatDomainXml(def: DomainDef, options: DomainFormatOptions = {}): string {
  const el = options.secure === true ? def.element : stripSecrets(def.element);
  return formatXml(el.name === 'domain' ? el : { ...el, name: 'domain' });
}

/**
 * Returns a new definition in which disk `target` has a new source path, image format and/or
 * source type. Changing the source drops stale `<backingStore>` information of the disk.
 *
 * @throws `INVALID_ARG` when the domain has no disk with that target.
 * @public
 */
export function updateDomainDisk(
  def: DomainDef,
  target: string,
  change: { readonly source?: string; readonly format?: string; readonly type?: string },
): DomainDef {
  const index = def.disks.findIndex((d) => d.target === target);
  if (index < 0) throw new VirtError('INVALID_ARG', `no disk named '${target}'`);
  let seen = -1;
  const root = mapChild(def.element, 'devices', (devices) =>
    mapChildren(devices, (c) => {
      if (c.name !== 'disk') return c;
      seen++;
      return seen === index ? changeDisk(c, change) : c;
    }),
  );
  return domainDefFromElement(root);
}

/**
 * Returns a new definition with another `<name>`.
 *
 * @public
 */
export function renameDomainDef(def: DomainDef, name: string): DomainDef {
  const root = mapChild(def.element, 'name', (n) => ({ ...n, children: [{ text: name }] }));
  return { ...def, name, element: root };
}

/**
 * The domain element as a snapshot or checkpoint prints it (libvirt's inactive format): root
 * renamed to `rootName`, no runtime `id=`, secrets removed unless `secure`.
 *
 * @internal
 */
export function domainElementForOutput(def: DomainDef, rootName: string, secure: boolean): XmlElement {
  const el = secure ? def.element : stripSecrets(def.element);
  const attributes = attr(el, 'id') === undefined ? el.attributes : withoutAttrs(el.attributes, ['id']);
  return el.name === rootName && attributes === el.attributes ? el : { ...el, name: rootName, attributes };
}

/**
 * libvirt's `virDomainDiskByName`: a name starting with `/` matches a unique source path,
 * anything else a target.
 *
 * @internal
 */
export function findDiskByName(def: DomainDef, name: string): DomainDiskDef | undefined {
  if (!name.startsWith('/')) return def.disks.find((d) => d.target === name);
  const matches = def.disks.filter((d) => d.source === name);
  return matches.length === 1 ? matches[0] : undefined;
}

/**
 * libvirt's `virStorageSourceIsEmpty` on a domain disk: a local disk without a path.
 *
 * @internal
 */
export function isDiskEmpty(disk: DomainDiskDef): boolean {
  return (disk.type === 'file' || disk.type === 'block' || disk.type === 'dir') && disk.source === undefined;
}

const STORAGE_TYPES = ['file', 'block', 'dir', 'network', 'volume', 'nvme', 'vhostuser', 'vhostvdpa'];
const DISK_DEVICES = ['floppy', 'disk', 'cdrom', 'lun'];
const DISK_SNAPSHOT_LOCATIONS: readonly string[] = ['no', 'internal', 'external', 'manual'];

function parseDisk(el: XmlElement): DomainDiskDef {
  const type = enumAttr(el, 'type', STORAGE_TYPES) ?? 'file';
  const device = enumAttr(el, 'device', DISK_DEVICES) ?? 'disk';
  const snapshot = enumAttr(el, 'snapshot', DISK_SNAPSHOT_LOCATIONS) as SnapshotLocation | undefined;
  const sourceEl = child(el, 'source');
  const source = sourceEl === undefined ? undefined : nonEmpty(attr(sourceEl, sourceAttrFor(type) ?? ''));
  const targetEl = child(el, 'target');
  const target = targetEl === undefined ? undefined : nonEmpty(attr(targetEl, 'dev'));
  if (target === undefined) {
    const what = source === undefined ? '' : ` '${source}'`;
    throw xmlErrorAt(el, `missing target information for device${what}`);
  }
  const driver = child(el, 'driver');
  const readonly = child(el, 'readonly') !== undefined || device === 'cdrom';
  return {
    target,
    bus: targetEl === undefined ? undefined : attr(targetEl, 'bus'),
    type,
    device,
    format: driver === undefined ? undefined : attr(driver, 'type'),
    source,
    // libvirt's disk post-parse: a read-only disk without a snapshot mode is never snapshotted.
    snapshot: snapshot ?? (readonly ? 'no' : undefined),
    readonly,
  };
}

function sourceAttrFor(type: string): string | undefined {
  switch (type) {
    case 'file':
      return 'file';
    case 'block':
      return 'dev';
    case 'dir':
      return 'dir';
    default:
      return undefined;
  }
}

function enumAttr(el: XmlElement, name: string, values: readonly string[]): string | undefined {
  const value = attr(el, name);
  if (value === undefined || values.includes(value)) return value;
  throw xmlErrorAt(el, `Invalid value for attribute '${name}' in element '${el.name}': '${value}'.`);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === '' ? undefined : value;
}

/** libvirt's `virUUIDParse`: 32 hex digits, dashes or spaces allowed between byte pairs. */
function normalizeUuid(text: string, el: XmlElement | undefined): string {
  const digits: string[] = [];
  let i = text.length - text.trimStart().length;
  const end = text.trimEnd().length;
  while (digits.length < 16) {
    const c = text[i];
    if (c === '-' || c === ' ') {
      i++;
      continue;
    }
    const pair = text.slice(i, i + 2);
    if (i + 2 > end || !/^[0-9a-fA-F]{2}$/.test(pair)) throw xmlErrorAt(el, 'malformed uuid element');
    digits.push(pair.toLowerCase());
    i += 2;
  }
  if (i < end) throw xmlErrorAt(el, 'malformed uuid element');
  const hex = digits.join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function changeDisk(
  disk: XmlElement,
  change: { readonly source?: string; readonly format?: string; readonly type?: string },
): XmlElement {
  let out = disk;
  if (change.type !== undefined) out = { ...out, attributes: withAttr(out.attributes, 'type', change.type) };
  if (change.source !== undefined) out = changeSource(out, change.source);
  if (change.format !== undefined) out = changeFormat(out, change.format);
  return out;
}

function changeSource(disk: XmlElement, path: string): XmlElement {
  const key = sourceAttrFor(attr(disk, 'type') ?? 'file') ?? 'file';
  const kept = disk.children.filter((c) => !isElement(c) || c.name !== 'backingStore');
  const existing = kept.find((c): c is XmlElement => isElement(c) && c.name === 'source');
  if (existing !== undefined) {
    const attributes = withoutAttrs(existing.attributes, ['file', 'dev', 'dir']);
    const source = { ...existing, attributes: withAttr(attributes, key, path) };
    return { ...disk, children: kept.map((c) => (c === existing ? source : c)) };
  }
  const driverAt = kept.findIndex((c) => isElement(c) && c.name === 'driver');
  const children = [...kept];
  children.splice(driverAt + 1, 0, element('source', { [key]: path }));
  return { ...disk, children };
}

function changeFormat(disk: XmlElement, format: string): XmlElement {
  const driver = child(disk, 'driver');
  if (driver === undefined)
    return { ...disk, children: [element('driver', { type: format }), ...disk.children] };
  const updated = { ...driver, attributes: withAttr(driver.attributes, 'type', format) };
  return { ...disk, children: disk.children.map((c) => (c === driver ? updated : c)) };
}

/** Removes what libvirt prints only with the SECURE flag: graphics passwords. */
function stripSecrets(el: XmlElement): XmlElement {
  return mapChild(el, 'devices', (devices) =>
    mapChildren(devices, (c) =>
      c.name === 'graphics' && attr(c, 'passwd') !== undefined
        ? { ...c, attributes: withoutAttrs(c.attributes, ['passwd']) }
        : c,
    ),
  );
}

/**
 * libvirt's `virXMLNodeSanitizeNamespaces` on `<metadata>`: top-level entries without a
 * namespace, or with a namespace seen before, are dropped.
 */
function sanitizeMetadata(domain: XmlElement): XmlElement {
  return mapChild(domain, 'metadata', (metadata) => {
    const seen = new Set<string>();
    const kept: (XmlElement | XmlText)[] = [];
    for (const c of metadata.children) {
      if (!isElement(c)) {
        kept.push(c);
        continue;
      }
      const ns = namespaceOf(c, [metadata, domain]);
      if (ns === undefined || seen.has(ns)) continue;
      seen.add(ns);
      kept.push(c);
    }
    return kept.length === metadata.children.length ? metadata : { ...metadata, children: kept };
  });
}

function namespaceOf(el: XmlElement, ancestors: readonly XmlElement[]): string | undefined {
  const colon = el.name.indexOf(':');
  const decl = colon < 0 ? 'xmlns' : `xmlns:${el.name.slice(0, colon)}`;
  for (const scope of [el, ...ancestors]) {
    const uri = attr(scope, decl);
    if (uri !== undefined) return uri === '' ? undefined : uri;
  }
  return undefined;
}
