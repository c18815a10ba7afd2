import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KNOWN_OPTIONS, type OptionsFunction } from 'virtkit';

// The scenario format of the differential suite (README.md beside this file), shared by the
// virtkit runner, the comparer and the test. The Python runner reads the same JSON.

/** Directory of the differential suite. */
export const SUITE_DIR = dirname(fileURLToPath(import.meta.url));
/** Directory holding the scenario files. */
export const SCENARIO_DIR = join(SUITE_DIR, 'scenarios');

/** The libvirt flags of a public entry point (JSON scenarios cannot carry `signal`/`onProgress`). */
const flags = (fn: OptionsFunction): readonly string[] =>
  KNOWN_OPTIONS[fn].filter((key) => key !== 'signal' && key !== 'onProgress');

/** Option keys each step accepts: the libvirt flags of the entry point it calls. */
export const STEP_OPTIONS = {
  reconnect: [],
  events: [],
  define: flags('defineDomain'),
  create: flags('createDomain'),
  lookupDomain: [],
  listDomains: flags('listDomains'),
  start: flags('startDomain'),
  shutdown: [],
  destroy: flags('destroyDomain'),
  suspend: [],
  resume: [],
  undefine: flags('undefineDomain'),
  getState: [],
  isActive: [],
  isPersistent: [],
  snapshotCreate: flags('createSnapshot'),
  snapshotList: flags('listSnapshots'),
  snapshotListChildren: flags('snapshotListChildren'),
  snapshotLookup: [],
  snapshotCurrent: [],
  snapshotHasCurrent: [],
  snapshotIsCurrent: [],
  snapshotHasMetadata: [],
  snapshotGetParent: [],
  snapshotGetXml: flags('snapshotGetXml'),
  snapshotRevert: flags('revertSnapshot'),
  snapshotDelete: flags('deleteSnapshot'),
  checkpointCreate: flags('createCheckpoint'),
  checkpointList: flags('listCheckpoints'),
  checkpointListChildren: flags('checkpointListChildren'),
  checkpointLookup: [],
  checkpointGetParent: [],
  checkpointGetXml: flags('checkpointGetXml'),
  checkpointDelete: flags('deleteCheckpoint'),
} satisfies Record<string, readonly string[]>;

/** A step kind. */
export type StepOp = keyof typeof STEP_OPTIONS;

/** The step kinds, in the order of {@link STEP_OPTIONS}. */
export const STEP_OPS = Object.keys(STEP_OPTIONS) as StepOp[];

/** Fields a snapshotGetXml step can extract; the default is every one but creationTime. */
export const SNAPSHOT_XML_FIELDS = [
  'name',
  'description',
  'state',
  'parent',
  'creationTime',
  'memory',
  'disks',
  'domain',
] as const;
/** Fields a checkpointGetXml step can extract; the default is every one but creationTime and sizes. */
export const CHECKPOINT_XML_FIELDS = [
  'name',
  'description',
  'parent',
  'creationTime',
  'disks',
  'sizes',
  'domain',
] as const;

export type SnapshotXmlField = (typeof SNAPSHOT_XML_FIELDS)[number];
export type CheckpointXmlField = (typeof CHECKPOINT_XML_FIELDS)[number];

/** Default field sets (creation times differ between runs, so they are opt-in). */
export const DEFAULT_SNAPSHOT_FIELDS: readonly SnapshotXmlField[] = SNAPSHOT_XML_FIELDS.filter(
  (f) => f !== 'creationTime',
);
export const DEFAULT_CHECKPOINT_FIELDS: readonly CheckpointXmlField[] = CHECKPOINT_XML_FIELDS.filter(
  (f) => f !== 'creationTime' && f !== 'sizes',
);

/**
 * What a step must give: a result (deep-equal) or an error code (and message substring, in
 * which `{{suiteDir}}` stands for this directory's absolute path).
 */
export type StepExpect = { result?: unknown } | { error: string; message?: string };

/** One step of a scenario. Keys beyond the common ones depend on `op` (see README.md). */
export interface Step {
  readonly op: StepOp;
  /** Domain the step acts on; `test` when omitted. */
  readonly domain?: string;
  readonly options?: Readonly<Record<string, boolean>>;
  /** Name for define/create (domain template) and snapshot/checkpoint create (name shorthand). */
  readonly name?: string;
  readonly uuid?: string;
  readonly description?: string;
  /** Literal XML; `{{domain}}` is replaced by the domain's inactive XML. */
  readonly xml?: string;
  /** XML saved by an earlier getXml step with `save`. */
  readonly xmlRef?: string;
  /** Create with a generated name: later steps and results use this alias instead. */
  readonly alias?: string;
  readonly snapshot?: string;
  readonly checkpoint?: string;
  readonly fields?: readonly string[];
  /** Keep the raw XML of a getXml step under this key (for `xmlRef`). */
  readonly save?: string;
  readonly expect?: StepExpect;
  /**
   * Id of an intended difference (a `## D…` section of docs/libvirt-differences.md); the
   * outcomes must differ, and the step pins both: `expect` (libvirt) and `virtkitExpect`.
   */
  readonly difference?: string;
  /** With `difference`: what virtkit gives instead (required with `difference`). */
  readonly virtkitExpect?: StepExpect;
  /** Free text shown in reports. */
  readonly note?: string;
}

/** A scenario file. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** `default`, or a node XML path relative to this directory (e.g. `worlds/two-domains.xml`). */
  readonly world?: string;
  readonly steps: readonly Step[];
}

/** A scenario with the file it came from (relative to the suite directory). */
export interface LoadedScenario {
  readonly file: string;
  readonly scenario: Scenario;
}

/** What one step gave on one side. */
export type StepOutcome =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly code: string; readonly libvirtCode: number; readonly message: string };

/** The outcomes of one scenario on one side. */
export interface ScenarioRun {
  readonly name: string;
  readonly file: string;
  readonly steps: readonly StepOutcome[];
}

const COMMON_KEYS = ['op', 'domain', 'options', 'expect', 'difference', 'virtkitExpect', 'note'] as const;

const CREATE_MOMENT_KEYS = ['name', 'description', 'xml', 'xmlRef', 'alias'];
const EXTRA_KEYS: Record<StepOp, readonly string[]> = {
  reconnect: [],
  events: [],
  define: ['name', 'uuid', 'xml'],
  create: ['name', 'uuid', 'xml'],
  lookupDomain: [],
  listDomains: [],
  start: [],
  shutdown: [],
  destroy: [],
  suspend: [],
  resume: [],
  undefine: [],
  getState: [],
  isActive: [],
  isPersistent: [],
  snapshotCreate: CREATE_MOMENT_KEYS,
  snapshotList: [],
  snapshotListChildren: ['snapshot'],
  snapshotLookup: ['snapshot'],
  snapshotCurrent: [],
  snapshotHasCurrent: [],
  snapshotIsCurrent: ['snapshot'],
  snapshotHasMetadata: ['snapshot'],
  snapshotGetParent: ['snapshot'],
  snapshotGetXml: ['snapshot', 'fields', 'save'],
  snapshotRevert: ['snapshot'],
  snapshotDelete: ['snapshot'],
  checkpointCreate: CREATE_MOMENT_KEYS,
  checkpointList: [],
  checkpointListChildren: ['checkpoint'],
  checkpointLookup: ['checkpoint'],
  checkpointGetParent: ['checkpoint'],
  checkpointGetXml: ['checkpoint', 'fields', 'save'],
  checkpointDelete: ['checkpoint'],
};

const REQUIRED_KEYS: Partial<Record<StepOp, readonly string[]>> = {
  snapshotListChildren: ['snapshot'],
  snapshotLookup: ['snapshot'],
  snapshotIsCurrent: ['snapshot'],
  snapshotHasMetadata: ['snapshot'],
  snapshotGetParent: ['snapshot'],
  snapshotGetXml: ['snapshot'],
  snapshotRevert: ['snapshot'],
  snapshotDelete: ['snapshot'],
  checkpointListChildren: ['checkpoint'],
  checkpointLookup: ['checkpoint'],
  checkpointGetParent: ['checkpoint'],
  checkpointGetXml: ['checkpoint'],
  checkpointDelete: ['checkpoint'],
};

const DIFFERENCE_ID = /^D\d+-[a-z0-9-]+$/;

/**
 * Checks a parsed scenario file and returns it typed.
 *
 * @throws Error naming the file, step and problem.
 */
export function validateScenario(value: unknown, file: string): Scenario {
  const fail = (what: string): never => {
    throw new Error(`${file}: ${what}`);
  };
  if (!isRecord(value)) return fail('not a JSON object');
  const extra = Object.keys(value).filter((k) => !['name', 'description', 'world', 'steps'].includes(k));
  if (extra.length > 0) fail(`unknown keys ${extra.join(', ')}`);
  if (typeof value.name !== 'string' || value.name === '') fail('name must be a non-empty string');
  if (typeof value.description !== 'string' || value.description === '') fail('description is required');
  if (value.world !== undefined && typeof value.world !== 'string') fail('world must be a string');
  if (!Array.isArray(value.steps) || value.steps.length === 0) fail('steps must be a non-empty array');
  (value.steps as unknown[]).forEach((step, i) => validateStep(step, (what) => fail(`step ${i}: ${what}`)));
  return value as unknown as Scenario;
}

function validateStep(step: unknown, fail: (what: string) => never): void {
  if (!isRecord(step)) fail('not an object');
  const op = step.op as StepOp;
  if (!STEP_OPS.includes(op)) fail(`unknown op '${String(step.op)}'`);
  const allowed = [...COMMON_KEYS, ...EXTRA_KEYS[op]] as string[];
  const extra = Object.keys(step).filter((k) => !allowed.includes(k));
  if (extra.length > 0) fail(`${op}: unknown keys ${extra.join(', ')}`);
  for (const key of REQUIRED_KEYS[op] ?? []) {
    if (typeof step[key] !== 'string') fail(`${op}: '${key}' is required`);
  }
  validateOptions(op, step.options, fail);
  validateFields(op, step.fields, fail);
  if (step.expect !== undefined) validateExpect(step.expect, 'expect', fail);
  if (step.virtkitExpect !== undefined) {
    if (step.difference === undefined) fail('virtkitExpect needs a difference id');
    validateExpect(step.virtkitExpect, 'virtkitExpect', fail);
  }
  if (step.difference !== undefined) {
    if (typeof step.difference !== 'string' || !DIFFERENCE_ID.test(step.difference)) {
      fail(`difference must look like 'D1-some-name', got '${String(step.difference)}'`);
    }
    validatePin(step.difference, step.expect, 'expect', 'libvirt', fail);
    validatePin(step.difference, step.virtkitExpect, 'virtkitExpect', 'virtkit', fail);
  }
}

/**
 * A step marked with a difference pins what each side answers: a result, or an error code
 * with its message. An empty or missing pin would let the marker accept any answer.
 */
function validatePin(
  id: string,
  pin: unknown,
  key: string,
  side: string,
  fail: (what: string) => never,
): void {
  const what = `difference ${id}: ${key} (what ${side} answers)`;
  if (pin === undefined) fail(`${what} is required on a marked step`);
  if (isRecord(pin) && Object.keys(pin).length === 0) {
    fail(`${what} must not be {}: pin the result or the error and its message`);
  }
  if (isRecord(pin) && 'error' in pin && typeof pin.message !== 'string') {
    fail(`${what} must give the error's message too`);
  }
}

function validateOptions(op: StepOp, options: unknown, fail: (what: string) => never): void {
  if (options === undefined) return;
  if (!isRecord(options)) fail('options must be an object');
  const known = STEP_OPTIONS[op] as readonly string[];
  for (const [key, value] of Object.entries(options)) {
    if (!known.includes(key)) fail(`${op}: unknown option '${key}'`);
    if (typeof value !== 'boolean') fail(`${op}: option '${key}' must be a boolean`);
  }
}

function validateFields(op: StepOp, fields: unknown, fail: (what: string) => never): void {
  if (fields === undefined) return;
  const known: readonly string[] = op === 'snapshotGetXml' ? SNAPSHOT_XML_FIELDS : CHECKPOINT_XML_FIELDS;
  if (!Array.isArray(fields) || fields.some((f) => !known.includes(f as string))) {
    fail(`${op}: fields must be a subset of ${known.join(', ')}`);
  }
}

function validateExpect(expect: unknown, what: string, fail: (what: string) => never): void {
  if (!isRecord(expect)) fail(`${what} must be an object`);
  const keys = Object.keys(expect);
  const ok = keys.every((k) => ['result', 'error', 'message'].includes(k));
  if (!ok || ('error' in expect && 'result' in expect) || ('message' in expect && !('error' in expect))) {
    fail(`${what} must be {} , { result } or { error, message? }`);
  }
}

/** Loads and validates scenario files (all of `scenarios/` when none are given). */
export function loadScenarios(files?: readonly string[]): LoadedScenario[] {
  const paths =
    files === undefined || files.length === 0
      ? readdirSync(SCENARIO_DIR)
          .filter((f) => f.endsWith('.json'))
          .sort()
          .map((f) => join(SCENARIO_DIR, f))
      : [...files];
  const loaded = paths.map((path) => {
    const file = relative(SUITE_DIR, path);
    const scenario = validateScenario(JSON.parse(readFileSync(path, 'utf8')) as unknown, file);
    return { file, scenario };
  });
  const names = new Set<string>();
  for (const { file, scenario } of loaded) {
    if (names.has(scenario.name)) throw new Error(`${file}: duplicate scenario name '${scenario.name}'`);
    names.add(scenario.name);
  }
  return loaded;
}

/** Absolute path of a scenario file given relative to the suite directory. */
export function scenarioPath(file: string): string {
  return join(SUITE_DIR, file);
}

/**
 * Whether an outcome satisfies an expectation. With `exact` (the pins of a step marked with a
 * difference) an error's message must be the whole message, not a part of it.
 */
export function satisfies(outcome: StepOutcome, expect: StepExpect, exact = false): boolean {
  if ('error' in expect) {
    if (outcome.ok || outcome.code !== expect.error) return false;
    if (expect.message === undefined) return !exact;
    const message = expect.message.replaceAll('{{suiteDir}}', SUITE_DIR);
    return exact ? outcome.message === message : outcome.message.includes(message);
  }
  if (!outcome.ok) return false;
  return !('result' in expect) || deepEqual(outcome.result, expect.result);
}

/** Structural equality of JSON values. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
    );
  }
  if (!isRecord(a) || !isRecord(b)) return false;
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return deepEqual(ka, kb) && ka.every((k) => deepEqual(a[k], b[k]));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
