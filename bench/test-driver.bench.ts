import { execFile } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { connect } from 'virtkit';
import { rerunOnBuiltPackage } from './built-package.js';

// The same snapshot workload on virtkit's test driver and on libvirt's (python3-libvirt), in one
// run: every (side, shape, size) runs in a fresh child process that times each call itself, so
// process start-up is excluded and peak RSS belongs to that workload alone.
//
//   npx tsx bench/test-driver.bench.ts [--sizes=1000,10000,100000] [--libvirt-max=100000] [--timeout=900]
//
// The libvirt half is bench/test-driver-bench.py; runWorkload() below must stay step for step
// identical to it. No thresholds: the issue's targets are reported against the measured ratios.

const SHAPES = ['chain', 'bushy'] as const;
type Shape = (typeof SHAPES)[number];
type Side = 'virtkit' | 'libvirt';

interface OpStats {
  count: number;
  medianNs: number;
  totalNs: number;
}

interface WorkerResult {
  side: Side;
  shape: Shape;
  n: number;
  ops: Record<string, OpStats>;
  counts: Record<string, number>;
  baselineKb: number;
  peakKb: number;
  wallNs: number;
  /** Set when the worker died after some phases: what happened and in which phase. */
  failure?: string;
}

type Outcome = WorkerResult | { side: Side; shape: Shape; n: number; skipped: string };

const FANOUT = 4;
const SEED = 12345;
// Enough untimed calls for V8 to optimise the hot paths (JIT); the Python side does the same work.
const WARM_UP = 3000;
const LIST_WARM_UP = 100;
const ROOTS_REPS = 1000;
// Cheap calls are timed in batches (one clock reading per batch, the mean per call recorded), so
// neither side's timing overhead is counted as the call's cost.
const BATCH = 50;
const SYSTEM_PYTHON = '/usr/bin/python3';
const PY_HELPER = fileURLToPath(new URL('./test-driver-bench.py', import.meta.url));
const SELF = fileURLToPath(import.meta.url);

/** The 31-bit LCG of the Python side, so both pick the same names. */
class Rng {
  #state = SEED;
  below(n: number): number {
    this.#state = Number((BigInt(this.#state) * 1103515245n + 12345n) % 2147483648n);
    return this.#state % n;
  }
}

const listReps = (n: number): number => (n <= 1000 ? 20 : n <= 10000 ? 10 : 3);
const name = (i: number): string => `s${i}`;
const xml = (i: number): string => `<domainsnapshot><name>${name(i)}</name></domainsnapshot>`;

function depth3Nodes(n: number): number[] {
  const first = 1 + FANOUT + FANOUT * FANOUT;
  return Array.from({ length: FANOUT ** 3 }, (_, k) => first + k).filter((i) => i < n);
}

class Samples {
  readonly #samples = new Map<string, number[]>();
  readonly counts: Record<string, number> = {};

  async timed<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint();
    const value = await fn();
    const elapsed = Number(process.hrtime.bigint() - start);
    const list = this.#samples.get(op) ?? [];
    list.push(elapsed);
    this.#samples.set(op, list);
    return value;
  }

  async timedBatch<T>(op: string, calls: readonly (() => Promise<T>)[]): Promise<T | undefined> {
    let value: T | undefined;
    const start = process.hrtime.bigint();
    for (const call of calls) value = await call();
    const elapsed = Number(process.hrtime.bigint() - start);
    const list = this.#samples.get(op) ?? [];
    list.push(Math.floor(elapsed / calls.length));
    this.#samples.set(op, list);
    return value;
  }

  stats(): Record<string, OpStats> {
    const out: Record<string, OpStats> = {};
    for (const [op, values] of this.#samples) {
      const sorted = [...values].sort((a, b) => a - b);
      out[op] = {
        count: sorted.length,
        medianNs: sorted[sorted.length >> 1] ?? 0,
        totalNs: sorted.reduce((a, b) => a + b, 0),
      };
    }
    return out;
  }
}

/** A small untimed round of every call on a throwaway world, so the JIT is warm (mirror of warm_up()). */
async function warmUp(): Promise<void> {
  const conn = await connect('test:///default');
  const dom = await conn.lookupDomainByName('test');
  for (let i = 0; i < WARM_UP; i++) await dom.createSnapshot(xml(i));
  for (const options of [{}, { roots: true }, { leaves: true }, { topological: true }]) {
    for (let r = 0; r < LIST_WARM_UP; r++) await dom.listSnapshots(options);
  }
  for (let i = 0; i < WARM_UP; i++) {
    await dom.lookupSnapshotByName(name(i));
    await dom.currentSnapshot();
  }
  for (let i = 0; i < WARM_UP; i += 10) {
    await (await dom.lookupSnapshotByName(name(i))).revert();
    await (await dom.lookupSnapshotByName(name(i + 1))).delete();
  }
  await (await dom.lookupSnapshotByName(name(0))).delete({ children: true });
  await conn.close();
}

/** The workload on virtkit's test driver (mirror of run() in test-driver-bench.py). */
async function runWorkload(shape: Shape, n: number): Promise<WorkerResult> {
  await warmUp();
  const s = new Samples();
  const conn = await connect('test:///default');
  const dom = await conn.lookupDomainByName('test');
  const baselineKb = process.resourceUsage().maxRSS;
  const wall = process.hrtime.bigint();
  const rng = new Rng();

  await s.timed('create', () => dom.createSnapshot(xml(0)));
  for (let i = 1; i < n; i++) {
    if (shape === 'bushy') {
      const parent = await dom.lookupSnapshotByName(name(Math.floor((i - 1) / FANOUT)));
      await s.timed('revert', () => parent.revert());
    }
    await s.timed('create', () => dom.createSnapshot(xml(i)));
  }

  const lists = { 'list all': {}, 'list roots': { roots: true }, 'list leaves': { leaves: true } };
  // Each list kind in its own loop: a cheap call measured right after a big allocation would
  // time the collector, not the call. Listing only the roots is cheap, so it gets more samples.
  for (const [op, options] of Object.entries(lists)) {
    if (op === 'list roots') {
      const calls = Array.from({ length: BATCH }, () => () => dom.listSnapshots(options));
      for (let r = 0; r < ROOTS_REPS; r += BATCH) s.counts[op] = (await s.timedBatch(op, calls))?.length ?? 0;
      continue;
    }
    for (let r = 0; r < listReps(n); r++) {
      s.counts[op] = (await s.timed(op, () => dom.listSnapshots(options))).length;
    }
  }

  const lookups = Math.min(n, 2000);
  const wanted = Array.from({ length: lookups }, () => name(rng.below(n)));
  for (let k = 0; k < lookups; k += BATCH) {
    await s.timedBatch(
      'lookup',
      wanted.slice(k, k + BATCH).map((w) => () => dom.lookupSnapshotByName(w)),
    );
  }
  const currents = Array.from({ length: BATCH }, () => () => dom.currentSnapshot());
  for (let k = 0; k < lookups; k += BATCH) await s.timedBatch('current', currents);
  if (shape === 'chain') {
    for (let j = 0; j < Math.min(n, 500); j++) {
      const snap = await dom.lookupSnapshotByName(name(rng.below(n)));
      await s.timed('revert', () => snap.revert());
    }
  }

  for (let r = 0; r < listReps(n); r++) {
    const list = await s.timed('list topological', () => dom.listSnapshots({ topological: true }));
    s.counts['list topological'] = list.length;
  }

  const deleted = new Set<number>();
  const order: number[] = [];
  while (deleted.size < Math.min(Math.floor(n / 10), 200)) {
    const i = 1 + rng.below(n - 1);
    if (deleted.has(i)) continue;
    deleted.add(i);
    order.push(i);
  }
  for (let k = 0; k < order.length; k += BATCH / 5) {
    const snaps = await Promise.all(
      order.slice(k, k + BATCH / 5).map((i) => dom.lookupSnapshotByName(name(i))),
    );
    await s.timedBatch(
      'delete',
      snaps.map((snap) => () => snap.delete()),
    );
  }

  if (shape === 'chain') {
    let alive = Array.from({ length: n }, (_, i) => i).filter((i) => !deleted.has(i));
    const step = Math.max(1, Math.floor(n / 100));
    for (let k = 0; k < 10; k++) {
      const snap = await dom.lookupSnapshotByName(name(alive[alive.length - step] ?? 0));
      await s.timed('delete children', () => snap.delete({ children: true }));
      alive = alive.slice(0, alive.length - step);
    }
  } else {
    for (const i of depth3Nodes(n)
      .filter((i) => !deleted.has(i))
      .slice(0, 10)) {
      const snap = await dom.lookupSnapshotByName(name(i));
      await s.timed('delete children', () => snap.delete({ children: true }));
    }
  }
  s.counts.left = (await dom.listSnapshots()).length;

  const wallNs = Number(process.hrtime.bigint() - wall);
  const peakKb = process.resourceUsage().maxRSS;
  await conn.close();
  return { side: 'virtkit', shape, n, ops: s.stats(), counts: s.counts, baselineKb, peakKb, wallNs };
}

function runChild(side: Side, shape: Shape, n: number, timeoutS: number): Promise<Outcome> {
  const [cmd, args] =
    side === 'virtkit'
      ? [process.execPath, ['--import', 'tsx', SELF, '--worker', shape, String(n)]]
      : [SYSTEM_PYTHON, [PY_HELPER, shape, String(n)]];
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutS * 1000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      // Workers print their cumulative result after each phase: the last line is the latest.
      const last = stdout.trim().split('\n').at(-1) ?? '';
      const result = last.startsWith('{') ? (JSON.parse(last) as WorkerResult) : undefined;
      if (err === null && result !== undefined) {
        resolve(result);
        return;
      }
      const phase = [...stderr.matchAll(/^phase: (.*)$/gm)].at(-1)?.[1] ?? 'start-up';
      const what = err?.killed
        ? `not finished within ${timeoutS} s`
        : err?.signal
          ? `crashed (${err.signal})`
          : `failed: ${stderr.trim().split('\n').at(-1) ?? ''}`;
      const failure = `${what} during ${phase}`;
      resolve(result === undefined ? { side, shape, n, skipped: failure } : { ...result, failure });
    });
  });
}

// -- report --------------------------------------------------------------------------------

const OPS = [
  'create',
  'list all',
  'list roots',
  'list leaves',
  'list topological',
  'lookup',
  'current',
  'revert',
  'delete',
  'delete children',
] as const;
const TARGETS: Record<string, number> = {
  create: 10,
  'list all': 2,
  'list roots': 2,
  'list leaves': 2,
  'list topological': 2,
  lookup: 2,
  delete: 2,
  'delete children': 2,
};

function fmtNs(ns: number | undefined): string {
  if (ns === undefined) return '—';
  if (ns < 1e3) return `${ns.toFixed(0)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toPrecision(3)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toPrecision(3)} ms`;
  return `${(ns / 1e9).toPrecision(3)} s`;
}

const fmtX = (x: number | undefined): string =>
  x === undefined ? '—' : `${x >= 100 ? x.toFixed(0) : x.toPrecision(3)}×`;
const mb = (kb: number): string => (kb / 1024).toFixed(1);

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  const line = (r: string[]): string => `| ${r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join(' | ')} |`;
  const [head, ...body] = rows;
  return [line(head ?? []), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join(
    '\n',
  );
}

const isResult = (o: Outcome | undefined): o is WorkerResult => o !== undefined && 'ops' in o;

function speedup(vk: Outcome | undefined, lv: Outcome | undefined, op: string): number | undefined {
  if (!isResult(vk) || !isResult(lv)) return undefined;
  const a = vk.ops[op]?.medianNs;
  const b = lv.ops[op]?.medianNs;
  return a === undefined || b === undefined || a === 0 ? undefined : b / a;
}

function report(results: Outcome[], sizes: number[]): string {
  const find = (side: Side, shape: Shape, n: number) =>
    results.find((r) => r.side === side && r.shape === shape && r.n === n);
  const out: string[] = [];
  for (const shape of SHAPES) {
    const rows = [['operation', ...sizes.flatMap((n) => [`virtkit ${n}`, `libvirt ${n}`, `speed-up ${n}`])]];
    for (const op of OPS) {
      rows.push([
        op,
        ...sizes.flatMap((n) => {
          const vk = find('virtkit', shape, n);
          const lv = find('libvirt', shape, n);
          const med = (o: Outcome | undefined) => (isResult(o) ? fmtNs(o.ops[op]?.medianNs) : '—');
          return [med(vk), med(lv), fmtX(speedup(vk, lv, op))];
        }),
      ]);
    }
    out.push(
      `### ${shape}: per-operation medians (speed-up = libvirt time ÷ virtkit time)`,
      '',
      table(rows),
      '',
    );
  }

  const lin = [['side', 'shape', ...sizes.map((n) => `create total ${n}`), 'growth per 10× size']];
  for (const side of ['virtkit', 'libvirt'] as const) {
    for (const shape of SHAPES) {
      const totals = sizes.map((n) => {
        const r = find(side, shape, n);
        return isResult(r) ? r.ops.create?.totalNs : undefined;
      });
      const growth = totals
        .slice(1)
        .map((t, i) => (t === undefined || totals[i] === undefined ? '—' : fmtX(t / (totals[i] ?? 1))));
      lin.push([side, shape, ...totals.map(fmtNs), growth.join(', ')]);
    }
  }
  out.push('### near-linearity: total create time', '', table(lin), '');

  const mem = [['side', 'shape', 'n', 'baseline MB', 'peak MB', 'growth MB', 'bytes/snapshot', 'wall']];
  for (const r of results) {
    if (!isResult(r)) {
      mem.push([r.side, r.shape, String(r.n), r.skipped, '', '', '', '']);
      continue;
    }
    const growthKb = r.peakKb - r.baselineKb;
    mem.push([
      r.side,
      r.shape,
      String(r.n),
      mb(r.baselineKb),
      mb(r.peakKb),
      mb(growthKb),
      ((growthKb * 1024) / r.n).toFixed(0),
      fmtNs(r.wallNs),
    ]);
  }
  out.push('### peak memory (RSS of each worker process)', '', table(mem), '');
  const failures = results.filter(isResult).filter((r) => r.failure !== undefined);
  if (failures.length > 0) {
    out.push('### workers that died (their tables show only the phases before)', '');
    for (const r of failures) out.push(`- ${r.side} ${r.shape} ${r.n}: ${r.failure}`);
    out.push('');
  }
  out.push(...targets(results, sizes, find), ...consistency(results));
  return out.join('\n');
}

function targets(
  results: Outcome[],
  sizes: number[],
  find: (side: Side, shape: Shape, n: number) => Outcome | undefined,
): string[] {
  const lines = ['### targets of issue 3 (measured minimum over shapes and sizes)', ''];
  for (const [op, want] of Object.entries(TARGETS)) {
    const ratios = SHAPES.flatMap((shape) =>
      sizes.map((n) => speedup(find('virtkit', shape, n), find('libvirt', shape, n), op)),
    ).filter((x): x is number => x !== undefined);
    if (ratios.length === 0) continue;
    const min = Math.min(...ratios);
    lines.push(
      `${min >= want ? '✓' : '✗'} ${op}: ≥ ${want}× wanted, measured ${fmtX(min)} … ${fmtX(Math.max(...ratios))}`,
    );
  }
  const growths = SHAPES.flatMap((shape) => {
    const totals = sizes.map((n) => {
      const r = find('virtkit', shape, n);
      return isResult(r) ? r.ops.create?.totalNs : undefined;
    });
    return totals
      .slice(1)
      .flatMap((t, i) => (t === undefined || totals[i] === undefined ? [] : [t / (totals[i] ?? 1)]));
  });
  if (growths.length > 0) {
    const worst = Math.max(...growths);
    lines.push(
      `${worst <= 15 ? '✓' : '✗'} near-linear create (virtkit): worst growth ${fmtX(worst)} per 10× size (≤ 15× counted as near-linear)`,
    );
  }
  // RSS is a high-water mark and both sides first build a WARM_UP-snapshot world, so only runs
  // larger than that world can show how much a workload grows.
  const memSizes = sizes.filter((n) => n > WARM_UP);
  const mem = SHAPES.flatMap((shape) =>
    memSizes.flatMap((n) => {
      const vk = find('virtkit', shape, n);
      const lv = find('libvirt', shape, n);
      return isResult(vk) && isResult(lv)
        ? [[vk.peakKb - vk.baselineKb, lv.peakKb - lv.baselineKb] as const]
        : [];
    }),
  );
  if (mem.length > 0) {
    const less = mem.filter(([a, b]) => a < b).length;
    const peakLess = SHAPES.flatMap((shape) =>
      memSizes.flatMap((n) => {
        const vk = find('virtkit', shape, n);
        const lv = find('libvirt', shape, n);
        return isResult(vk) && isResult(lv) ? [vk.peakKb < lv.peakKb] : [];
      }),
    ).filter(Boolean).length;
    lines.push(
      `${less === mem.length ? '✓' : '✗'} less memory: workload RSS growth lower in ${less}/${mem.length} runs ` +
        `of more than ${WARM_UP} snapshots; total peak RSS lower in ${peakLess}/${mem.length} ` +
        `(Node's baseline is larger than Python's)`,
    );
  }
  lines.push('');
  return lines;
}

function consistency(results: Outcome[]): string[] {
  const lines: string[] = [];
  for (const vk of results.filter(isResult).filter((r) => r.side === 'virtkit')) {
    const lv = results
      .filter(isResult)
      .find((r) => r.side === 'libvirt' && r.shape === vk.shape && r.n === vk.n);
    if (lv === undefined) continue;
    for (const [key, value] of Object.entries(lv.counts)) {
      if (vk.counts[key] !== value) {
        lines.push(`! ${vk.shape} ${vk.n}: '${key}' gave ${vk.counts[key]} on virtkit, ${value} on libvirt`);
      }
    }
  }
  return lines.length > 0 ? ['### result counts that differ between the sides', '', ...lines, ''] : [];
}

function option(argv: string[], key: string, fallback: string): string {
  return argv.find((a) => a.startsWith(`--${key}=`))?.slice(key.length + 3) ?? fallback;
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--worker') {
    const result = await runWorkload(argv[1] as Shape, Number(argv[2]));
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const sizes = option(argv, 'sizes', '1000,10000,100000').split(',').map(Number);
  const libvirtMax = Number(option(argv, 'libvirt-max', '100000'));
  const timeoutS = Number(option(argv, 'timeout', '900'));
  const results: Outcome[] = [];
  for (const shape of SHAPES) {
    for (const n of sizes) {
      for (const side of ['virtkit', 'libvirt'] as const) {
        const outcome =
          side === 'libvirt' && n > libvirtMax
            ? { side, shape, n, skipped: `not run (--libvirt-max=${libvirtMax})` }
            : await runChild(side, shape, n, timeoutS);
        const note = isResult(outcome)
          ? `${fmtNs(outcome.wallNs)}${outcome.failure ? `, ${outcome.failure}` : ''}`
          : outcome.skipped;
        process.stderr.write(`${side} ${shape} ${n}: ${note}\n`);
        results.push(outcome);
      }
    }
  }
  console.log(
    `## virtkit vs libvirt test driver — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}\n`,
  );
  console.log(report(results, sizes));
}

if (!(await rerunOnBuiltPackage())) await main(process.argv.slice(2));
