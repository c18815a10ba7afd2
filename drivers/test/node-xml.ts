import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import {
  DOMAIN_STATES,
  domainDefFromElement,
  parseCheckpointXml,
  parseSnapshotXml,
  parseXml,
  VirtError,
  type DomainDef,
  type XmlElement,
} from 'virtkit';
import {
  elementToXml,
  elements,
  localName,
  normalizeDomainDef,
  prefixOf,
  stripTestNamespace,
  TEST_NAMESPACE,
  testPrefixes,
  textOf,
} from './domain-element.js';
import type { TestDomain, TestWorld } from './state.js';

/**
 * Loads a libvirt-style node file (`test:///abs/path/node.xml`) into `world`.
 *
 * @throws `NO_CONNECT` for a relative path, `OPEN_FAILED` naming the path when it cannot be
 * read, and whatever {@link populateWorld} throws.
 * @internal
 */
export async function loadNodeFile(world: TestWorld, path: string): Promise<void> {
  if (!isAbsolute(path)) {
    throw new VirtError('NO_CONNECT', `test driver node file '${path}' must be an absolute path`);
  }
  await populateWorld(world, await readText(path), dirname(path));
}

/**
 * Fills `world` from a `<node>` document: every `<domain>` (inline or `file=` relative to
 * `baseDir`) with the test namespace's `runstate`, `transient`, `hasmanagedsave`,
 * `domainsnapshot` and (a virtkit extension) `domaincheckpoint` children.
 *
 * @throws `XML_ERROR` for malformed XML or a bad test-namespace value, `OPERATION_FAILED` for
 * a repeated domain, `INTERNAL_ERROR` for inconsistent snapshot or checkpoint metadata.
 * @internal
 */
export async function populateWorld(
  world: TestWorld,
  text: string,
  baseDir: string | undefined,
): Promise<void> {
  const root = parseXml(text);
  if (root.name !== 'node') {
    throw new VirtError('XML_ERROR', `expecting root element of 'node', not '${root.name}'`);
  }
  for (const el of elements(root, 'domain')) {
    const domainEl = await fromFile(el, baseDir, 'domain');
    await addDomain(world, root, domainEl, baseDir);
  }
}

interface TestExtensions {
  readonly runstate: number;
  readonly transient: boolean;
  readonly hasManagedSave: boolean;
  readonly snapshots: XmlElement[];
  readonly checkpoints: XmlElement[];
}

async function addDomain(world: TestWorld, root: XmlElement, el: XmlElement, baseDir: string | undefined) {
  const prefixes = testPrefixes(root, el);
  const ext = readExtensions(el, prefixes);
  const def = normalizeDomainDef(domainDefFromElement(stripTestNamespace(el, prefixes)));
  assertUnique(world, def);
  const dom = world.newDomain(def, !ext.transient);
  dom.hasManagedSave = ext.hasManagedSave;
  const scopes = namespaceDecls(root, el);
  for (const s of ext.snapshots) addSnapshot(dom, await fromFile(s, baseDir, 'domainsnapshot'), scopes);
  for (const c of ext.checkpoints) addCheckpoint(dom, await fromFile(c, baseDir, 'domaincheckpoint'), scopes);
  relate(dom);
  world.add(dom);
  const state = DOMAIN_STATES[ext.runstate] ?? 'running';
  if (state === 'shutoff') return;
  world.startState(dom, 'BOOTED');
  dom.state = state;
  dom.reason = 'UNKNOWN';
}

function readExtensions(el: XmlElement, prefixes: ReadonlySet<string>): TestExtensions {
  const ext = elements(el).filter((c) => prefixes.has(prefixOf(c.name)));
  const named = (n: string) => ext.filter((c) => localName(c.name) === n);
  const runstateEl = named('runstate')[0];
  const runstate =
    runstateEl === undefined ? DOMAIN_STATES.indexOf('running') : parseRunstate(textOf(runstateEl));
  const transient = named('transient').length > 0;
  const hasManagedSave = named('hasmanagedsave').length > 0;
  const shutoff = DOMAIN_STATES.indexOf('shutoff');
  if (transient && runstate === shutoff) {
    throw new VirtError('XML_ERROR', "transient domain cannot have runstate 'shutoff'");
  }
  if (hasManagedSave && runstate !== shutoff) {
    throw new VirtError('XML_ERROR', "domain with managedsave data can only have runstate 'shutoff'");
  }
  return {
    runstate,
    transient,
    hasManagedSave,
    snapshots: named('domainsnapshot'),
    checkpoints: named('domaincheckpoint'),
  };
}

function parseRunstate(text: string): number {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) throw new VirtError('XML_ERROR', 'invalid runstate');
  const value = Number(trimmed);
  if (value >= DOMAIN_STATES.length) throw new VirtError('XML_ERROR', `runstate '${value}' out of range`);
  return value;
}

function assertUnique(world: TestWorld, def: DomainDef): void {
  const clash = world.byUuid(def.uuid) ?? world.byName(def.name);
  if (clash !== undefined) {
    throw new VirtError(
      'OPERATION_FAILED',
      `domain '${clash.def.name}' is already defined with uuid ${clash.def.uuid}`,
    );
  }
}

/** Parsed as libvirt does: REDEFINE + INTERNAL, `<active>1</active>` marks the current one. */
function addSnapshot(dom: TestDomain, el: XmlElement, scopes: Record<string, string>): void {
  const parsed = parseSnapshotXml(asDocument(el, 'domainsnapshot', scopes), {
    redefine: true,
    internal: true,
  });
  const { active, ...def } = parsed;
  const name = def.name ?? '';
  dom.snapshots.add({ ...def, name });
  if (active !== true) return;
  if (dom.snapshots.current !== undefined) {
    throw new VirtError('INTERNAL_ERROR', 'more than one snapshot claims to be active');
  }
  dom.snapshots.setCurrent(name);
}

function addCheckpoint(dom: TestDomain, el: XmlElement, scopes: Record<string, string>): void {
  const def = parseCheckpointXml(asDocument(el, 'domaincheckpoint', scopes), { redefine: true });
  dom.checkpoints.add({ ...def, name: def.name ?? '' });
}

/** libvirt's `UpdateRelations` after loading; checkpoints then make their single leaf current. */
function relate(dom: TestDomain): void {
  if (dom.snapshots.updateRelations().length > 0) {
    throw new VirtError('INTERNAL_ERROR', `snapshots have inconsistent relations for domain ${dom.def.name}`);
  }
  if (dom.checkpoints.updateRelations().length > 0) {
    throw new VirtError(
      'INTERNAL_ERROR',
      `checkpoints have inconsistent relations for domain ${dom.def.name}`,
    );
  }
  if (dom.checkpoints.size > 0) dom.checkpoints.setCurrent(dom.checkpoints.findLeaf());
}

/** A `<domain file='…'/>` (or snapshot) element replaced by the root of the file it names. */
async function fromFile(el: XmlElement, baseDir: string | undefined, rootName: string): Promise<XmlElement> {
  const file = el.attributes['file'];
  if (file === undefined) return el;
  const path = isAbsolute(file) || baseDir === undefined ? file : resolve(baseDir, file);
  const root = parseXml(await readText(path));
  if (localName(root.name) !== rootName) {
    throw new VirtError('XML_ERROR', `expecting root element of '${rootName}', not '${root.name}'`);
  }
  return root;
}

/** Namespace declarations in scope (but the test namespace's), so a subtree parses on its own. */
function namespaceDecls(...scopes: XmlElement[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const scope of scopes) {
    for (const [k, v] of Object.entries(scope.attributes)) {
      if (k.startsWith('xmlns') && v !== TEST_NAMESPACE) out[k] = v;
    }
  }
  return out;
}

function asDocument(el: XmlElement, rootName: string, scopes: Record<string, string>): string {
  return elementToXml({ ...el, name: rootName, attributes: { ...scopes, ...el.attributes } });
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new VirtError('OPEN_FAILED', `cannot read test driver node file '${path}': ${reason}`, { cause });
  }
}
