import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  alignBackupDisks,
  alignCheckpointDisks,
  alignSnapshotDisks,
  formatBackupXml,
  formatCheckpointXml,
  formatSnapshotXml,
  isVirtError,
  parseBackupXml,
  parseCheckpointXml,
  parseDomainXml,
  parseSnapshotXml,
  type CheckpointDef,
  type ErrorCode,
  type SnapshotDef,
  type SnapshotLocation,
  type SnapshotParseOptions,
  type SnapshotState,
} from 'virtkit';

export type FixtureKind = 'snapshot' | 'checkpoint' | 'backup';

/** Post-parse steps a fixture asks for (the counterpart of libvirt's test hooks). */
export interface FixtureHooks {
  /** Snapshot: set the state, like libvirt's TEST_RUNNING. */
  readonly state?: SnapshotState;
  /** Checkpoint: set the parent, like TEST_PARENT. */
  readonly parent?: string;
  /** Checkpoint: TEST_VDA_BITMAP. */
  readonly vdaBitmap?: boolean;
  /** Checkpoint: bytes for the first disk, like TEST_SIZE. */
  readonly size?: number;
  /** Align disks against `domains/<file>`. */
  readonly domain?: string;
  /** Keep that domain in the definition (it is printed). */
  readonly attachDomain?: boolean;
  /** Snapshot alignment parameters. */
  readonly defaultLocation?: SnapshotLocation;
  readonly uniformInternal?: boolean;
  /** Backup alignment suffix. */
  readonly suffix?: string;
}

/** One entry of `fixtures/<kind>/manifest.json`. */
export interface FixtureCase {
  readonly name: string;
  readonly mode: 'in->out' | 'out->out' | 'invalid';
  readonly note?: string;
  readonly parse?: Readonly<Record<string, boolean | number>>;
  readonly hooks?: FixtureHooks;
  readonly format?: Readonly<Record<string, boolean | string>>;
  /** Parse options for the out→out check of an in→out case; `false` skips it. */
  readonly reparse?: Readonly<Record<string, boolean | number>> | false;
  readonly code?: ErrorCode;
  readonly message?: string;
  readonly line?: number;
  readonly column?: number;
}

type Expect = (actual: unknown, expected: unknown, what: string) => void;

export function fixtureRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
}

export function loadManifest(kind: FixtureKind): FixtureCase[] {
  const file = join(fixtureRoot(), kind, 'manifest.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { cases: FixtureCase[] }).cases;
}

/** Runs one fixture; `UPDATE_FIXTURES=1` rewrites the expected out/ file instead of comparing. */
export function runFixture(kind: FixtureKind, fixture: FixtureCase, expect: Expect): void {
  const dir = join(fixtureRoot(), kind);
  if (fixture.mode === 'invalid') {
    checkInvalid(kind, fixture, read(join(dir, 'invalid', `${fixture.name}.xml`)), expect);
    return;
  }
  const outFile = join(dir, 'out', `${fixture.name}.xml`);
  if (fixture.mode === 'out->out') {
    const text = read(outFile);
    expect(pipeline(kind, text, fixture.parse ?? {}, {}, fixture.format ?? {}), text, 'out->out');
    return;
  }
  const actual = pipeline(
    kind,
    read(join(dir, 'in', `${fixture.name}.xml`)),
    fixture.parse ?? {},
    fixture.hooks ?? {},
    fixture.format ?? {},
  );
  if (process.env.UPDATE_FIXTURES === '1') writeFileSync(outFile, actual);
  expect(actual, read(outFile), 'in->out');
  if (fixture.reparse === false) return;
  const reparse = fixture.reparse ?? defaultReparse(kind, fixture);
  expect(pipeline(kind, read(outFile), reparse, {}, fixture.format ?? {}), read(outFile), 'out->out');
}

function read(file: string): string {
  return readFileSync(file, 'utf8');
}

function defaultReparse(kind: FixtureKind, fixture: FixtureCase): Record<string, boolean> {
  const internal = fixture.format?.internal === true;
  switch (kind) {
    case 'snapshot':
      return { redefine: true, internal };
    case 'checkpoint':
      return { redefine: true };
    case 'backup':
      return { internal };
  }
}

function checkInvalid(kind: FixtureKind, fixture: FixtureCase, input: string, expect: Expect): void {
  let error: unknown;
  try {
    pipeline(kind, input, fixture.parse ?? {}, fixture.hooks ?? {}, fixture.format ?? {});
  } catch (err) {
    error = err;
  }
  expect(isVirtError(error) ? error.code : String(error), fixture.code, 'error code');
  if (!isVirtError(error)) return;
  if (fixture.message !== undefined) expect(error.message, fixture.message, 'error message');
  if (fixture.line !== undefined) expect(error.details.line, fixture.line, 'error line');
  if (fixture.column !== undefined) expect(error.details.column, fixture.column, 'error column');
}

function pipeline(
  kind: FixtureKind,
  input: string,
  parse: Readonly<Record<string, boolean | number>>,
  hooks: FixtureHooks,
  format: Readonly<Record<string, boolean | string>>,
): string {
  switch (kind) {
    case 'snapshot':
      return snapshotPipeline(input, parse, hooks, format);
    case 'checkpoint':
      return checkpointPipeline(input, parse, hooks, format);
    case 'backup': {
      let def = parseBackupXml(input, parse);
      if (hooks.domain !== undefined)
        def = alignBackupDisks(def, domain(hooks.domain), hooks.suffix ?? 'SUFFIX');
      return formatBackupXml(def, format);
    }
  }
}

function snapshotPipeline(
  input: string,
  parse: SnapshotParseOptions,
  hooks: FixtureHooks,
  format: Readonly<Record<string, boolean | string>>,
): string {
  let def: SnapshotDef = parseSnapshotXml(input, parse);
  if (hooks.state !== undefined) def = { ...def, state: hooks.state };
  if (hooks.domain !== undefined) {
    const dom = domain(hooks.domain);
    def = alignSnapshotDisks(def, dom, {
      defaultLocation: hooks.defaultLocation ?? 'internal',
      uniformInternal: hooks.uniformInternal ?? false,
    });
    if (hooks.attachDomain === true) def = { ...def, domain: dom };
  }
  const current = parse.internal === true ? def.active === true : format.current === true;
  return formatSnapshotXml(def, { ...format, current });
}

function checkpointPipeline(
  input: string,
  parse: Readonly<Record<string, boolean | number>>,
  hooks: FixtureHooks,
  format: Readonly<Record<string, boolean | string>>,
): string {
  let def: CheckpointDef = parseCheckpointXml(input, parse);
  if (hooks.parent !== undefined) def = { ...def, parent: hooks.parent };
  if (hooks.domain !== undefined) {
    const dom = domain(hooks.domain);
    def = alignCheckpointDisks(def, dom);
    if (hooks.attachDomain === true) def = { ...def, domain: dom };
  }
  if (hooks.vdaBitmap === true) {
    const [first, ...rest] = def.disks ?? [];
    def = {
      ...def,
      disks: [{ ...(first ?? { name: 'vda', checkpoint: 'bitmap' }), bitmap: def.name }, ...rest],
    };
  }
  if (hooks.size !== undefined) {
    const [first, ...rest] = def.disks ?? [];
    if (first !== undefined) def = { ...def, disks: [{ ...first, size: hooks.size }, ...rest] };
  }
  return formatCheckpointXml(def, format);
}

function domain(file: string) {
  return parseDomainXml(read(join(fixtureRoot(), 'domains', file)));
}
