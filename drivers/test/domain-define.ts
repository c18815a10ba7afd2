import {
  assertOptions,
  KNOWN_OPTIONS,
  parseDomainXml,
  VirtError,
  type DomainCreateOptions,
  type DomainDef,
  type DomainDefineOptions,
  type DomainIdentity,
} from 'virtkit';
import { normalizeDomainDef } from './domain-element.js';
import { isActive, type TestDomain, type TestWorld } from './state.js';

/**
 * `virDomainDefineXMLFlags`: adds a persistent domain, or updates the definition of the domain
 * with the same name and uuid (its persistent definition while it runs).
 *
 * @throws `XML_ERROR` for malformed XML, `OPERATION_FAILED` when the name or the uuid belongs
 * to another domain.
 * @internal
 */
export function defineDomain(world: TestWorld, xml: string, options: DomainDefineOptions): DomainIdentity {
  assertOptions(options, KNOWN_OPTIONS.defineDomain, 'defineDomain');
  const def = normalizeDomainDef(parseDomainXml(xml));
  const existing = findForDefine(world, def);
  if (existing === undefined) {
    const dom = world.newDomain(def, true);
    world.add(dom);
    world.emit(dom, 'DEFINED', 'ADDED');
    return world.identity(dom);
  }
  // libvirt reports UPDATED when a persistent definition is replaced; an undefined running
  // domain keeps its last one until it stops.
  const replaced = !isActive(existing) || existing.persistent || existing.newDef !== undefined;
  if (isActive(existing)) existing.newDef = def;
  else existing.def = def;
  existing.persistent = true;
  world.emit(existing, 'DEFINED', replaced ? 'UPDATED' : 'ADDED');
  return world.identity(existing);
}

/**
 * `virDomainCreateXML`: starts a transient domain, or starts an inactive persistent domain of
 * the same name and uuid with this definition as its live one.
 *
 * @throws `XML_ERROR`, `OPERATION_FAILED` (name or uuid taken by another domain),
 * `OPERATION_INVALID` "domain 'X' is already active".
 * @internal
 */
export function createDomain(world: TestWorld, xml: string, options: DomainCreateOptions): DomainIdentity {
  assertOptions(options, ['validate', 'paused'], 'createDomain');
  const def = normalizeDomainDef(parseDomainXml(xml));
  const existing = findForDefine(world, def);
  if (existing !== undefined && isActive(existing)) {
    throw new VirtError('OPERATION_INVALID', `domain '${def.name}' is already active`);
  }
  let dom: TestDomain;
  if (existing === undefined) {
    dom = world.newDomain(def, false);
    world.add(dom);
  } else {
    dom = existing;
    dom.newDef = dom.def;
    dom.def = def;
  }
  bootDomain(world, dom, options.paused === true);
  return world.identity(dom);
}

/**
 * Starts an inactive domain the way a boot does: STARTED/BOOTED, then SUSPENDED/PAUSED when
 * asked to stay paused.
 *
 * @internal
 */
export function bootDomain(world: TestWorld, dom: TestDomain, paused: boolean): void {
  world.startState(dom, 'BOOTED');
  world.emit(dom, 'STARTED', 'BOOTED');
  if (!paused) return;
  dom.state = 'paused';
  dom.reason = 'USER';
  world.emit(dom, 'SUSPENDED', 'PAUSED');
}

/** libvirt's `virDomainObjListAdd` clash rules: same uuid must mean same name and vice versa. */
function findForDefine(world: TestWorld, def: DomainDef): TestDomain | undefined {
  const byUuid = world.byUuid(def.uuid);
  if (byUuid !== undefined) {
    if (byUuid.def.name !== def.name) {
      throw new VirtError(
        'OPERATION_FAILED',
        `domain '${byUuid.def.name}' is already defined with uuid ${def.uuid}`,
      );
    }
    return byUuid;
  }
  const byName = world.byName(def.name);
  if (byName !== undefined) {
    throw new VirtError(
      'OPERATION_FAILED',
      `domain '${def.name}' already exists with uuid ${byName.def.uuid}`,
    );
  }
  return undefined;
}
