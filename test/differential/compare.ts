import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { withoutLibvirtPrefix } from './libvirt-messages.js';
import { libvirtUnavailableReason, runAllOnLibvirt } from './run-libvirt.js';
import {
  SUITE_DIR,
  deepEqual,
  loadScenarios,
  satisfies,
  type LoadedScenario,
  type ScenarioRun,
  type Step,
  type StepOutcome,
} from './scenario.js';

// The comparer: checks every step's outcome on libvirt against virtkit and against the
// scenario's own expectations. CLI:
//   npx tsx test/differential/compare.ts [scenario files…]      both runners, then compare
//   npx tsx test/differential/compare.ts --libvirt-only [files…] check scenarios against libvirt

/** Where intended differences are documented. */
export const DIFFERENCES_DOC = join(SUITE_DIR, '..', '..', 'docs', 'libvirt-differences.md');

/** How one step came out. */
export type StepVerdict = 'match' | 'documented' | 'mismatch';

/** One reported step. */
export interface StepReport {
  readonly scenario: string;
  readonly index: number;
  readonly step: Step;
  readonly verdict: StepVerdict;
  readonly libvirt: StepOutcome | undefined;
  readonly virtkit: StepOutcome | undefined;
  /** Why a step is a mismatch. */
  readonly reason?: string;
}

/** The comparer's findings. */
export interface ComparisonReport {
  readonly steps: number;
  readonly matches: number;
  readonly documented: number;
  /** Unexplained differences, stale or unknown difference markers, unmet `virtkitExpect`. */
  readonly mismatches: readonly StepReport[];
  /** Steps whose libvirt outcome is not what the scenario's `expect` says. */
  readonly expectationFailures: readonly StepReport[];
  /** Documented-difference steps (for the list of ids in use). */
  readonly differences: readonly StepReport[];
}

/**
 * The difference ids documented in docs/libvirt-differences.md (its `## D…` sections), or null
 * when the document is missing (then every difference marker is refused).
 */
export function documentedDifferenceIds(path = DIFFERENCES_DOC): ReadonlySet<string> | null {
  if (!existsSync(path)) return null;
  return new Set(
    [...readFileSync(path, 'utf8').matchAll(/^## (D\d+-[a-z0-9-]+)\s*$/gm)].map((m) => m[1] ?? ''),
  );
}

/**
 * Whether two outcomes are the same: equal results, or errors with equal codes and equal
 * messages once libvirt's message has lost the prefix libvirt derives from the code
 * (D20-error-messages; libvirt-messages.ts).
 */
export function sameOutcome(libvirt: StepOutcome, virtkit: StepOutcome): boolean {
  if (libvirt.ok && virtkit.ok) return deepEqual(libvirt.result, virtkit.result);
  if (!libvirt.ok && !virtkit.ok) {
    return (
      libvirt.code === virtkit.code && withoutLibvirtPrefix(libvirt.code, libvirt.message) === virtkit.message
    );
  }
  return false;
}

/** Compares the runs of both sides step by step. */
export function compareRuns(
  scenarios: readonly LoadedScenario[],
  libvirtRuns: readonly ScenarioRun[] | undefined,
  virtkitRuns: readonly ScenarioRun[] | undefined,
  knownIds: ReadonlySet<string> | null = documentedDifferenceIds(),
): ComparisonReport {
  const all: StepReport[] = [];
  const expectationFailures: StepReport[] = [];
  for (const { scenario } of scenarios) {
    const lv = libvirtRuns?.find((r) => r.name === scenario.name);
    const vk = virtkitRuns?.find((r) => r.name === scenario.name);
    scenario.steps.forEach((step, index) => {
      const libvirt = lv?.steps[index];
      const virtkit = vk?.steps[index];
      const report = judge(scenario.name, index, step, libvirt, virtkit, virtkitRuns !== undefined, knownIds);
      all.push(report);
      if (
        libvirtRuns !== undefined &&
        step.expect !== undefined &&
        (!libvirt || !satisfies(libvirt, step.expect, step.difference !== undefined))
      ) {
        expectationFailures.push({
          ...report,
          reason: `libvirt does not give expect ${JSON.stringify(step.expect)}`,
        });
      }
    });
  }
  return {
    steps: all.length,
    matches: all.filter((r) => r.verdict === 'match').length,
    documented: all.filter((r) => r.verdict === 'documented').length,
    mismatches: all.filter((r) => r.verdict === 'mismatch'),
    expectationFailures,
    differences: all.filter((r) => r.verdict === 'documented'),
  };
}

function judge(
  scenario: string,
  index: number,
  step: Step,
  libvirt: StepOutcome | undefined,
  virtkit: StepOutcome | undefined,
  haveVirtkit: boolean,
  knownIds: ReadonlySet<string> | null,
): StepReport {
  const base = { scenario, index, step, libvirt, virtkit };
  const id = step.difference;
  if (id !== undefined && knownIds?.has(id) !== true) {
    const why = knownIds === null ? 'is refused: there is no' : 'is not a section of';
    return { ...base, verdict: 'mismatch', reason: `difference ${id} ${why} docs/libvirt-differences.md` };
  }
  if (!haveVirtkit) return { ...base, verdict: 'match' };
  if (libvirt === undefined || virtkit === undefined) {
    return { ...base, verdict: 'mismatch', reason: `no outcome from ${libvirt ? 'virtkit' : 'libvirt'}` };
  }
  const same = sameOutcome(libvirt, virtkit);
  if (id === undefined) {
    if (same) return { ...base, verdict: 'match' };
    const onlyMessages = !libvirt.ok && !virtkit.ok && libvirt.code === virtkit.code;
    return { ...base, verdict: 'mismatch', reason: onlyMessages ? 'messages differ' : 'outcomes differ' };
  }
  if (same) {
    return {
      ...base,
      verdict: 'mismatch',
      reason: `stale difference marker ${id}: the outcomes are equal; remove the marker and its virtkitExpect`,
    };
  }
  if (step.virtkitExpect === undefined || !satisfies(virtkit, step.virtkitExpect, true)) {
    const want = JSON.stringify(step.virtkitExpect);
    return {
      ...base,
      verdict: 'mismatch',
      reason: `difference ${id}: virtkit does not give virtkitExpect ${want}`,
    };
  }
  return { ...base, verdict: 'documented' };
}

/** `N steps, M match, K documented differences, F mismatches`. */
export function summaryLine(report: ComparisonReport): string {
  return (
    `${report.steps} steps, ${report.matches} match, ${report.documented} documented differences, ` +
    `${report.mismatches.length} mismatches`
  );
}

/** Whether the report contains anything unexplained. */
export function reportFails(report: ComparisonReport): boolean {
  return report.mismatches.length > 0 || report.expectationFailures.length > 0;
}

function describeOutcome(o: StepOutcome | undefined): string {
  if (o === undefined) return '(none)';
  return o.ok ? `ok ${JSON.stringify(o.result)}` : `error ${o.code} (${o.libvirtCode}): ${o.message}`;
}

function describeStep(r: StepReport): string[] {
  const { op, note: _note, expect: _e, virtkitExpect: _v, difference, ...args } = r.step;
  const lines = [
    `- ${r.scenario} #${r.index} ${op} ${JSON.stringify(args)}${difference ? ` [${difference}]` : ''}`,
  ];
  if (r.step.note !== undefined) lines.push(`    note:    ${r.step.note}`);
  if (r.reason !== undefined) lines.push(`    reason:  ${r.reason}`);
  lines.push(`    libvirt: ${describeOutcome(r.libvirt)}`);
  if (r.virtkit !== undefined || r.verdict !== 'match')
    lines.push(`    virtkit: ${describeOutcome(r.virtkit)}`);
  return lines;
}

/** The full human-readable report, ending with the summary line. */
export function formatReport(report: ComparisonReport, options: { listDifferences?: boolean } = {}): string {
  const out: string[] = [];
  const section = (title: string, items: readonly StepReport[]): void => {
    if (items.length === 0) return;
    out.push(`${title} (${items.length}):`, ...items.flatMap(describeStep), '');
  };
  section('MISMATCHES', report.mismatches);
  section('EXPECTATION FAILURES (libvirt disagrees with the scenario)', report.expectationFailures);
  if (options.listDifferences === true) section('DOCUMENTED DIFFERENCES', report.differences);
  const ids = [...new Set(report.differences.map((d) => d.step.difference ?? ''))].sort((a, b) =>
    a.localeCompare(b, 'en', { numeric: true }),
  );
  if (ids.length > 0) out.push(`difference ids in use: ${ids.join(', ')}`);
  if (report.expectationFailures.length > 0) {
    out.push(`${report.expectationFailures.length} expectation failures`);
  }
  out.push(summaryLine(report));
  return out.join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const libvirtOnly = argv.includes('--libvirt-only');
  const verbose = argv.includes('--verbose');
  const files = argv.filter((a) => !a.startsWith('--')).map((f) => resolve(f));
  const scenarios = loadScenarios(files);
  const reason = libvirtUnavailableReason();
  if (reason !== undefined) {
    console.error(reason);
    return 2;
  }
  const libvirtRuns = await runAllOnLibvirt(scenarios);
  if (libvirtOnly) {
    const report = compareRuns(scenarios, libvirtRuns, undefined);
    console.log(formatReport(report, { listDifferences: verbose }).split('\n').slice(0, -1).join('\n'));
    console.log(
      `${report.steps} steps run on libvirt, ${report.expectationFailures.length} expectation failures, ` +
        `${report.mismatches.length} unknown difference ids`,
    );
    return reportFails(report) ? 1 : 0;
  }
  // Loaded lazily so that --libvirt-only works without a virtkit build.
  const { runAllOnVirtkit } = await import('./run-virtkit.js');
  const report = compareRuns(scenarios, libvirtRuns, await runAllOnVirtkit(scenarios));
  console.log(formatReport(report, { listDifferences: verbose }));
  return reportFails(report) ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2));
}
