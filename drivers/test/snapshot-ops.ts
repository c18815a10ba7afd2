import {
  assertOptions,
  KNOWN_OPTIONS,
  formatSnapshotXml,
  listSnapshots,
  momentRemoveMode,
  VirtError,
  type DomainIdentity,
  type SnapshotOps,
} from 'virtkit';
import { reportDone } from './progress.js';
import { createSnapshot } from './snapshot-create.js';
import { revertSnapshot } from './snapshot-revert.js';
import type { TestWorld } from './state.js';

/**
 * The test driver's {@link SnapshotOps}: one {@link MomentList} per domain, libvirt's tree rules.
 *
 * @internal
 */
export function testSnapshotOps(world: TestWorld): SnapshotOps {
  const list = (domain: DomainIdentity) => world.require(domain).snapshots;
  return {
    create: async (domain, xml, options) => createSnapshot(world, domain, xml, options),
    list: async (domain, options) => listSnapshots(list(domain), null, options),
    listChildren: async (domain, name, options) => listSnapshots(list(domain), name, options),
    lookup: async (domain, name) => {
      list(domain).require(name);
    },
    getXml: async (domain, name, options) => {
      assertOptions(options, KNOWN_OPTIONS.snapshotGetXml, 'snapshot.getXml');
      const def = list(domain).require(name);
      return formatSnapshotXml(def, { secure: options.secure === true, domainUuid: domain.uuid });
    },
    getParent: async (domain, name) => {
      const parent = list(domain).parentOf(name);
      if (parent === undefined) {
        throw new VirtError('NO_DOMAIN_SNAPSHOT', `snapshot '${name}' does not have a parent`);
      }
      return parent;
    },
    current: async (domain) => {
      const current = list(domain).current;
      if (current === undefined) {
        throw new VirtError('NO_DOMAIN_SNAPSHOT', 'the domain does not have a current snapshot');
      }
      return current;
    },
    hasCurrent: async (domain) => list(domain).current !== undefined,
    isCurrent: async (domain, name) => {
      const snapshots = list(domain);
      snapshots.require(name);
      return snapshots.current === name;
    },
    hasMetadata: async (domain, name) => {
      list(domain).require(name);
      return true;
    },
    revert: async (domain, name, options) => revertSnapshot(world, domain, name, options),
    delete: async (domain, name, options) => {
      assertOptions(options, KNOWN_OPTIONS.deleteSnapshot, 'snapshot.delete');
      list(domain).remove(name, momentRemoveMode(options));
      reportDone(options, 'delete snapshot');
    },
  };
}
