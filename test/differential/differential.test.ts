import { describe, expect, it } from 'vitest';
import {
  compareRuns,
  documentedDifferenceIds,
  formatReport,
  summaryLine,
  type StepReport,
} from './compare.js';
import { withoutLibvirtPrefix } from './libvirt-messages.js';
import { libvirtUnavailableReason, runAllOnLibvirt } from './run-libvirt.js';
import { runAllOnVirtkit } from './run-virtkit.js';
import { loadScenarios, validateScenario, type LoadedScenario, type ScenarioRun } from './scenario.js';

// The differential suite: every scenario on libvirt's own test driver (python3-libvirt) and on
// virtkit's, step by step. Without python3-libvirt the comparison is skipped locally with the
// reason printed, and fails when CI=true (CI installs python3-libvirt).

const REQUIRE_LIBVIRT = process.env.CI === 'true';

function oneLine(r: StepReport): string {
  const show = (o: StepReport['libvirt']): string =>
    o === undefined ? '(none)' : o.ok ? `ok ${JSON.stringify(o.result)}` : `${o.code}: ${o.message}`;
  return `${r.scenario} #${r.index} ${r.step.op}: ${r.reason ?? ''} | libvirt ${show(r.libvirt)} | virtkit ${show(r.virtkit)}`;
}

describe('differential suite (virtkit test driver vs libvirt test driver)', () => {
  const scenarios = loadScenarios();

  it('loads at least 12 valid scenarios', () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(12);
    expect(scenarios.every((s) => s.scenario.steps.length > 0)).toBe(true);
  });

  it('marks differences only with ids of docs/libvirt-differences.md sections', () => {
    const ids = documentedDifferenceIds();
    expect(ids).not.toBeNull();
    expect(ids?.has('D7-revert-starts-domain')).toBe(true);
    const unknown = scenarios.flatMap(({ file, scenario: sc }) =>
      sc.steps.flatMap((st, i) =>
        st.difference !== undefined && ids?.has(st.difference) !== true
          ? [`${file} #${i} ${st.difference}`]
          : [],
      ),
    );
    expect(unknown).toEqual([]);
  });

  it('gives the same outcome as libvirt at every step, or a documented difference', async () => {
    const reason = libvirtUnavailableReason();
    if (reason !== undefined) {
      if (REQUIRE_LIBVIRT) throw new Error(`${reason}; CI=true makes this a failure`);
      console.warn(`skipping the libvirt comparison: ${reason}`);
      expect(REQUIRE_LIBVIRT).toBe(false);
      return;
    }
    const [libvirtRuns, virtkitRuns] = await Promise.all([
      runAllOnLibvirt(scenarios),
      runAllOnVirtkit(scenarios),
    ]);
    const report = compareRuns(scenarios, libvirtRuns, virtkitRuns);
    console.log(formatReport(report));
    expect(report.expectationFailures.map(oneLine)).toEqual([]);
    expect(report.mismatches.map(oneLine)).toEqual([]);
    expect(summaryLine(report)).toMatch(/^\d+ steps, \d+ match, \d+ documented differences, 0 mismatches$/);
  });
});

describe('comparer', () => {
  const scenario = (steps: unknown[]): LoadedScenario => ({
    file: 'inline.json',
    scenario: validateScenario({ name: 'inline', description: 'inline', steps }, 'inline.json'),
  });
  const run = (steps: ScenarioRun['steps']): ScenarioRun[] => [
    { name: 'inline', file: 'inline.json', steps },
  ];
  const err = (code: string, message = 'm') => ({ ok: false as const, code, libvirtCode: 0, message });
  const ok = (result: unknown) => ({ ok: true as const, result });

  const pins = (libvirt: unknown, virtkit: unknown) => ({ expect: libvirt, virtkitExpect: virtkit });
  const known = new Set(['D9-example']);

  it('counts matches, documented differences and mismatches', () => {
    const s = scenario([
      { op: 'snapshotList' },
      {
        op: 'snapshotCurrent',
        difference: 'D9-example',
        ...pins({ error: 'NO_DOMAIN_SNAPSHOT', message: 'm' }, { result: 'a' }),
      },
      { op: 'snapshotHasCurrent' },
      { op: 'snapshotLookup', snapshot: 'x' },
    ]);
    const report = compareRuns(
      [s],
      run([ok(['a']), err('NO_DOMAIN_SNAPSHOT'), ok(false), err('NO_DOMAIN_SNAPSHOT')]),
      run([ok(['a']), ok('a'), ok(true), err('NO_DOMAIN_SNAPSHOT')]),
      known,
    );
    expect(summaryLine(report)).toBe('4 steps, 2 match, 1 documented differences, 1 mismatches');
    expect(report.mismatches.map((m) => m.index)).toEqual([2]);
  });

  it('fails a marked step whose outcomes are equal (a stale marker)', () => {
    const s = scenario([
      { op: 'snapshotList', difference: 'D9-example', ...pins({ result: [] }, { result: ['a'] }) },
    ]);
    const report = compareRuns([s], run([ok([])]), run([ok([])]), known);
    expect(report.matches).toBe(0);
    expect(report.mismatches.map((m) => m.reason)).toEqual([
      'stale difference marker D9-example: the outcomes are equal; remove the marker and its virtkitExpect',
    ]);
  });

  it('refuses difference ids the differences document does not have, and unmet virtkitExpect', () => {
    const s = scenario([
      { op: 'snapshotList', difference: 'D9-unknown', ...pins({ result: [] }, { result: ['a'] }) },
      { op: 'snapshotList', difference: 'D9-example', ...pins({ result: [] }, { result: ['b'] }) },
    ]);
    const report = compareRuns([s], run([ok([]), ok([])]), run([ok(['a']), ok(['a'])]), known);
    expect(report.mismatches.map((m) => m.reason)).toEqual([
      'difference D9-unknown is not a section of docs/libvirt-differences.md',
      'difference D9-example: virtkit does not give virtkitExpect {"result":["b"]}',
    ]);
  });

  it('matches the messages of a marked step exactly, on both sides', () => {
    const s = scenario([
      {
        op: 'snapshotCurrent',
        difference: 'D9-example',
        ...pins({ error: 'X', message: 'no current' }, { error: 'Y', message: 'no current' }),
      },
    ]);
    const report = compareRuns(
      [s],
      run([err('X', 'no current snapshot')]),
      run([err('Y', 'no current snapshot')]),
      known,
    );
    expect(report.expectationFailures.map((m) => m.reason)).toEqual([
      'libvirt does not give expect {"error":"X","message":"no current"}',
    ]);
    expect(report.mismatches.map((m) => m.reason)).toEqual([
      'difference D9-example: virtkit does not give virtkitExpect {"error":"Y","message":"no current"}',
    ]);
  });

  it('refuses every difference marker when the differences document is missing', () => {
    const s = scenario([
      { op: 'snapshotList', difference: 'D9-example', ...pins({ result: [] }, { result: ['a'] }) },
    ]);
    expect(documentedDifferenceIds('/nonexistent/libvirt-differences.md')).toBeNull();
    const report = compareRuns([s], run([ok([])]), run([ok(['a'])]), null);
    expect(report.mismatches.map((m) => m.reason)).toEqual([
      'difference D9-example is refused: there is no docs/libvirt-differences.md',
    ]);
    // Without virtkit's run (--libvirt-only) the marker is refused as well.
    expect(compareRuns([s], run([ok([])]), undefined, null).mismatches).toHaveLength(1);
  });

  it('makes every marked step pin what both sides answer', () => {
    const marked = (extra: Record<string, unknown>) => () =>
      scenario([{ op: 'snapshotList', difference: 'D9-example', ...extra }]);
    expect(marked({ virtkitExpect: { result: [] } })).toThrow(
      /difference D9-example: expect \(what libvirt answers\) is required on a marked step/,
    );
    expect(marked({ expect: { result: [] } })).toThrow(
      /difference D9-example: virtkitExpect \(what virtkit answers\) is required on a marked step/,
    );
    expect(marked(pins({ result: [] }, {}))).toThrow(
      /virtkitExpect \(what virtkit answers\) must not be \{\}/,
    );
    expect(marked(pins({}, { result: [] }))).toThrow(/expect \(what libvirt answers\) must not be \{\}/);
    expect(marked(pins({ result: [] }, { error: 'INVALID_ARG' }))).toThrow(
      /virtkitExpect \(what virtkit answers\) must give the error's message too/,
    );
    expect(marked(pins({ result: [] }, { result: ['a'] }))).not.toThrow();
  });

  it("compares messages once libvirt's prefix is removed from libvirt's", () => {
    const s = scenario([{ op: 'snapshotCurrent' }, { op: 'snapshotCurrent' }, { op: 'snapshotCurrent' }]);
    const report = compareRuns(
      [s],
      run([
        err('NO_DOMAIN_SNAPSHOT', 'Domain snapshot not found: no current snapshot'),
        err('NO_DOMAIN_SNAPSHOT', 'Domain snapshot not found: no current snapshot'),
        err('XML_DETAIL', 'XML error: x'),
      ]),
      run([
        err('NO_DOMAIN_SNAPSHOT', 'no current snapshot'),
        err('NO_DOMAIN_SNAPSHOT', 'Domain snapshot not found: no current snapshot'),
        err('XML_DETAIL', 'x'),
      ]),
      known,
    );
    // Only the prefix of the error's own code is removed, and only from libvirt's message.
    expect(report.mismatches.map((m) => [m.index, m.reason])).toEqual([
      [1, 'messages differ'],
      [2, 'messages differ'],
    ]);
    expect(withoutLibvirtPrefix('INVALID_ARG', 'invalid argument: x')).toBe('x');
    expect(withoutLibvirtPrefix('OPERATION_INVALID', 'invalid argument: x')).toBe('invalid argument: x');
    expect(withoutLibvirtPrefix('NO_DOMAIN', 'Domain not found')).toBe('Domain not found');
  });

  it('checks the libvirt outcome against the scenario expectation', () => {
    const s = scenario([
      { op: 'snapshotList', expect: { result: ['a'] } },
      { op: 'snapshotCurrent', expect: { error: 'X' } },
    ]);
    const report = compareRuns([s], run([ok(['b']), err('X')]), undefined);
    expect(report.expectationFailures.map((m) => m.index)).toEqual([0]);
  });

  it('rejects malformed scenarios', () => {
    expect(() => scenario([{ op: 'snapshotFly' }])).toThrow(/unknown op/);
    expect(() => scenario([{ op: 'snapshotList', options: { descendants: true } }])).toThrow(
      /unknown option/,
    );
    expect(() => scenario([{ op: 'snapshotDelete' }])).toThrow(/'snapshot' is required/);
    expect(() => scenario([{ op: 'snapshotList', difference: 'nope' }])).toThrow(/difference must look like/);
  });
});
