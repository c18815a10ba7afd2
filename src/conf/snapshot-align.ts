import { VirtError } from '../errors.js';
import type { DomainDef, DomainDiskDef, SnapshotLocation } from './domain-def.js';
import { findDiskByName, isDiskEmpty } from './domain-xml.js';
import type { SnapshotDef, SnapshotDiskDef } from './snapshot-def.js';
import { diskSourcePath } from './disk-source-xml.js';
import { momentDiskOrder } from './disk-order.js';

/**
 * Aligns the disks of a snapshot with a domain, as libvirt's `virDomainSnapshotAlignDisks`:
 * every domain disk gets exactly one entry, in libvirt's order of the domain's disks (grouped
 * by bus, by drive index within a bus: see `momentDiskOrder`) and named by its target; missing
 * locations come from the domain disk's `snapshot=` attribute or `defaultLocation`; empty
 * drives are not snapshotted; external disks without a file get
 * {@link defaultExternalSnapshotPath}.
 *
 * With `uniformInternal` and an internal default, every listed disk must be internal (or `no`
 * where the domain disk says `no` too), for hypervisors that snapshot all disks at once.
 *
 * Before generating a name libvirt `stat`s the domain disk's source and refuses anything but a
 * regular file. Drivers with real files pass `isRegularFile` to do that check; without it (the
 * in-memory test driver, which never touches the host) a domain disk of type `file` counts as
 * a regular file.
 *
 * @throws `CONFIG_UNSUPPORTED` for too many entries, an unknown or repeated disk, a mode the
 * uniform-internal rule forbids, a file given for a non-external disk, or a file name that
 * cannot be generated or collides.
 * @public
 */
export function alignSnapshotDisks(
  def: SnapshotDef,
  domain: DomainDef,
  options: {
    readonly defaultLocation: SnapshotLocation;
    readonly uniformInternal: boolean;
    /** Tells whether a domain disk's source is a regular file on the host (libvirt's `stat`). */
    readonly isRegularFile?: (path: string) => boolean;
  },
): SnapshotDef {
  const requested = def.disks ?? [];
  if (requested.length > domain.disks.length) {
    throw new VirtError('CONFIG_UNSUPPORTED', 'too many disk snapshot requests for domain');
  }
  if (domain.disks.length === 0) return def;
  const requireMatch = options.uniformInternal && options.defaultLocation === 'internal';
  const byTarget = new Map<string, SnapshotDiskDef>();
  for (const disk of requested) {
    const domDisk = findDiskByName(domain, disk.name);
    if (domDisk === undefined) throw new VirtError('CONFIG_UNSUPPORTED', `no disk named '${disk.name}'`);
    if (byTarget.has(domDisk.target)) {
      throw new VirtError('CONFIG_UNSUPPORTED', `disk '${disk.name}' specified twice`);
    }
    const snapshot = resolveLocation(disk, domDisk.snapshot, options.defaultLocation, requireMatch);
    const path = snapshotDiskPath(disk);
    if (path !== undefined && snapshot !== 'external') {
      throw new VirtError(
        'CONFIG_UNSUPPORTED',
        `file '${path}' for disk '${disk.name}' requires use of external snapshot mode`,
      );
    }
    byTarget.set(domDisk.target, { ...disk, name: domDisk.target, snapshot });
  }
  const domainDisks = momentDiskOrder(domain);
  const disks = domainDisks.map(
    (d): SnapshotDiskDef =>
      byTarget.get(d.target) ?? {
        name: d.target,
        snapshot: isDiskEmpty(d) ? 'no' : (d.snapshot ?? options.defaultLocation),
      },
  );
  const isRegularFile =
    options.isRegularFile ?? ((_path: string, disk: DomainDiskDef) => disk.type === 'file');
  return { ...def, disks: assignExternalNames(disks, domainDisks, def.name, isRegularFile) };
}

/**
 * The default file of an external snapshot: the domain image path without its extension,
 * then `.` and the snapshot name (`/img/vda.qcow2` → `/img/vda.snap1`).
 *
 * @public
 */
export function defaultExternalSnapshotPath(path: string, snapshotName: string): string {
  const dot = path.lastIndexOf('.');
  const base = dot >= 0 && !path.slice(dot).includes('/') ? path.slice(0, dot) : path;
  return `${base}.${snapshotName}`;
}

function resolveLocation(
  disk: SnapshotDiskDef,
  domainLocation: SnapshotLocation | undefined,
  defaultLocation: SnapshotLocation,
  requireMatch: boolean,
): SnapshotLocation {
  if (disk.snapshot === undefined) {
    return domainLocation !== undefined && (!requireMatch || domainLocation === 'no')
      ? domainLocation
      : defaultLocation;
  }
  if (
    requireMatch &&
    disk.snapshot !== defaultLocation &&
    !(disk.snapshot === 'no' && domainLocation === 'no')
  ) {
    throw new VirtError(
      'CONFIG_UNSUPPORTED',
      `disk '${disk.name}' must use snapshot mode '${defaultLocation}'`,
    );
  }
  return disk.snapshot;
}

function assignExternalNames(
  disks: readonly SnapshotDiskDef[],
  domainDisks: readonly DomainDiskDef[],
  snapshotName: string | undefined,
  isRegularFile: RegularFileCheck,
): SnapshotDiskDef[] {
  const out: SnapshotDiskDef[] = [];
  disks.forEach((disk, i) => {
    if (disk.snapshot !== 'external' || snapshotDiskPath(disk) !== undefined) {
      out.push(disk);
      return;
    }
    const path = generatedPath(disk, domainDisks[i], snapshotName, isRegularFile);
    const clash = out.find((d) => snapshotDiskPath(d) === path);
    if (clash !== undefined) {
      throw new VirtError(
        'CONFIG_UNSUPPORTED',
        `cannot generate external snapshot name for disk '${disk.name}': collision with disk '${clash.name}'`,
      );
    }
    out.push({ ...disk, source: { ...disk.source, file: path } });
  });
  return out;
}

function generatedPath(
  disk: SnapshotDiskDef,
  domDisk: DomainDiskDef | undefined,
  name: string | undefined,
  isRegularFile: RegularFileCheck,
): string {
  const type = disk.type ?? 'file';
  const prefix = `cannot generate external snapshot name for disk '${disk.name}'`;
  if (type !== 'file') throw new VirtError('CONFIG_UNSUPPORTED', `${prefix} on a '${type}' device`);
  if (domDisk?.source === undefined) throw new VirtError('CONFIG_UNSUPPORTED', `${prefix} without source`);
  if (!isRegularFile(domDisk.source, domDisk)) {
    throw new VirtError(
      'CONFIG_UNSUPPORTED',
      `source for disk '${disk.name}' is not a regular file; refusing to generate external snapshot name`,
    );
  }
  if (name === undefined || name === '') throw new VirtError('INTERNAL_ERROR', 'snapshot has no name');
  return defaultExternalSnapshotPath(domDisk.source, name);
}

type RegularFileCheck = (path: string, disk: DomainDiskDef) => boolean;

/** Where the new image of a snapshot disk lives (`file`, `dev` or network name). @internal */
export function snapshotDiskPath(disk: SnapshotDiskDef): string | undefined {
  return diskSourcePath(disk.type ?? 'file', disk.source);
}
