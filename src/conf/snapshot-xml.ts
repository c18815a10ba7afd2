import { VirtError } from '../errors.js';
import { compact } from './compact.js';
import {
  diskSourcePath,
  formatDiskSource,
  parseDiskSource,
  STORAGE_FORMATS,
  STORAGE_TYPES,
} from './disk-source-xml.js';
import type { ImageSourceType } from './disk-source-xml.js';
import { SNAPSHOT_LOCATIONS, type SnapshotLocation } from './domain-def.js';
import { domainDefFromElement, domainElementForOutput } from './domain-xml.js';
import { SNAPSHOT_SCHEMA } from './moment-schemas.js';
import { parseScaledInteger } from './scaled-integer.js';
import { parseMomentBase } from './moment-xml.js';
import {
  SNAPSHOT_STATES,
  type SnapshotDef,
  type SnapshotDiskDef,
  type SnapshotMemoryDef,
} from './snapshot-def.js';
import type { SnapshotState } from './snapshot-def.js';
import {
  attr,
  child,
  childElements,
  childText,
  errorAt,
  expectRoot,
  parseXml,
  textContent,
  xmlErrorAt,
} from './xml/reader.js';
import { validateSchema } from './xml/schema.js';
import type { XmlElement } from './xml/tree.js';
import { element, formatXml, textElement } from './xml/writer.js';

import { snapshotDiskPath } from './snapshot-align.js';

export { alignSnapshotDisks, defaultExternalSnapshotPath } from './snapshot-align.js';

/**
 * How {@link parseSnapshotXml} reads a `<domainsnapshot>` (libvirt's
 * `VIR_DOMAIN_SNAPSHOT_PARSE_*` flags plus the post-parse clock).
 *
 * @public
 */
export interface SnapshotParseOptions {
  /** Read a previously dumped snapshot: name, creationTime and state are required. */
  readonly redefine?: boolean;
  /** Read virtkit's/libvirt's own metadata file: `<active>` is required and returned. */
  readonly internal?: boolean;
  /** The domain is offline: memory state cannot be requested and `<cookie>` is ignored. */
  readonly offline?: boolean;
  /** Check the document against the structure of libvirt's `domainsnapshot.rng` first. */
  readonly validate?: boolean;
  /**
   * Current time in seconds. Without `redefine`, a non-zero value becomes the creation time
   * and, when the XML has no `<name>`, the name. `undefined` or `0` generates nothing.
   */
  readonly now?: number;
}

/**
 * How {@link formatSnapshotXml} prints a snapshot (libvirt's `VIR_DOMAIN_SNAPSHOT_FORMAT_*`).
 *
 * @public
 */
export interface SnapshotFormatOptions {
  /** Include secrets (graphics passwords) of the embedded domain. */
  readonly secure?: boolean;
  /** Print `<active>` (metadata-file form). */
  readonly internal?: boolean;
  /** With `internal`: the snapshot is the current one (`<active>1</active>`). */
  readonly current?: boolean;
  /** Printed as `<domain><uuid>…</uuid></domain>` when the snapshot has no domain definition. */
  readonly domainUuid?: string;
}

/**
 * Parses a `<domainsnapshot>` document the way libvirt's `virDomainSnapshotDefParseString` does.
 *
 * Without `redefine`, `<state>`, `<parent>`, `<creationTime>`, `<domain>`, `<revertDisks>` and
 * `<snapshotDeleteInProgress>` are ignored. Unknown elements are ignored unless `validate`.
 *
 * @throws `XML_ERROR` for malformed XML, a wrong root element, bad attribute values, memory or
 * path rules, a redefinition without name or state; `XML_INVALID_SCHEMA` with `validate`;
 * `CONFIG_UNSUPPORTED` for an unknown state or disk driver; `INTERNAL_ERROR` for a disk without
 * name, a redefinition without creationTime, or an internal parse without `<active>`.
 * @public
 */
export function parseSnapshotXml(xml: string | Uint8Array, options: SnapshotParseOptions = {}): SnapshotDef {
  const root = parseXml(xml);
  expectRoot(root, 'domainsnapshot');
  if (options.validate === true) validateSchema(root, SNAPSHOT_SCHEMA, 'domainsnapshot.rng');
  const redefine = options.redefine === true;
  const base = parseMomentBase(root, 'snapshot', redefine, options.now);
  let offline = options.offline === true;
  let extra: Partial<SnapshotDef> = {};
  if (redefine) {
    const state = parseState(root);
    offline = state === 'shutoff' || state === 'disk-snapshot';
    extra = { state, ...parseDomains(root) };
  }
  const memory = parseMemory(root, redefine, offline);
  const disks = diskList(child(root, 'disks'), redefine);
  const revertDisks = redefine ? diskList(child(root, 'revertDisks'), redefine) : undefined;
  const cookie = offline ? undefined : child(root, 'cookie');
  const active = options.internal === true ? parseActive(root) : undefined;
  return compact({ ...base, ...extra, memory, disks, revertDisks, cookie, active });
}

/**
 * Formats a snapshot as libvirt's `virDomainSnapshotDefFormat` does, in its fixed element
 * order; defaults and unset values are left out.
 *
 * @public
 */
export function formatSnapshotXml(def: SnapshotDef, options: SnapshotFormatOptions = {}): string {
  const secure = options.secure === true;
  const ct = def.creationTime;
  const fallbackDomain =
    options.domainUuid === undefined
      ? undefined
      : element('domain', {}, [textElement('uuid', options.domainUuid)]);
  return formatXml(
    element('domainsnapshot', {}, [
      present(def.name) && textElement('name', def.name),
      present(def.description) && textElement('description', def.description),
      def.state !== undefined && textElement('state', def.state),
      present(def.parent) && element('parent', {}, [textElement('name', def.parent)]),
      ct !== undefined && ct !== 0 && textElement('creationTime', ct),
      formatMemory(def.memory),
      diskListElement('disks', def.disks),
      diskListElement('revertDisks', def.revertDisks),
      def.domain === undefined ? fallbackDomain : domainElementForOutput(def.domain, 'domain', secure),
      def.inactiveDomain && domainElementForOutput(def.inactiveDomain, 'inactiveDomain', secure),
      def.cookie && element('cookie', {}, def.cookie.children),
      options.internal === true && textElement('active', options.current === true ? 1 : 0),
    ]),
  );
}

function present(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}

function parseState(root: XmlElement): SnapshotState {
  const text = childText(root, 'state');
  if (text === undefined) throw xmlErrorAt(root, 'missing state from existing snapshot');
  if (!(SNAPSHOT_STATES as readonly string[]).includes(text)) {
    throw errorAt(
      'CONFIG_UNSUPPORTED',
      child(root, 'state'),
      `Invalid state '${text}' in domain snapshot XML`,
    );
  }
  return text as SnapshotState;
}

function parseDomains(root: XmlElement): Pick<SnapshotDef, 'domain' | 'inactiveDomain'> {
  const domainEl = child(root, 'domain');
  const hasType = domainEl !== undefined && (attr(domainEl, 'type') ?? '') !== '';
  const inactiveEl = child(root, 'inactiveDomain');
  return {
    domain: hasType ? domainDefFromElement(domainEl) : undefined,
    inactiveDomain: inactiveEl === undefined ? undefined : domainDefFromElement(inactiveEl),
  };
}

function parseActive(root: XmlElement): boolean {
  const text = childText(root, 'active');
  if (text === undefined || !/^[ \t\n\v\f\r]*[+-]?[0-9]+$/.test(text)) {
    throw new VirtError('INTERNAL_ERROR', "could not find 'active' element");
  }
  return Number(text) !== 0;
}

/** A location attribute (`snapshot=`): libvirt rejects unknown values and `default`. */
function locationAttr(el: XmlElement): SnapshotLocation | undefined {
  const value = attr(el, 'snapshot');
  if (value === undefined) return undefined;
  if ((SNAPSHOT_LOCATIONS as readonly string[]).includes(value)) return value as SnapshotLocation;
  throw xmlErrorAt(el, `Invalid value for attribute 'snapshot' in element '${el.name}': '${value}'.`);
}

function parseMemory(root: XmlElement, redefine: boolean, offline: boolean): SnapshotMemoryDef | undefined {
  const el = child(root, 'memory');
  const file = el === undefined ? undefined : attr(el, 'file');
  let snapshot = el === undefined ? undefined : locationAttr(el);
  if (snapshot === 'manual') throw xmlErrorAt(el, "'manual' memory snapshot mode not supported");
  if (snapshot === undefined) {
    if (file !== undefined) snapshot = 'external';
    else if (redefine) snapshot = offline ? 'no' : 'internal';
  }
  if (file !== undefined && snapshot !== 'external') {
    throw xmlErrorAt(el, `memory filename '${file}' requires external snapshot`);
  }
  if (file === undefined && snapshot === 'external') {
    throw xmlErrorAt(el, 'external memory snapshots require a filename');
  }
  if (offline && snapshot !== undefined && snapshot !== 'no') {
    throw xmlErrorAt(el, 'memory state cannot be saved with offline or disk-only snapshot');
  }
  if (file !== undefined && !file.startsWith('/')) {
    throw xmlErrorAt(el, `memory snapshot file path (${file}) must be absolute`);
  }
  return snapshot === undefined ? undefined : compact({ snapshot, file });
}

function diskList(el: XmlElement | undefined, redefine: boolean): SnapshotDiskDef[] | undefined {
  if (el === undefined) return undefined;
  const disks = childElements(el).map((d) => parseDisk(d, redefine));
  return disks.length === 0 ? undefined : disks;
}

function parseDisk(el: XmlElement, redefine: boolean): SnapshotDiskDef {
  const name = attr(el, 'name');
  if (name === undefined) {
    throw errorAt('INTERNAL_ERROR', el, 'missing name from disk snapshot element');
  }
  let snapshot = locationAttr(el);
  const type = diskType(el);
  const deleting = redefine && child(el, 'snapshotDeleteInProgress') !== undefined;
  const sourceEl = child(el, 'source');
  const source = sourceEl === undefined ? undefined : parseDiskSource(sourceEl, type ?? 'file');
  const driverEl = child(el, 'driver');
  const driverType = driverEl === undefined ? undefined : attr(driverEl, 'type') || undefined;
  if (driverType !== undefined && !STORAGE_FORMATS.includes(driverType)) {
    throw errorAt('CONFIG_UNSUPPORTED', driverEl, `unknown disk snapshot driver '${driverType}'`);
  }
  const metadataCacheMaxSize = parseMetadataCache(driverEl);
  const path = diskSourcePath(type ?? 'file', source);
  if (path !== undefined && type !== 'network' && !path.startsWith('/')) {
    throw xmlErrorAt(sourceEl, `disk snapshot image path '${path}' must be absolute`);
  }
  if (snapshot === undefined && (path !== undefined || driverType !== undefined)) snapshot = 'external';
  return compact({
    name,
    snapshot,
    type,
    source: source !== undefined && Object.keys(source).length > 0 ? source : undefined,
    driverType,
    metadataCacheMaxSize,
    snapshotDeleteInProgress: deleting || undefined,
  });
}

function diskType(el: XmlElement): ImageSourceType | undefined {
  const value = attr(el, 'type');
  if (value === undefined) return undefined;
  if (!STORAGE_TYPES.includes(value)) {
    throw xmlErrorAt(el, `Invalid value for attribute 'type' in element '${el.name}': '${value}'.`);
  }
  if (value !== 'file' && value !== 'block' && value !== 'network') {
    throw xmlErrorAt(el, `unsupported disk snapshot type '${value}'`);
  }
  return value;
}

/** `driver/metadata_cache/max_size`: a scaled integer, in bytes. */
function parseMetadataCache(driver: XmlElement | undefined): number | undefined {
  const cache = driver === undefined ? undefined : child(driver, 'metadata_cache');
  const el = cache === undefined ? undefined : child(cache, 'max_size');
  if (el === undefined) return undefined;
  const bytes = parseScaledInteger(textContent(el), attr(el, 'unit'));
  if (typeof bytes === 'string') throw xmlErrorAt(el, bytes);
  return bytes;
}

function formatMemory(memory: SnapshotMemoryDef | undefined): XmlElement | undefined {
  if (memory === undefined || (memory.snapshot === undefined && memory.file === undefined)) return undefined;
  return element('memory', { snapshot: memory.snapshot, file: memory.file });
}

function diskListElement(
  name: string,
  disks: readonly SnapshotDiskDef[] | undefined,
): XmlElement | undefined {
  if (disks === undefined || disks.length === 0) return undefined;
  const children = disks.map(formatDisk);
  return children.some((c) => c !== undefined) ? element(name, {}, children) : undefined;
}

/** libvirt's `virDomainSnapshotDiskDefFormat`. */
function formatDisk(disk: SnapshotDiskDef): XmlElement | undefined {
  if (disk.name === '') return undefined;
  const type = disk.type ?? 'file';
  const withImage = snapshotDiskPath(disk) !== undefined || disk.driverType !== undefined;
  const maxSize = disk.metadataCacheMaxSize ?? 0;
  const cache =
    maxSize > 0 &&
    element('metadata_cache', {}, [textElement('max_size', String(Math.trunc(maxSize)), { unit: 'bytes' })]);
  const driver = element('driver', { type: disk.driverType }, [cache]);
  return element('disk', { name: disk.name, snapshot: disk.snapshot, type: withImage ? type : undefined }, [
    disk.snapshotDeleteInProgress === true && element('snapshotDeleteInProgress'),
    withImage && (Object.keys(driver.attributes).length > 0 || driver.children.length > 0) && driver,
    withImage && formatDiskSource('source', type, disk.source),
  ]);
}
