import { assertOptions, formatCheckpointXml, KNOWN_OPTIONS, VirtError, type CheckpointOps } from 'virtkit';
import type { DomainAccess, QemuContext } from './access.js';
import { createCheckpoint } from './checkpoint-create.js';
import { deleteCheckpoint } from './checkpoint-delete.js';

/**
 * The qemu driver's checkpoint operations: persistent qcow2 dirty bitmaps named after the
 * checkpoint, managed with `qemu-img bitmap` while the domain is shut off (beyond libvirt,
 * which refuses checkpoints of inactive domains).
 *
 * @internal
 */
export function createCheckpointOps(ctx: QemuContext, access: DomainAccess): CheckpointOps {
  return {
    async create(domain, xml, options) {
      return createCheckpoint(ctx, access, domain, xml, options);
    },

    async list(domain, options) {
      assertOptions(options, KNOWN_OPTIONS.listCheckpoints, 'listCheckpoints');
      return access.read(domain, (s) => s.checkpoints.list(null, options));
    },

    async listChildren(domain, name, options) {
      assertOptions(options, KNOWN_OPTIONS.checkpointListChildren, 'checkpoint.listChildren');
      return access.read(domain, (s) => s.checkpoints.list(name, options));
    },

    async lookup(domain, name) {
      await access.read(domain, (s) => s.checkpoints.require(name));
    },

    async getXml(domain, name, options) {
      assertOptions(options, KNOWN_OPTIONS.checkpointGetXml, 'checkpoint.getXml');
      return access.read(domain, (s) => {
        const def = s.checkpoints.require(name);
        if (options.size === true) throw new VirtError('OPERATION_INVALID', 'domain is not running');
        return formatCheckpointXml(def, {
          secure: options.secure === true,
          noDomain: options.noDomain === true,
        });
      });
    },

    async getParent(domain, name) {
      return access.read(domain, (s) => {
        const parent = s.checkpoints.parentOf(name);
        if (parent === undefined) {
          throw new VirtError('NO_DOMAIN_CHECKPOINT', `checkpoint '${name}' does not have a parent`);
        }
        return parent;
      });
    },

    async delete(domain, name, options) {
      return deleteCheckpoint(ctx, access, domain, name, options);
    },
  };
}
