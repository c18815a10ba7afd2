import {
  alignCheckpointDisks,
  assertOptions,
  KNOWN_OPTIONS,
  defaultCheckpointBitmapNames,
  formatCheckpointXml,
  momentRemoveMode,
  parseCheckpointXml,
  redefineMakesCurrent,
  VirtError,
  type CheckpointCreateOptions,
  type CheckpointDef,
  type CheckpointOps,
  type CheckpointXmlOptions,
  type DomainIdentity,
} from 'virtkit';
import { SIMULATED_DIRTY_BYTES } from './backup-job.js';
import { reportDone } from './progress.js';
import { isActive, type TestDomain, type TestWorld } from './state.js';

/**
 * The test driver's {@link CheckpointOps} (semantics §c.5), with snapshots allowed alongside.
 *
 * @internal
 */
export function testCheckpointOps(world: TestWorld): CheckpointOps {
  const list = (domain: DomainIdentity) => world.require(domain).checkpoints;
  return {
    create: async (domain, xml, options) => createCheckpoint(world, domain, xml, options),
    list: async (domain, options) => list(domain).list(null, options),
    listChildren: async (domain, name, options) => list(domain).list(name, options),
    lookup: async (domain, name) => {
      list(domain).require(name);
    },
    getXml: async (domain, name, options) => checkpointXml(world.require(domain), name, options),
    getParent: async (domain, name) => {
      const parent = list(domain).parentOf(name);
      if (parent === undefined) {
        throw new VirtError('NO_DOMAIN_CHECKPOINT', `checkpoint '${name}' does not have a parent`);
      }
      return parent;
    },
    delete: async (domain, name, options) => {
      assertOptions(options, KNOWN_OPTIONS.deleteCheckpoint, 'checkpoint.delete');
      list(domain).remove(name, momentRemoveMode(options));
      reportDone(options, 'delete checkpoint');
    },
  };
}

/**
 * `virDomainCheckpointCreateXML`: a new checkpoint of every writable disk by default (§e.2),
 * child of the current checkpoint and current afterwards; or with `redefine` restored metadata,
 * current when its parent is current or nothing is (§b.7).
 *
 * @throws `OPERATION_UNSUPPORTED` "cannot create checkpoint for inactive domain",
 * `OPERATION_FAILED` "domain moment X already exists", `XML_ERROR`, `XML_INVALID_SCHEMA`,
 * `CONFIG_UNSUPPORTED`, `INVALID_ARG` (redefine parent rules), `CHECKPOINT_INCONSISTENT`
 * (`redefineValidate` and a bitmap on a disk the domain does not have).
 * @internal
 */
export function createCheckpoint(
  world: TestWorld,
  domain: DomainIdentity,
  xml: string,
  options: CheckpointCreateOptions,
): string {
  assertOptions(
    options,
    ['redefine', 'quiesce', 'redefineValidate', 'signal', 'onProgress'],
    'createCheckpoint',
  );
  const dom = world.require(domain);
  if (!isActive(dom)) {
    throw new VirtError('OPERATION_UNSUPPORTED', 'cannot create checkpoint for inactive domain');
  }
  const def = options.redefine === true ? prepareRedefine(dom, xml, options) : prepareNew(world, dom, xml);
  commitCheckpoint(dom, def, options.redefine === true);
  reportDone(options, 'create checkpoint');
  return def.name;
}

/**
 * Parses and aligns a new (not redefined) checkpoint of `dom`'s live definition; nothing is
 * recorded yet.
 *
 * @internal
 */
export function prepareNew(world: TestWorld, dom: TestDomain, xml: string): CheckpointDef & { name: string } {
  const now = world.nowSeconds();
  const parsed = parseCheckpointXml(xml, { now });
  const name = parsed.name ?? String(now);
  if (dom.checkpoints.has(name)) {
    throw new VirtError('OPERATION_FAILED', `domain moment ${name} already exists`);
  }
  const aligned = alignCheckpointDisks({ ...parsed, name, creationTime: now }, dom.def);
  const current = dom.checkpoints.current;
  return { ...aligned, name, domain: dom.def, ...(current === undefined ? {} : { parent: current }) };
}

/**
 * Records a prepared checkpoint: a new one becomes current; a redefined one replaces an
 * existing one in place and becomes current by libvirt's automatic rule.
 *
 * @internal
 */
export function commitCheckpoint(
  dom: TestDomain,
  def: CheckpointDef & { name: string },
  redefine: boolean,
): void {
  const list = dom.checkpoints;
  const makeCurrent = !redefine || redefineMakesCurrent(list, def.parent);
  if (list.has(def.name)) list.replace(def);
  else list.add(def);
  if (makeCurrent) list.setCurrent(def.name);
}

function prepareRedefine(
  dom: TestDomain,
  xml: string,
  options: CheckpointCreateOptions,
): CheckpointDef & { name: string } {
  const parsed = parseCheckpointXml(xml, { redefine: true });
  const name = parsed.name ?? '';
  dom.checkpoints.checkRedefine(name, parsed.parent);
  if (parsed.domain !== undefined && parsed.domain.uuid !== dom.def.uuid) {
    throw new VirtError('INVALID_ARG', `definition for checkpoint ${name} must use uuid ${dom.def.uuid}`);
  }
  const def =
    parsed.domain === undefined
      ? { ...defaultCheckpointBitmapNames({ ...parsed, name }), name }
      : { ...alignCheckpointDisks({ ...parsed, name }, parsed.domain), name, domain: parsed.domain };
  if (options.redefineValidate === true) validateBitmaps(dom, def);
  return def;
}

/** The simulated `REDEFINE_VALIDATE`: every bitmap must sit on a writable disk of the domain. */
function validateBitmaps(dom: TestDomain, def: CheckpointDef): void {
  for (const disk of def.disks ?? []) {
    if ((disk.checkpoint ?? 'bitmap') !== 'bitmap') continue;
    const domDisk = dom.def.disks.find((d) => d.target === disk.name);
    if (domDisk === undefined || domDisk.readonly || domDisk.source === undefined) {
      throw new VirtError(
        'CHECKPOINT_INCONSISTENT',
        `missing or broken bitmap '${disk.bitmap ?? def.name ?? ''}' for disk '${disk.name}'`,
      );
    }
  }
}

function checkpointXml(dom: TestDomain, name: string, options: CheckpointXmlOptions): string {
  assertOptions(options, KNOWN_OPTIONS.checkpointGetXml, 'checkpoint.getXml');
  let def = dom.checkpoints.require(name);
  if (options.size === true) {
    if (!isActive(dom)) throw new VirtError('OPERATION_INVALID', 'domain is not running');
    const disks = (def.disks ?? []).map((d) =>
      (d.checkpoint ?? 'bitmap') === 'bitmap' ? { ...d, size: SIMULATED_DIRTY_BYTES } : d,
    );
    def = { ...def, disks };
  }
  return formatCheckpointXml(def, {
    secure: options.secure === true,
    noDomain: options.noDomain === true,
    size: options.size === true,
  });
}
