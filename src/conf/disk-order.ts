import type { DomainDef, DomainDiskDef } from './domain-def.js';

/**
 * libvirt's `virDiskNameToIndex`: the drive index of a target name such as `vda` (0), `hdz`
 * (25) or `sdaa` (26) — prefix `fd`, `hd`, `vd`, `sd`, `xvd` or `ubd`, then lower-case letters
 * read as a bijective base-26 number, then an optional partition number that is ignored.
 * Any other name is -1.
 *
 * @internal
 */
export function diskNameIndex(name: string): number {
  const prefix = DRIVE_PREFIXES.find((p) => name.startsWith(p));
  if (prefix === undefined) return -1;
  const match = /^([a-z]+)([0-9]*)$/.exec(name.slice(prefix.length));
  if (match === null) return -1;
  let index = 0;
  [...(match[1] ?? '')].forEach((letter, i) => {
    index = (index + (i < 1 ? 0 : 1)) * 26 + (letter.charCodeAt(0) - 97);
  });
  return index;
}

/**
 * The bus libvirt's disk post-parse (`virDomainDiskDefPostParse`) gives a disk: the `bus=` of
 * its target, else `fdc` for a floppy, else the bus the target's prefix names (`hd` ide,
 * `sd` scsi, `vd` virtio, `xvd` xen, `ubd` uml), else `ide`.
 *
 * @internal
 */
export function effectiveDiskBus(disk: DomainDiskDef): string {
  if (disk.bus !== undefined) return disk.bus;
  if (disk.device === 'floppy') return 'fdc';
  return BUS_BY_PREFIX.find(([prefix]) => disk.target.startsWith(prefix))?.[1] ?? 'ide';
}

/**
 * The order of a domain's disks in libvirt once the definition has been parsed, in turn, by
 * `virDomainDiskInsert` for every `<disk>` in document order: a disk goes in front of the first
 * disk of its bus whose drive index ({@link diskNameIndex}) is greater, else right after the
 * last disk of its bus, else (first disk of its bus) at the end. The parser compares the
 * `bus=` attribute as written (a disk without one is on no bus yet), since buses are
 * defaulted only afterwards, in post-parse.
 *
 * @internal
 */
export function definedDiskOrder(domain: DomainDef): DomainDiskDef[] {
  return insertionOrder(domain.disks, (d) => d.bus);
}

/**
 * The order of a domain's disks in every snapshot and checkpoint libvirt writes. A moment
 * records a copy of the domain definition, and libvirt copies a definition by formatting and
 * parsing it again: the disks, in their {@link definedDiskOrder}, are inserted once more, now
 * with the buses post-parse gave them ({@link effectiveDiskBus}). A definition whose disks all
 * carry `bus=` gets the same order from both passes.
 *
 * @internal
 */
export function momentDiskOrder(domain: DomainDef): DomainDiskDef[] {
  return insertionOrder(definedDiskOrder(domain), effectiveDiskBus);
}

const DRIVE_PREFIXES = ['fd', 'hd', 'vd', 'sd', 'xvd', 'ubd'] as const;

const BUS_BY_PREFIX: readonly (readonly [string, string])[] = [
  ['hd', 'ide'],
  ['sd', 'scsi'],
  ['vd', 'virtio'],
  ['xvd', 'xen'],
  ['ubd', 'uml'],
];

/** `virDomainDiskInsertPreAlloced` applied to each disk in turn. */
function insertionOrder(
  disks: readonly DomainDiskDef[],
  busOf: (disk: DomainDiskDef) => string | undefined,
): DomainDiskDef[] {
  const out: DomainDiskDef[] = [];
  for (const disk of disks) {
    const bus = busOf(disk);
    const index = diskNameIndex(disk.target);
    let at = -1;
    for (let i = out.length - 1; i >= 0; i--) {
      const other = out[i] as DomainDiskDef;
      if (busOf(other) !== bus) continue;
      if (diskNameIndex(other.target) > index) at = i;
      else if (at === -1) at = i + 1;
    }
    out.splice(at === -1 ? out.length : at, 0, disk);
  }
  return out;
}
