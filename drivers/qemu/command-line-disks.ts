import type { QemuDiskDef } from './domain-model.js';

/**
 * The `-blockdev` node names of a disk as the process starts, keyed by its target so they
 * are stable across restarts and snapshots: `vk-<target>-storage` (the `file` node) and
 * `vk-<target>-format` (the qcow2/raw node the device uses). Live snapshot code adds its own
 * nodes for overlays and must not reuse these two names for other images. Backing files are
 * opened by QEMU from the image header (auto-named nodes).
 *
 * @internal
 */
export function diskNodeNames(target: string): { storage: string; format: string } {
  return { storage: `vk-${target}-storage`, format: `vk-${target}-format` };
}

/**
 * The `-device` of a disk; its id is the target (`vda`), so the guest-side BlockBackend is
 * `/machine/peripheral/<target>/…`.
 *
 * @internal
 */
export function diskDevice(disk: QemuDiskDef, family: 'q35' | 'pc'): Record<string, string | number> {
  const cd = disk.device === 'cdrom';
  const common: Record<string, string | number> = { id: disk.target };
  if (disk.source !== undefined) common['drive'] = diskNodeNames(disk.target).format;
  if (disk.serial !== undefined) common['serial'] = disk.serial;
  if (disk.bootIndex !== undefined) common['bootindex'] = disk.bootIndex;
  switch (disk.bus) {
    case 'virtio':
      return { driver: 'virtio-blk-pci', ...common };
    case 'sata':
      // q35's built-in AHCI is "ide" (one bus per port); pc gets an "ahci" device as sata0.
      return {
        driver: cd ? 'ide-cd' : 'ide-hd',
        bus: `${family === 'q35' ? 'ide' : 'sata0'}.${disk.unit}`,
        ...common,
      };
    case 'scsi':
      return {
        driver: cd ? 'scsi-cd' : 'scsi-hd',
        bus: 'scsi0.0',
        channel: 0,
        'scsi-id': disk.unit,
        lun: 0,
        ...common,
      };
  }
}
