import { assertOptions, VirtError, type DomainIdentity, type SnapshotRevertOptions } from 'virtkit';
import { abortJobForStop } from './backup-job.js';
import { reportDone } from './progress.js';
import { isActive, type TestDomain, type TestWorld } from './state.js';

/**
 * `virDomainRevertToSnapshot` of the test driver (semantics §c.2): the domain takes the
 * snapshot's definition; a running or paused snapshot always restarts the guest (STOPPED then
 * STARTED, then SUSPENDED when it ends paused, all `FROM_SNAPSHOT`); the snapshot becomes
 * current. Unlike libvirt's test driver, `running` / `paused` on an inactive snapshot really
 * start the domain (docs/libvirt-differences.md, D7-revert-starts-domain).
 *
 * @throws `NO_DOMAIN_SNAPSHOT`, `OPERATION_INVALID` "transient domain needs to request run or
 * pause to revert to inactive snapshot", `SNAPSHOT_REVERT_RISKY` "snapshot 'X' lacks domain
 * 'D' rollback info".
 * @internal
 */
export function revertSnapshot(
  world: TestWorld,
  domain: DomainIdentity,
  name: string,
  options: SnapshotRevertOptions,
): void {
  assertOptions(options, ['running', 'paused', 'force', 'signal', 'onProgress'], 'snapshot.revert');
  const dom = world.require(domain);
  const snap = dom.snapshots.require(name);
  const online = snap.state === 'running' || snap.state === 'paused';
  const run = options.running === true || options.paused === true;
  if (!dom.persistent && !online && !run) {
    throw new VirtError(
      'OPERATION_INVALID',
      'transient domain needs to request run or pause to revert to inactive snapshot',
    );
  }
  if (snap.domain === undefined) {
    throw new VirtError(
      'SNAPSHOT_REVERT_RISKY',
      `snapshot '${name}' lacks domain '${dom.def.name}' rollback info`,
    );
  }
  if (isActive(dom)) stopForRevert(world, dom);
  dom.def = snap.domain;
  dom.newDef = undefined;
  if (online || run) {
    const paused = options.running !== true && (snap.state === 'paused' || options.paused === true);
    startFromSnapshot(world, dom, paused);
  }
  dom.snapshots.setCurrent(name);
  reportDone(options, 'revert snapshot');
}

function stopForRevert(world: TestWorld, dom: TestDomain): void {
  abortJobForStop(world, dom);
  world.shutoffState(dom, 'FROM_SNAPSHOT');
  world.emit(dom, 'STOPPED', 'FROM_SNAPSHOT');
}

function startFromSnapshot(world: TestWorld, dom: TestDomain, paused: boolean): void {
  world.startState(dom, 'FROM_SNAPSHOT');
  world.emit(dom, 'STARTED', 'FROM_SNAPSHOT');
  if (!paused) return;
  dom.state = 'paused';
  dom.reason = 'FROM_SNAPSHOT';
  world.emit(dom, 'SUSPENDED', 'FROM_SNAPSHOT');
}
