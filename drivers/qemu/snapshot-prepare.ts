import {
  alignSnapshotDisks,
  VirtError,
  type DomainDef,
  type SnapshotCreateOptions,
  type SnapshotDef,
  type SnapshotDiskDef,
} from 'virtkit';
import { diskFormat, hostRegularFileOf } from './domain-config.js';

/**
 * A snapshot definition ready to be taken on a shut-off domain: every field libvirt records
 * filled in, and which kind of snapshot it is.
 *
 * @internal
 */
export interface PreparedSnapshot {
  readonly def: SnapshotDef & { readonly name: string };
  /** `internal`: qemu-img snapshot -c on every internal disk; `external`: new overlays. */
  readonly kind: 'internal' | 'external';
}

/**
 * Completes a parsed `<domainsnapshot>` for a shut-off domain the way libvirt's qemu driver
 * does (`qemuSnapshotCreateAlignDisks` + `qemuSnapshotPrepare`): state `shutoff`, memory `no`,
 * the domain definition embedded, disks aligned (internal default with the uniform-internal
 * rule, or external with `diskOnly`), then the per-disk checks.
 *
 * @throws `CONFIG_UNSUPPORTED` for what libvirt refuses (nothing selected, a disk left out
 * of an internal snapshot, internal on a non-qcow2 disk, an unsupported external format,
 * internal mixed with external, a read-only disk without `reuseExt`), `OPERATION_UNSUPPORTED`
 * for `live`.
 * @internal
 */
export function prepareSnapshot(
  parsed: SnapshotDef & { readonly name: string },
  domain: DomainDef,
  options: SnapshotCreateOptions,
  parent: string | undefined,
): PreparedSnapshot {
  if (options.live === true) {
    throw new VirtError(
      'OPERATION_UNSUPPORTED',
      'live snapshot creation is supported only during full system snapshots',
    );
  }
  const diskOnly = options.diskOnly === true;
  const base: SnapshotDef = {
    ...parsed,
    state: 'shutoff',
    memory: { snapshot: 'no' },
    domain,
    ...(parent === undefined ? {} : { parent }),
  };
  const aligned = alignSnapshotDisks(base, domain, {
    defaultLocation: diskOnly ? 'external' : 'internal',
    uniformInternal: !diskOnly,
    isRegularFile: hostRegularFileOf(domain),
  });
  const disks = (aligned.disks ?? []).map((d) => checkDisk(d, domain, options.reuseExt === true));
  const kind = classify(disks, domain);
  return { def: { ...aligned, name: parsed.name, disks }, kind };
}

function checkDisk(disk: SnapshotDiskDef, domain: DomainDef, reuse: boolean): SnapshotDiskDef {
  const domDisk = domain.disks.find((d) => d.target === disk.name);
  switch (disk.snapshot) {
    case 'internal': {
      const format = domDisk === undefined ? 'raw' : diskFormat(domDisk);
      if (format !== 'qcow2') {
        throw new VirtError(
          'CONFIG_UNSUPPORTED',
          `internal snapshot for disk ${disk.name} unsupported for storage type ${format}`,
        );
      }
      return disk;
    }
    case 'external': {
      const driverType = disk.driverType ?? 'qcow2';
      if (driverType !== 'qcow2') {
        throw new VirtError(
          'CONFIG_UNSUPPORTED',
          `external snapshot format for disk ${disk.name} is unsupported: ${driverType}`,
        );
      }
      if ((disk.type ?? 'file') !== 'file') {
        throw new VirtError(
          'CONFIG_UNSUPPORTED',
          `external inactive snapshots are not supported on '${disk.type}' disks`,
        );
      }
      if (domDisk?.readonly === true && !reuse) {
        throw new VirtError(
          'CONFIG_UNSUPPORTED',
          `external snapshot for readonly disk ${disk.name} is not supported`,
        );
      }
      return { ...disk, type: 'file', driverType };
    }
    case 'manual':
      throw new VirtError(
        'CONFIG_UNSUPPORTED',
        `'manual' snapshot mode of disk ${disk.name} is not supported for shut-off domains`,
      );
    case 'no':
    case undefined:
      return disk;
  }
}

/** libvirt's whole-snapshot rules after the per-disk checks. */
function classify(disks: readonly SnapshotDiskDef[], domain: DomainDef): 'internal' | 'external' {
  const internal = disks.some((d) => d.snapshot === 'internal');
  const external = disks.some((d) => d.snapshot === 'external');
  const excluded = disks.some((d) => {
    const domDisk = domain.disks.find((x) => x.target === d.name);
    return d.snapshot === 'no' && domDisk?.source !== undefined && !domDisk.readonly;
  });
  if (!internal && !external) throw new VirtError('CONFIG_UNSUPPORTED', 'nothing selected for snapshot');
  if (internal && excluded) {
    throw new VirtError(
      'CONFIG_UNSUPPORTED',
      'internal and full system snapshots require all disks to be selected for snapshot',
    );
  }
  if (internal && external) {
    throw new VirtError(
      'CONFIG_UNSUPPORTED',
      'mixing internal and external targets for a snapshot is not yet supported',
    );
  }
  return internal ? 'internal' : 'external';
}
