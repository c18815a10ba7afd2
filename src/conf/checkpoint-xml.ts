import { VirtError } from '../errors.js';
import type { CheckpointDef, CheckpointDiskDef } from './checkpoint-def.js';
import { compact } from './compact.js';
import { momentDiskOrder } from './disk-order.js';
import type { DomainDef } from './domain-def.js';
import { domainDefFromElement, domainElementForOutput, findDiskByName, isDiskEmpty } from './domain-xml.js';
import { CHECKPOINT_SCHEMA } from './moment-schemas.js';
import { parseMomentBase } from './moment-xml.js';
import { attr, child, childElements, expectRoot, parseXml } from './xml/reader.js';
import { validateSchema } from './xml/schema.js';
import type { XmlElement } from './xml/tree.js';
import { element, formatXml, textElement } from './xml/writer.js';

/**
 * Options of {@link parseCheckpointXml}.
 *
 * @public
 */
export interface CheckpointParseOptions {
  /** Parse a dumped checkpoint being redefined: name and creation time are required (`VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE`). */
  readonly redefine?: boolean;
  /** Current time in seconds for a new checkpoint: its creation time and, when unnamed, its name. */
  readonly now?: number;
}

/**
 * Options of {@link formatCheckpointXml} (`virDomainCheckpointXMLFlags`).
 *
 * @public
 */
export interface CheckpointFormatOptions {
  /** Keep secrets in the embedded `<domain>` (`VIR_DOMAIN_CHECKPOINT_XML_SECURE`). */
  readonly secure?: boolean;
  /** Leave out the embedded `<domain>` (`VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN`). */
  readonly noDomain?: boolean;
  /** Print each bitmap disk's dirty `size=` (`VIR_DOMAIN_CHECKPOINT_XML_SIZE`). */
  readonly size?: boolean;
  /** Accepted for symmetry with {@link SnapshotFormatOptions}; checkpoints have no uuid-only `<domain>`. */
  readonly domainUuid?: string;
}

/**
 * Parses a `<domaincheckpoint>` document as libvirt does, always validating it against the
 * structure of `domaincheckpoint.rng` first (checkpoint names are restricted to
 * `[A-Za-z0-9_-][A-Za-z0-9_.-]*`, every disk needs a name, …). A disk without `checkpoint=`
 * gets `bitmap`, as libvirt's parser sets it.
 *
 * With `redefine`, name and creation time are required and `<parent>` and `<domain>` are read;
 * otherwise a non-zero `now` (seconds) becomes the creation time and, when missing, the name.
 *
 * @throws `XML_ERROR` for malformed XML, a wrong root or a redefinition without name;
 * `XML_INVALID_SCHEMA` when the document breaks the schema; `INTERNAL_ERROR` for a
 * redefinition without creation time.
 * @public
 */
export function parseCheckpointXml(
  xml: string | Uint8Array,
  options: CheckpointParseOptions = {},
): CheckpointDef {
  const root = parseXml(xml);
  expectRoot(root, 'domaincheckpoint');
  validateSchema(root, CHECKPOINT_SCHEMA, 'domaincheckpoint.rng');
  const redefine = options.redefine === true;
  const base = parseMomentBase(root, 'checkpoint', redefine, options.now);
  const domainEl = redefine ? child(root, 'domain') : undefined;
  const disksEl = child(root, 'disks');
  const disks = disksEl === undefined ? [] : childElements(disksEl).map(parseDisk);
  return compact({
    ...base,
    disks: disks.length > 0 ? disks : undefined,
    domain: domainEl === undefined ? undefined : domainDefFromElement(domainEl),
  });
}

/**
 * Formats a checkpoint as libvirt's `virDomainCheckpointDefFormat` does. `size` prints the
 * per-disk `size=` of bitmap disks that have one; `noDomain` leaves out `<domain>`.
 * `domainUuid` is accepted for symmetry with snapshots and ignored: libvirt's checkpoint XML
 * has no uuid-only `<domain>` form.
 *
 * @public
 */
export function formatCheckpointXml(def: CheckpointDef, options: CheckpointFormatOptions = {}): string {
  const ct = def.creationTime;
  const disks = (def.disks ?? []).map((d) => formatDisk(d, options.size === true));
  return formatXml(
    element('domaincheckpoint', {}, [
      present(def.name) && textElement('name', def.name),
      present(def.description) && textElement('description', def.description),
      present(def.parent) && element('parent', {}, [textElement('name', def.parent)]),
      ct !== undefined && ct !== 0 && textElement('creationTime', ct),
      disks.length > 0 && element('disks', {}, disks),
      def.domain !== undefined &&
        options.noDomain !== true &&
        domainElementForOutput(def.domain, 'domain', options.secure === true),
    ]),
  );
}

/**
 * Aligns the disks of a checkpoint with a domain, as libvirt's `virDomainCheckpointAlignDisks`:
 * one entry per domain disk in libvirt's order of the domain's disks (see `momentDiskOrder`),
 * named by target. When the checkpoint lists no
 * disks every writable, non-empty disk gets a bitmap; when it lists some, the others get `no`.
 * Empty and read-only disks never get a bitmap. Bitmap names default to the checkpoint name.
 * The result does not carry `domain`; set it when the checkpoint should record it.
 *
 * @throws `CONFIG_UNSUPPORTED` for too many entries, a domain without disks, an unknown or
 * repeated disk, or a bitmap requested on an empty or read-only disk.
 * @public
 */
export function alignCheckpointDisks(def: CheckpointDef, domain: DomainDef): CheckpointDef {
  const requested = def.disks ?? [];
  if (requested.length > domain.disks.length) {
    throw new VirtError('CONFIG_UNSUPPORTED', 'too many disk checkpoint requests for domain');
  }
  if (domain.disks.length === 0) {
    throw new VirtError('CONFIG_UNSUPPORTED', 'domain must have at least one disk to perform checkpoints');
  }
  const fallback = requested.length === 0 ? 'bitmap' : 'no';
  const byTarget = new Map<string, CheckpointDiskDef>();
  for (const disk of requested) {
    const domDisk = findDiskByName(domain, disk.name);
    if (domDisk === undefined) throw new VirtError('CONFIG_UNSUPPORTED', `no disk named '${disk.name}'`);
    if (byTarget.has(domDisk.target)) {
      throw new VirtError('CONFIG_UNSUPPORTED', `disk '${disk.name}' specified twice`);
    }
    const checkpoint = disk.checkpoint ?? 'bitmap';
    if ((isDiskEmpty(domDisk) || domDisk.readonly) && checkpoint !== 'no') {
      throw new VirtError('CONFIG_UNSUPPORTED', `disk '${disk.name}' is empty or readonly`);
    }
    byTarget.set(domDisk.target, { ...disk, name: domDisk.target, checkpoint });
  }
  const disks = momentDiskOrder(domain).map(
    (d): CheckpointDiskDef =>
      byTarget.get(d.target) ?? {
        name: d.target,
        checkpoint: isDiskEmpty(d) || d.readonly ? 'no' : fallback,
      },
  );
  return defaultCheckpointBitmapNames({ ...def, disks });
}

/**
 * Gives every `bitmap` disk without a bitmap name the checkpoint's name (what libvirt does when
 * a checkpoint is redefined without `<domain>`).
 *
 * @public
 */
export function defaultCheckpointBitmapNames(def: CheckpointDef): CheckpointDef {
  if (def.disks === undefined || def.name === undefined) return def;
  const name = def.name;
  const disks = def.disks.map((d) =>
    (d.checkpoint ?? 'bitmap') === 'bitmap' && d.bitmap === undefined ? { ...d, bitmap: name } : d,
  );
  return { ...def, disks };
}

function present(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}

function parseDisk(el: XmlElement): CheckpointDiskDef {
  const checkpoint = attr(el, 'checkpoint') === 'no' ? 'no' : 'bitmap';
  return compact({ name: attr(el, 'name') ?? '', checkpoint, bitmap: attr(el, 'bitmap') });
}

/** libvirt's `virDomainCheckpointDiskDefFormat`. */
function formatDisk(disk: CheckpointDiskDef, withSize: boolean): XmlElement | undefined {
  if (disk.name === '') return undefined;
  const size =
    withSize && disk.bitmap !== undefined && disk.size !== undefined ? BigInt(disk.size) : undefined;
  return element('disk', {
    name: disk.name,
    checkpoint: disk.checkpoint,
    bitmap: disk.bitmap,
    size: size === undefined ? undefined : String(size),
  });
}
