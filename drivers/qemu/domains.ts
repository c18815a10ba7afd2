import {
  assertOptions,
  formatDomainXml,
  KNOWN_OPTIONS,
  parseDomainXml,
  VirtError,
  type DomainDef,
  type DomainIdentity,
  type DomainOps,
  type DomainStateInfo,
  type DomainUndefineOptions,
  type ListDomainsOptions,
} from 'virtkit';
import { COMMIT_STEP, metadataSteps, noDomain, type DomainAccess, type QemuContext } from './access.js';
import { listDir } from './atomic-file.js';
import { prepareDomainDef } from './domain-config.js';
import { isStorableName, namesFromListing } from './layout.js';
import type { DomainState, MetadataChange } from './metadata.js';

const SHUT_OFF_ONLY =
  'the qemu driver manages shut-off domains only: it defines them and takes, reverts and deletes snapshots and checkpoints of their disks with qemu-img; running a domain (start, createDomain, reverting to a running or paused state) is not supported yet';

/**
 * Domain definition, lookup and (for now: shut-off only) lifecycle of the qemu driver.
 *
 * @internal
 */
export function createDomainOps(ctx: QemuContext, access: DomainAccess): DomainOps {
  const identity = (def: DomainDef): DomainIdentity => ({ name: def.name, uuid: def.uuid, id: -1 });
  const readDef = async (domain: DomainIdentity): Promise<DomainDef> => {
    const def = isStorableName(domain.name) ? await ctx.store.readDomainDef(domain.name) : undefined;
    if (def === undefined || def.uuid !== domain.uuid) {
      throw new VirtError('NO_DOMAIN', `no domain with matching uuid '${domain.uuid}' (${domain.name})`);
    }
    return def;
  };
  const notRunning = async (domain: DomainIdentity): Promise<never> => {
    await readDef(domain);
    throw new VirtError('OPERATION_INVALID', 'domain is not running');
  };

  return {
    async define(xml, options) {
      assertOptions(options, KNOWN_OPTIONS.defineDomain, 'defineDomain');
      const def = prepareDomainDef(parseDomainXml(xml));
      const clash = await findUuidClash(ctx, def);
      if (clash !== undefined) {
        throw new VirtError('OPERATION_FAILED', `domain '${clash}' is already defined with uuid ${def.uuid}`);
      }
      const { stored, updated } = await access.writeByName(def.name, 'define', async (state, tx) => {
        const existing = state?.def;
        if (existing !== undefined && existing.uuid !== def.uuid) {
          throw new VirtError(
            'OPERATION_FAILED',
            `domain '${def.name}' already exists with uuid ${existing.uuid}`,
          );
        }
        await tx.run('define', [COMMIT_STEP, ...metadataSteps(ctx.store.domainChange(def))]);
        if (state !== undefined) state.def = def;
        return { stored: def, updated: existing !== undefined };
      });
      ctx.events.domainEvent({
        domain: identity(stored),
        event: 'DEFINED',
        detail: updated ? 'UPDATED' : 'ADDED',
      });
      return identity(stored);
    },

    async create() {
      throw new VirtError('OPERATION_UNSUPPORTED', SHUT_OFF_ONLY);
    },

    async lookupByName(name) {
      const def = isStorableName(name) ? await ctx.store.readDomainDef(name) : undefined;
      if (def === undefined) throw noDomain(name);
      return identity(def);
    },

    async lookupByUuid(uuid) {
      const wanted = uuid.toLowerCase();
      for (const name of await ctx.store.domainNames()) {
        const def = await ctx.store.readDomainDef(name);
        if (def?.uuid === wanted) return identity(def);
      }
      throw new VirtError('NO_DOMAIN', `no domain with matching uuid '${uuid}'`);
    },

    async list(options) {
      assertOptions(options, KNOWN_OPTIONS.listDomains, 'listDomains');
      const out: DomainIdentity[] = [];
      for (const name of await ctx.store.domainNames()) {
        const def = await ctx.store.readDomainDef(name);
        if (def !== undefined && (await matches(ctx, name, options))) out.push(identity(def));
      }
      return out;
    },

    async refresh(domain) {
      return identity(await readDef(domain));
    },

    async getXml(domain, options) {
      assertOptions(options, KNOWN_OPTIONS.domainGetXml, 'getXml');
      return formatDomainXml(await readDef(domain), { secure: options.secure === true });
    },

    async getState(domain): Promise<DomainStateInfo> {
      await readDef(domain);
      return { state: 'shutoff', reason: 'UNKNOWN' };
    },

    async isPersistent(domain) {
      await readDef(domain);
      return true;
    },

    async start(domain) {
      await readDef(domain);
      throw new VirtError('OPERATION_UNSUPPORTED', SHUT_OFF_ONLY);
    },
    shutdown: notRunning,
    destroy: notRunning,
    suspend: notRunning,
    resume: notRunning,

    async undefine(domain, options) {
      assertOptions(options, KNOWN_OPTIONS.undefineDomain, 'undefineDomain');
      await access.write(domain, 'undefine', {}, async (state, tx) => {
        await tx.run('undefine', [COMMIT_STEP, ...metadataSteps(undefineChange(ctx, state, options))]);
      });
      ctx.events.domainEvent({ domain, event: 'UNDEFINED', detail: 'REMOVED' });
    },
  };
}

/** libvirt's undefine rules (semantics §f) and the metadata removals they lead to. */
function undefineChange(
  ctx: QemuContext,
  state: DomainState,
  options: DomainUndefineOptions,
): MetadataChange {
  const snapshots = state.snapshots.size;
  const checkpoints = state.checkpoints.size;
  if (snapshots > 0 && options.snapshotsMetadata !== true) {
    throw new VirtError('OPERATION_INVALID', `cannot delete inactive domain with ${snapshots} snapshots`);
  }
  if (checkpoints > 0 && options.checkpointsMetadata !== true) {
    throw new VirtError('OPERATION_INVALID', `cannot delete inactive domain with ${checkpoints} checkpoints`);
  }
  const { layout } = ctx;
  const name = state.name;
  return {
    writes: [],
    removes: [
      ...state.snapshots.names().map((s) => layout.snapshotFile(name, s)),
      ...state.checkpoints.names().map((c) => layout.checkpointFile(name, c)),
      ctx.store.currentCheckpointFile(name),
      layout.domainFile(name),
    ],
    removeDirs: [layout.snapshotDir(name), layout.checkpointDir(name)],
  };
}

async function findUuidClash(ctx: QemuContext, def: DomainDef): Promise<string | undefined> {
  for (const name of await ctx.store.domainNames()) {
    if (name === def.name) continue;
    if ((await ctx.store.readDomainDef(name))?.uuid === def.uuid) return name;
  }
  return undefined;
}

/** Filter groups of `listDomains`: within a group, no key or every key means no filter. */
async function matches(ctx: QemuContext, name: string, o: ListDomainsOptions): Promise<boolean> {
  const group = (keys: readonly (keyof ListDomainsOptions)[], value: keyof ListDomainsOptions): boolean => {
    const set = keys.filter((k) => o[k] === true);
    return set.length === 0 || set.length === keys.length || set.includes(value);
  };
  if (!group(['active', 'inactive'], 'inactive')) return false;
  if (!group(['persistent', 'transient'], 'persistent')) return false;
  if (!group(['running', 'paused', 'shutoff', 'other'], 'shutoff')) return false;
  const snaps = namesFromListing(await listDir(ctx.layout.snapshotDir(name))).length > 0;
  if (!group(['hasSnapshot', 'noSnapshot'], snaps ? 'hasSnapshot' : 'noSnapshot')) return false;
  const chks = namesFromListing(await listDir(ctx.layout.checkpointDir(name))).length > 0;
  return group(['hasCheckpoint', 'noCheckpoint'], chks ? 'hasCheckpoint' : 'noCheckpoint');
}
