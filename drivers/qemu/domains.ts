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
import type { QemuRuntime } from './runtime.js';

/**
 * Domain definition, lookup and lifecycle of the qemu driver; running domains are the
 * {@link QemuRuntime}'s QEMU processes (transient ones exist only there).
 *
 * @internal
 */
export function createDomainOps(ctx: QemuContext, access: DomainAccess, runtime: QemuRuntime): DomainOps {
  const identity = async (def: DomainDef): Promise<DomainIdentity> => {
    const status = await runtime.status(def.name);
    return { name: def.name, uuid: def.uuid, id: status?.uuid === def.uuid ? status.id : -1 };
  };
  const persistentDef = async (name: string): Promise<DomainDef | undefined> =>
    isStorableName(name) ? ctx.store.readDomainDef(name) : undefined;
  /** The persistent definition, or the live one of a transient domain. */
  const anyDef = async (name: string): Promise<DomainDef | undefined> =>
    (await persistentDef(name)) ?? (isStorableName(name) ? runtime.liveDef(name) : undefined);
  const readDef = async (domain: DomainIdentity): Promise<DomainDef> => {
    const def = await anyDef(domain.name);
    if (def === undefined || def.uuid !== domain.uuid) {
      throw new VirtError('NO_DOMAIN', `no domain with matching uuid '${domain.uuid}' (${domain.name})`);
    }
    return def;
  };
  const allNames = async (): Promise<string[]> => [
    ...new Set([...(await ctx.store.domainNames()), ...(await runtime.activeNames())]),
  ];
  const stateOf = async (name: string): Promise<DomainStateInfo> =>
    (await runtime.status(name))?.state ??
    runtime.stoppedState(name) ?? { state: 'shutoff', reason: 'UNKNOWN' };
  const running = async (domain: DomainIdentity): Promise<void> => {
    await readDef(domain);
    if ((await runtime.status(domain.name)) === undefined)
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
      const id = await identity(stored);
      ctx.events.domainEvent({ domain: id, event: 'DEFINED', detail: updated ? 'UPDATED' : 'ADDED' });
      return id;
    },

    async create(xml, options) {
      assertOptions(options, ['paused'], 'createDomain');
      const def = prepareDomainDef(parseDomainXml(xml));
      const clash = await findUuidClash(ctx, def);
      if (clash !== undefined) {
        throw new VirtError('OPERATION_FAILED', `domain '${clash}' is already defined with uuid ${def.uuid}`);
      }
      const paused = options.paused === true;
      // Under the domain's lock: of two processes creating it at once, one starts it.
      const id = await access.lifecycle(def.name, 'create', async (state) => {
        const existing = state?.def ?? (await runtime.liveDef(def.name));
        if (existing !== undefined && existing.uuid !== def.uuid) {
          throw new VirtError(
            'OPERATION_FAILED',
            `domain '${def.name}' already exists with uuid ${existing.uuid}`,
          );
        }
        if ((await runtime.status(def.name)) !== undefined) {
          throw new VirtError('OPERATION_INVALID', `domain '${def.name}' is already active`);
        }
        return runtime.start(def, { paused, transient: state === undefined });
      });
      return { name: def.name, uuid: def.uuid, id };
    },

    async lookupByName(name) {
      const def = await anyDef(name);
      if (def === undefined) throw noDomain(name);
      return identity(def);
    },

    async lookupByUuid(uuid) {
      const wanted = uuid.toLowerCase();
      for (const name of await allNames()) {
        const def = await anyDef(name);
        if (def?.uuid === wanted) return identity(def);
      }
      throw new VirtError('NO_DOMAIN', `no domain with matching uuid '${uuid}'`);
    },

    async list(options) {
      assertOptions(options, KNOWN_OPTIONS.listDomains, 'listDomains');
      const out: DomainIdentity[] = [];
      for (const name of await allNames()) {
        const def = await anyDef(name);
        if (def === undefined) continue;
        const persistent = (await persistentDef(name)) !== undefined;
        if (await matches(ctx, name, options, persistent, await stateOf(name))) out.push(await identity(def));
      }
      return out;
    },

    async refresh(domain) {
      return identity(await readDef(domain));
    },

    async getXml(domain, options) {
      assertOptions(options, KNOWN_OPTIONS.domainGetXml, 'getXml');
      const def = await readDef(domain);
      const secure = options.secure === true;
      if (options.inactive !== true) {
        const live = await runtime.liveXml(domain.name, secure);
        if (live !== undefined) return live;
      }
      return formatDomainXml((await persistentDef(domain.name)) ?? def, { secure });
    },

    async getState(domain): Promise<DomainStateInfo> {
      await readDef(domain);
      return stateOf(domain.name);
    },

    async isPersistent(domain) {
      await readDef(domain);
      return (await persistentDef(domain.name)) !== undefined;
    },

    async start(domain, options) {
      assertOptions(options, ['paused'], 'start');
      await readDef(domain);
      // Under the domain's lock: of two processes starting it at once, one spawns QEMU.
      await access.lifecycle(domain.name, 'start', async (state) => {
        if ((await runtime.status(domain.name)) !== undefined)
          throw new VirtError('OPERATION_INVALID', 'domain is already running');
        if (state === undefined || state.def.uuid !== domain.uuid) {
          throw new VirtError('NO_DOMAIN', `no domain with matching uuid '${domain.uuid}' (${domain.name})`);
        }
        await runtime.start(state.def, { paused: options.paused === true, transient: false });
      });
    },

    async shutdown(domain, options) {
      assertOptions(options, KNOWN_OPTIONS.shutdownDomain, 'shutdown');
      await running(domain);
      // The request under the lock, the wait without it (destroy may come meanwhile).
      const pid = await access.lifecycle(domain.name, 'shutdown', () => runtime.shutdown(domain.name));
      if (options.waitMs !== undefined)
        await runtime.waitStopped(domain.name, pid, options.waitMs, options.signal);
    },

    async destroy(domain, options) {
      assertOptions(options, ['graceful'], 'destroy');
      await running(domain);
      await access.lifecycle(domain.name, 'destroy', () =>
        runtime.destroy(domain.name, options.graceful === true),
      );
    },

    async suspend(domain) {
      await running(domain);
      await access.lifecycle(domain.name, 'suspend', () => runtime.suspend(domain.name));
    },

    async resume(domain) {
      await running(domain);
      await access.lifecycle(domain.name, 'resume', () => runtime.resume(domain.name));
    },

    async undefine(domain, options) {
      assertOptions(options, KNOWN_OPTIONS.undefineDomain, 'undefineDomain');
      await readDef(domain);
      if ((await persistentDef(domain.name)) === undefined)
        throw new VirtError('OPERATION_INVALID', 'cannot undefine transient domain');
      const active = (await runtime.status(domain.name)) !== undefined;
      await access.write(domain, 'undefine', {}, async (state, tx) => {
        // libvirt: a running domain becomes transient and keeps its snapshot and checkpoint
        // metadata until it stops.
        const change: MetadataChange = active
          ? { writes: [], removes: [ctx.layout.domainFile(state.name)] }
          : undefineChange(ctx, state, options);
        await tx.run('undefine', [COMMIT_STEP, ...metadataSteps(change)]);
        if (active) await runtime.makeTransient(state.name);
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
async function matches(
  ctx: QemuContext,
  name: string,
  o: ListDomainsOptions,
  persistent: boolean,
  state: DomainStateInfo,
): Promise<boolean> {
  const group = (keys: readonly (keyof ListDomainsOptions)[], value: keyof ListDomainsOptions): boolean => {
    const set = keys.filter((k) => o[k] === true);
    return set.length === 0 || set.length === keys.length || set.includes(value);
  };
  const active = state.state !== 'shutoff';
  if (!group(['active', 'inactive'], active ? 'active' : 'inactive')) return false;
  if (!group(['persistent', 'transient'], persistent ? 'persistent' : 'transient')) return false;
  const kind =
    state.state === 'running' || state.state === 'paused' || state.state === 'shutoff'
      ? state.state
      : 'other';
  if (!group(['running', 'paused', 'shutoff', 'other'], kind)) return false;
  const snaps = namesFromListing(await listDir(ctx.layout.snapshotDir(name))).length > 0;
  if (!group(['hasSnapshot', 'noSnapshot'], snaps ? 'hasSnapshot' : 'noSnapshot')) return false;
  const chks = namesFromListing(await listDir(ctx.layout.checkpointDir(name))).length > 0;
  return group(['hasCheckpoint', 'noCheckpoint'], chks ? 'hasCheckpoint' : 'noCheckpoint');
}
