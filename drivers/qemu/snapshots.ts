import {
  assertExclusive,
  assertOptions,
  assertRequires,
  formatSnapshotXml,
  KNOWN_OPTIONS,
  listSnapshots,
  VirtError,
  type SnapshotOps,
} from 'virtkit';
import type { DomainAccess, QemuContext } from './access.js';
import { createSnapshot } from './snapshot-create.js';
import { deleteSnapshot } from './snapshot-delete.js';
import { revertSnapshot } from './snapshot-revert.js';

/**
 * The qemu driver's snapshot operations. Reads come from the loaded metadata; create,
 * revert and delete are journaled (see `docs/qemu-driver.md`).
 *
 * @internal
 */
export function createSnapshotOps(ctx: QemuContext, access: DomainAccess): SnapshotOps {
  return {
    async create(domain, xml, options) {
      assertOptions(options, KNOWN_OPTIONS.createSnapshot, 'createSnapshot');
      assertRequires(options, 'quiesce', 'diskOnly');
      assertExclusive(options, 'live', 'redefine');
      return createSnapshot(ctx, access, domain, xml, options);
    },

    async list(domain, options) {
      assertOptions(options, KNOWN_OPTIONS.listSnapshots, 'listSnapshots');
      return access.read(domain, (s) => listSnapshots(s.snapshots, null, options));
    },

    async listChildren(domain, name, options) {
      assertOptions(options, KNOWN_OPTIONS.snapshotListChildren, 'snapshot.listChildren');
      return access.read(domain, (s) => listSnapshots(s.snapshots, name, options));
    },

    async lookup(domain, name) {
      await access.read(domain, (s) => s.snapshots.require(name));
    },

    async getXml(domain, name, options) {
      assertOptions(options, KNOWN_OPTIONS.snapshotGetXml, 'snapshot.getXml');
      return access.read(domain, (s) =>
        formatSnapshotXml(s.snapshots.require(name), {
          secure: options.secure === true,
          domainUuid: s.def.uuid,
        }),
      );
    },

    async getParent(domain, name) {
      return access.read(domain, (s) => {
        const parent = s.snapshots.parentOf(name);
        if (parent === undefined) {
          throw new VirtError('NO_DOMAIN_SNAPSHOT', `snapshot '${name}' does not have a parent`);
        }
        return parent;
      });
    },

    async current(domain) {
      return access.read(domain, (s) => {
        const current = s.snapshots.current;
        if (current === undefined) {
          throw new VirtError('NO_DOMAIN_SNAPSHOT', 'the domain does not have a current snapshot');
        }
        return current;
      });
    },

    async hasCurrent(domain) {
      return access.read(domain, (s) => s.snapshots.current !== undefined);
    },

    async isCurrent(domain, name) {
      return access.read(domain, (s) => {
        s.snapshots.require(name);
        return s.snapshots.current === name;
      });
    },

    async hasMetadata(domain, name) {
      return access.read(domain, (s) => {
        s.snapshots.require(name);
        return true;
      });
    },

    async revert(domain, name, options) {
      return revertSnapshot(ctx, access, domain, name, options);
    },

    async delete(domain, name, options) {
      return deleteSnapshot(ctx, access, domain, name, options);
    },
  };
}
