import {
  alignSnapshotDisks,
  assertOptions,
  KNOWN_OPTIONS,
  isExternalSnapshot,
  parseSnapshotXml,
  validateSnapshotRedefinition,
  VirtError,
  type DomainIdentity,
  type SnapshotCreateOptions,
  type SnapshotDef,
  type SnapshotLocation,
  type SnapshotState,
} from 'virtkit';
import { abortJobForStop } from './backup-job.js';
import { reportDone } from './progress.js';
import { isActive, type TestDomain, type TestWorld } from './state.js';

/**
 * `virDomainSnapshotCreateXML` of the test driver (semantics §c.1): takes a snapshot of the
 * domain's current state, or with `redefine` restores snapshot metadata (§b.7). `diskOnly`,
 * `reuseExt` and `noMetadata` are simulated; `quiesce`, `atomic` and `live` have nothing to do.
 *
 * @returns The snapshot's name.
 * @throws `OPERATION_FAILED` "domain moment X already exists", `XML_ERROR`,
 * `OPERATION_INVALID` "cannot halt after transient domain snapshot", `OPERATION_UNSUPPORTED`
 * for `manual` disks, `CONFIG_UNSUPPORTED` from disk alignment, `INVALID_ARG` from redefine
 * checks, `INTERNAL_ERROR` "missing domain in snapshot".
 * @internal
 */
export function createSnapshot(
  world: TestWorld,
  domain: DomainIdentity,
  xml: string,
  options: SnapshotCreateOptions,
): string {
  assertOptions(options, KNOWN_OPTIONS.createSnapshot, 'createSnapshot');
  const dom = world.require(domain);
  if (!dom.persistent && options.halt === true) {
    throw new VirtError('OPERATION_INVALID', 'cannot halt after transient domain snapshot');
  }
  const name =
    options.redefine === true ? redefine(dom, xml, options) : takeSnapshot(world, dom, xml, options);
  reportDone(options, 'create snapshot');
  return name;
}

function takeSnapshot(
  world: TestWorld,
  dom: TestDomain,
  xml: string,
  options: SnapshotCreateOptions,
): string {
  const now = world.nowSeconds();
  const parsed = parseSnapshotXml(xml, { validate: options.validate === true, now });
  const name = parsed.name ?? String(now);
  if (dom.snapshots.has(name)) {
    throw new VirtError('OPERATION_FAILED', `domain moment ${name} already exists`);
  }
  const def = alignNewSnapshot(dom, { ...parsed, name, creationTime: now, domain: dom.def }, options);
  if (options.noMetadata !== true) {
    dom.snapshots.add({ ...def, name, ...parentOf(dom) });
    dom.snapshots.setCurrent(name);
  }
  if (options.halt === true && isActive(dom)) {
    abortJobForStop(world, dom);
    world.shutoffState(dom, 'FROM_SNAPSHOT');
    world.emit(dom, 'STOPPED', 'FROM_SNAPSHOT');
  }
  return name;
}

/** libvirt's `testDomainSnapshotAlignDisks`: state, memory and the default disk location. */
function alignNewSnapshot(dom: TestDomain, def: SnapshotDef, options: SnapshotCreateOptions): SnapshotDef {
  if ((def.disks ?? []).some((d) => d.snapshot === 'manual')) {
    throw new VirtError(
      'OPERATION_UNSUPPORTED',
      "'manual' snapshot mode is not supported by the test driver",
    );
  }
  const domainState = snapshotState(dom);
  let out: SnapshotDef;
  let defaultLocation: SnapshotLocation = 'internal';
  if (options.diskOnly === true) {
    defaultLocation = 'external';
    out = { ...def, state: isActive(dom) ? 'disk-snapshot' : 'shutoff', memory: { snapshot: 'no' } };
  } else if (def.memory?.snapshot === 'external') {
    defaultLocation = 'external';
    out = { ...def, state: domainState };
  } else {
    out = { ...def, state: domainState, memory: { snapshot: domainState === 'shutoff' ? 'no' : 'internal' } };
  }
  return alignSnapshotDisks(out, dom.def, { defaultLocation, uniformInternal: true });
}

function snapshotState(dom: TestDomain): SnapshotState | undefined {
  return dom.state === 'nostate' ? undefined : dom.state;
}

function parentOf(dom: TestDomain): { parent?: string } {
  const current = dom.snapshots.current;
  return current === undefined ? {} : { parent: current };
}

/** libvirt's `virDomainSnapshotRedefinePrep` + replace-or-add (semantics §b.7). */
function redefine(dom: TestDomain, xml: string, options: SnapshotCreateOptions): string {
  const parsed = parseSnapshotXml(xml, { redefine: true, validate: options.validate === true });
  const name = parsed.name ?? '';
  dom.snapshots.checkRedefine(name, parsed.parent);
  const other = dom.snapshots.get(name);
  let def: SnapshotDef = validateSnapshotRedefinition({ ...parsed, name }, other, {
    domainUuid: dom.def.uuid,
    diskOnly: options.diskOnly === true,
  });
  if (def.domain === undefined) throw new VirtError('INTERNAL_ERROR', 'missing domain in snapshot');
  const external = def.state === 'disk-snapshot' || isExternalSnapshot(def);
  def = alignSnapshotDisks(def, def.domain, {
    defaultLocation: external ? 'external' : 'internal',
    uniformInternal: true,
  });
  if (other === undefined) dom.snapshots.add({ ...def, name });
  else dom.snapshots.replace({ ...def, name });
  if (options.current === true) dom.snapshots.setCurrent(name);
  return name;
}
