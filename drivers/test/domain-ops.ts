import {
  assertOptions,
  KNOWN_OPTIONS,
  formatDomainXml,
  VirtError,
  type DomainIdentity,
  type DomainOps,
  type DomainStateInfo,
  type DomainXmlOptions,
  type ListDomainsOptions,
} from 'virtkit';
import { createDomain, defineDomain } from './domain-define.js';
import { withRuntimeId } from './domain-element.js';
import { destroyDomain, resumeDomain, shutdownDomain, startDomain, suspendDomain } from './lifecycle.js';
import { isActive, persistentDef, type TestDomain, type TestWorld } from './state.js';
import { undefineDomain } from './undefine.js';

/**
 * The test driver's {@link DomainOps}: definitions, lookups, listing and lifecycle, all in
 * memory.
 *
 * @internal
 */
export function testDomainOps(world: TestWorld): DomainOps {
  return {
    define: async (xml, options) => defineDomain(world, xml, options),
    create: async (xml, options) => createDomain(world, xml, options),
    lookupByName: async (name) => world.identity(byName(world, name)),
    lookupByUuid: async (uuid) => world.identity(byUuid(world, uuid)),
    list: async (options) => listDomains(world, options),
    refresh: async (domain) => world.identity(world.require(domain)),
    getXml: async (domain, options) => domainXml(world.require(domain), options),
    getState: async (domain) => stateOf(world.require(domain)),
    isPersistent: async (domain) => world.require(domain).persistent,
    start: async (domain, options) => startDomain(world, domain, options),
    shutdown: async (domain, options) => shutdownDomain(world, domain, options),
    destroy: async (domain, options) => destroyDomain(world, domain, options),
    suspend: async (domain) => suspendDomain(world, domain),
    resume: async (domain) => resumeDomain(world, domain),
    undefine: async (domain, options) => undefineDomain(world, domain, options),
  };
}

function byName(world: TestWorld, name: string): TestDomain {
  const dom = world.byName(name);
  if (dom === undefined) throw new VirtError('NO_DOMAIN', `no domain with matching name '${name}'`);
  return dom;
}

function byUuid(world: TestWorld, uuid: string): TestDomain {
  const dom = world.byUuid(uuid);
  if (dom === undefined) throw new VirtError('NO_DOMAIN', `no domain with matching uuid '${uuid}'`);
  return dom;
}

function domainXml(dom: TestDomain, options: DomainXmlOptions): string {
  assertOptions(options, KNOWN_OPTIONS.domainGetXml, 'getXml');
  const secure = options.secure === true;
  if (options.inactive === true || !isActive(dom)) return formatDomainXml(persistentDef(dom), { secure });
  return formatDomainXml(withRuntimeId(dom.def, dom.id), { secure });
}

function stateOf(dom: TestDomain): DomainStateInfo {
  // state and reason are only ever set together by the per-state setters of TestWorld.
  return { state: dom.state, reason: dom.reason } as DomainStateInfo;
}

type Filter = (dom: TestDomain) => boolean;

/** libvirt's `virDomainObjMatchFilter`: within a group, a domain must match one given key. */
function listDomains(world: TestWorld, options: ListDomainsOptions): DomainIdentity[] {
  const groups: [keyof ListDomainsOptions, Filter][][] = [
    [
      ['active', isActive],
      ['inactive', (d) => !isActive(d)],
    ],
    [
      ['persistent', (d) => d.persistent],
      ['transient', (d) => !d.persistent],
    ],
    [
      ['running', (d) => d.state === 'running'],
      ['paused', (d) => d.state === 'paused'],
      ['shutoff', (d) => d.state === 'shutoff'],
      ['other', (d) => !['running', 'paused', 'shutoff'].includes(d.state)],
    ],
    [
      ['hasSnapshot', (d) => d.snapshots.size > 0],
      ['noSnapshot', (d) => d.snapshots.size === 0],
    ],
    [
      ['hasCheckpoint', (d) => d.checkpoints.size > 0],
      ['noCheckpoint', (d) => d.checkpoints.size === 0],
    ],
  ];
  const tests = groups.map((group) => group.filter(([key]) => options[key] === true).map(([, test]) => test));
  const keep = (dom: TestDomain): boolean => tests.every((t) => t.length === 0 || t.some((f) => f(dom)));
  return world
    .all()
    .filter(keep)
    .map((d) => world.identity(d));
}
