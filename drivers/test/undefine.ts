import { assertOptions, VirtError, type DomainIdentity, type DomainUndefineOptions } from 'virtkit';
import { isActive, persistentDef, type TestWorld } from './state.js';

/**
 * `virDomainUndefineFlags` with libvirt's metadata rules (semantics §c.6, §f): an inactive
 * domain with snapshots (checkpoints) needs `snapshotsMetadata` (`checkpointsMetadata`) and is
 * then removed with them; an active domain only becomes transient and keeps its metadata
 * until it stops.
 *
 * @throws `OPERATION_INVALID` "cannot undefine transient domain", "cannot delete inactive
 * domain with N snapshots" / "… N checkpoints", "refusing to undefine while domain managed save
 * image exists".
 * @internal
 */
export function undefineDomain(
  world: TestWorld,
  domain: DomainIdentity,
  options: DomainUndefineOptions,
): void {
  assertOptions(options, ['managedSave', 'snapshotsMetadata', 'checkpointsMetadata'], 'undefine');
  const dom = world.require(domain);
  if (!dom.persistent) throw new VirtError('OPERATION_INVALID', 'cannot undefine transient domain');
  if (dom.hasManagedSave && options.managedSave !== true) {
    throw new VirtError('OPERATION_INVALID', 'refusing to undefine while domain managed save image exists');
  }
  if (!isActive(dom)) {
    assertMetadataMayGo(dom.snapshots.size, options.snapshotsMetadata, 'snapshots');
    assertMetadataMayGo(dom.checkpoints.size, options.checkpointsMetadata, 'checkpoints');
  }
  world.emit(dom, 'UNDEFINED', 'REMOVED');
  dom.hasManagedSave = false;
  if (isActive(dom)) {
    dom.newDef = persistentDef(dom);
    dom.persistent = false;
  } else {
    world.remove(dom);
  }
}

function assertMetadataMayGo(count: number, allowed: boolean | undefined, what: string): void {
  if (count > 0 && allowed !== true) {
    throw new VirtError('OPERATION_INVALID', `cannot delete inactive domain with ${count} ${what}`);
  }
}
