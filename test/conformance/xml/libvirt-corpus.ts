import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  alignBackupDisks,
  formatBackupXml,
  formatCheckpointXml,
  formatSnapshotXml,
  parseBackupXml,
  parseCheckpointXml,
  parseDomainXml,
  parseSnapshotXml,
  type CheckpointDef,
  type DomainDef,
} from 'virtkit';

/** One entry of INDEX.json → `cases` (the fields the runner uses). */
export interface CorpusCase {
  readonly id: string;
  readonly kind: 'snapshot' | 'checkpoint' | 'backup';
  readonly mode: 'in->out' | 'out->out' | 'in->in' | 'invalid' | 'schema-negative';
  readonly input: string;
  readonly expected: string | null;
  readonly test_flags?: readonly string[];
  readonly parse_flags?: readonly string[];
  readonly format_flags?: readonly string[];
  readonly uuid_passed_to_formatter?: string | null;
  readonly mock_creation_time?: number;
  readonly format_internal?: boolean;
}

/** The checkout's root: this file is test/conformance/xml/libvirt-corpus.ts. */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * Where the shared corpus lives, and whether it is there: `VIRTKIT_CONFORMANCE_DIR`, else
 * `../shared/conformance` beside the checkout, wherever it was cloned.
 */
export function corpusLocation(): { readonly dir: string; readonly present: boolean } {
  const dir = process.env.VIRTKIT_CONFORMANCE_DIR ?? join(REPO_ROOT, '..', 'shared', 'conformance');
  return { dir, present: existsSync(join(dir, 'INDEX.json')) };
}

export function loadCases(dir: string): CorpusCase[] {
  const index = JSON.parse(readFileSync(join(dir, 'INDEX.json'), 'utf8')) as { cases: CorpusCase[] };
  return index.cases;
}

/** Runs a round-trip case the way the upstream test program does and returns the output. */
export function runCase(dir: string, c: CorpusCase): string {
  const input = readFileSync(join(dir, c.input), 'utf8');
  switch (c.kind) {
    case 'snapshot':
      return runSnapshot(input, c);
    case 'checkpoint':
      return runCheckpoint(input, c);
    case 'backup':
      return runBackup(input, c);
  }
}

/** Parses a file that the corpus says must be rejected; returns the thrown error. */
export function parseInvalid(dir: string, c: CorpusCase): unknown {
  const input = readFileSync(join(dir, c.input), 'utf8');
  try {
    if (c.kind === 'checkpoint') parseCheckpointXml(input, { redefine: c.mode === 'schema-negative' });
    else if (c.kind === 'backup') parseBackupXml(input);
    else parseSnapshotXml(input, { validate: true });
  } catch (err) {
    return err;
  }
  return undefined;
}

function has(list: readonly string[] | undefined, flag: string): boolean {
  return list?.some((f) => f.endsWith(flag)) ?? false;
}

function runSnapshot(input: string, c: CorpusCase): string {
  const internal = has(c.parse_flags, 'PARSE_INTERNAL');
  let def = parseSnapshotXml(input, {
    redefine: has(c.parse_flags, 'PARSE_REDEFINE'),
    internal,
    now: c.mock_creation_time,
  });
  if (has(c.test_flags, 'TEST_RUNNING')) {
    if (def.state !== undefined) throw new Error('TEST_RUNNING: the parser already set a state');
    def = { ...def, state: 'running' };
  }
  return formatSnapshotXml(def, {
    secure: has(c.format_flags, 'FORMAT_SECURE'),
    internal: has(c.format_flags, 'FORMAT_INTERNAL'),
    current: internal && def.active === true,
    domainUuid: c.uuid_passed_to_formatter ?? undefined,
  });
}

function runCheckpoint(input: string, c: CorpusCase): string {
  let def: CheckpointDef = parseCheckpointXml(input, {
    redefine: has(c.parse_flags, 'PARSE_REDEFINE'),
    now: c.mock_creation_time,
  });
  if (has(c.test_flags, 'TEST_PARENT')) {
    if (def.parent !== undefined) throw new Error('TEST_PARENT: the input already had a parent');
    def = { ...def, parent: '1525111885' };
  }
  if (has(c.test_flags, 'TEST_VDA_BITMAP')) def = vdaBitmap(def);
  if (has(c.test_flags, 'TEST_SIZE')) {
    const [first, ...rest] = def.disks ?? [];
    if (first !== undefined) def = { ...def, disks: [{ ...first, size: 1048576 }, ...rest] };
  }
  return formatCheckpointXml(def, {
    secure: has(c.format_flags, 'FORMAT_SECURE'),
    size: has(c.format_flags, 'FORMAT_SIZE'),
  });
}

/**
 * TEST_VDA_BITMAP: libvirt appends an unnamed disk (never printed), then makes the first disk
 * `vda` with `checkpoint='bitmap'` if it has no name, and sets its bitmap to the checkpoint name.
 */
function vdaBitmap(def: CheckpointDef): CheckpointDef {
  const [first, ...rest] = def.disks ?? [];
  const disk = first ?? { name: 'vda', checkpoint: 'bitmap' as const };
  if (disk.name !== 'vda') throw new Error('TEST_VDA_BITMAP: the first disk is not vda');
  if (disk.bitmap !== undefined) throw new Error('TEST_VDA_BITMAP: a bitmap was already set');
  return { ...def, disks: [{ ...disk, bitmap: def.name }, ...rest] };
}

function runBackup(input: string, c: CorpusCase): string {
  const internal = has(c.parse_flags, 'PARSE_INTERNAL');
  const def = parseBackupXml(input, { internal });
  const names = [...(def.disks ?? []).map((d) => d.name), 'vdextradisk'];
  const aligned = alignBackupDisks(def, fakeDomain(names), 'SUFFIX');
  return formatBackupXml(aligned, { internal: c.format_internal === true });
}

/** The fake domain of testCompareBackupXML: one qcow2 file disk per name. */
function fakeDomain(names: readonly string[]): DomainDef {
  const disks = names
    .map(
      (n) =>
        `<disk type='file' device='disk'><driver type='qcow2'/><source file='/fake/${n}.qcow2'/><target dev='${n}'/></disk>`,
    )
    .join('');
  return parseDomainXml(`<domain type='qemu'><name>fake</name><devices>${disks}</devices></domain>`);
}
