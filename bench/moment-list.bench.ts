/**
 * MomentList benchmark: time per operation (median of several runs, ms) and heap, for
 * chain and bushy trees of 1 000, 10 000 and 100 000 moments, plus the 10k→100k growth
 * ratio (≈10 means linear). Figures only, no thresholds.
 *
 * Run: `npx tsx bench/moment-list.bench.ts` (add `node --expose-gc --import tsx …` for
 * heap figures taken after a full collection).
 */
import { performance } from 'node:perf_hooks';
import { MomentList } from 'virtkit';
import { rerunOnBuiltPackage } from './built-package.js';

interface Def {
  readonly name?: string;
  readonly parent?: string;
  readonly state?: string;
}

const SHAPES = ['chain', 'bushy'] as const;
type Shape = (typeof SHAPES)[number];
const SIZES = [1_000, 10_000, 100_000] as const;
const RUNS: Record<(typeof SIZES)[number], number> = { 1_000: 15, 10_000: 9, 100_000: 5 };

interface Op {
  readonly label: string;
  /** Fresh list per run (the operation destroys it); building is not timed. */
  readonly destructive?: boolean;
  run(list: MomentList<Def>, names: readonly string[]): unknown;
}

const OPS: readonly Op[] = [
  { label: 'list all', run: (l) => l.list(null) },
  { label: 'list roots', run: (l) => l.list(null, { roots: true }) },
  { label: 'list leaves', run: (l) => l.list(null, { leaves: true }) },
  { label: 'list topological', run: (l) => l.list(null, { topological: true }) },
  { label: 'descendants of first', run: (l, n) => l.list(n[0] ?? '', { descendants: true }) },
  { label: 'lookup by name ×N', run: lookupAll },
  { label: 'delete subtree (children)', destructive: true, run: (l, n) => l.remove(n[0] ?? '', 'children') },
  { label: 'delete one by one', destructive: true, run: deleteOneByOne },
];

const gc = (globalThis as { gc?: () => void }).gc;
let peakHeap = 0;

function heapNow(): number {
  const used = process.memoryUsage().heapUsed;
  peakHeap = Math.max(peakHeap, used);
  return used;
}

function namesFor(size: number): string[] {
  return Array.from({ length: size }, (_, i) => `snap-${i}`);
}

/** Creation as a driver does it: parent := current, then the new moment becomes current. */
function create(shape: Shape, names: readonly string[]): MomentList<Def> {
  const list = new MomentList<Def>('snapshot');
  const root = names[0] ?? '';
  for (const name of names) {
    if (shape === 'bushy' && list.has(root)) list.setCurrent(root);
    const parent = list.current;
    list.add(parent === undefined ? { name, state: 'running' } : { name, parent, state: 'running' });
    list.setCurrent(name);
  }
  return list;
}

function lookupAll(list: MomentList<Def>, names: readonly string[]): number {
  let found = 0;
  for (let i = 0, j = 7; i < names.length; i++, j = (j + 7919) % names.length) {
    if (list.require(names[j] ?? '').name !== undefined) found++;
  }
  return found;
}

function deleteOneByOne(list: MomentList<Def>, names: readonly string[]): number {
  for (const name of names) list.remove(name);
  return list.size;
}

function time(fn: () => unknown): number {
  const start = performance.now();
  fn();
  const ms = performance.now() - start;
  heapNow();
  return ms;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

interface Result {
  readonly times: Map<string, number>;
  readonly retainedMb: number;
  readonly peakMb: number;
}

function measure(shape: Shape, size: (typeof SIZES)[number]): Result {
  const names = namesFor(size);
  const runs = RUNS[size];
  const times = new Map<string, number>();
  gc?.();
  peakHeap = 0;
  const base = heapNow();
  times.set(
    'create (add+setCurrent)',
    median(Array.from({ length: runs }, () => time(() => create(shape, names)))),
  );
  gc?.();
  const list = create(shape, names);
  gc?.();
  const retained = heapNow() - base;
  for (const op of OPS) {
    const samples: number[] = [];
    for (let r = 0; r < runs; r++) {
      const target = op.destructive === true ? create(shape, names) : list;
      samples.push(time(() => op.run(target, names)));
    }
    times.set(op.label, median(samples));
  }
  return { times, retainedMb: retained / 2 ** 20, peakMb: (peakHeap - base) / 2 ** 20 };
}

function fmt(value: number, width: number, digits = 3): string {
  return value.toFixed(digits).padStart(width);
}

function printTable(shape: Shape, results: Map<number, Result>): void {
  const labels = [...(results.get(SIZES[0])?.times.keys() ?? [])];
  const col = 12;
  const head = [
    'operation'.padEnd(28),
    ...SIZES.map((s) => `${s}`.padStart(col)),
    '10k→100k'.padStart(10),
    'ns/moment@100k'.padStart(15),
  ];
  console.log(`\n${shape}: median ms per operation`);
  console.log(head.join(' '));
  console.log('-'.repeat(head.join(' ').length));
  for (const label of labels) {
    const cells = SIZES.map((s) => results.get(s)?.times.get(label) ?? NaN);
    const ratio = (cells[2] ?? NaN) / (cells[1] ?? NaN);
    const perMoment = ((cells[2] ?? NaN) * 1e6) / SIZES[2];
    console.log(
      [label.padEnd(28), ...cells.map((c) => fmt(c, col)), fmt(ratio, 10, 1), fmt(perMoment, 15, 0)].join(
        ' ',
      ),
    );
  }
  const heap = (key: 'retainedMb' | 'peakMb', label: string): void => {
    const cells = SIZES.map((s) => results.get(s)?.[key] ?? NaN);
    console.log(
      [
        label.padEnd(28),
        ...cells.map((c) => fmt(c, col, 1)),
        fmt((cells[2] ?? 0) / (cells[1] ?? 1), 10, 1),
      ].join(' '),
    );
  };
  heap('retainedMb', 'heap: one list (MB)');
  heap('peakMb', 'heap: peak above base (MB)');
}

function main(): void {
  console.log(
    `MomentList benchmark — node ${process.version}, runs per size ${JSON.stringify(RUNS)}, gc ${gc === undefined ? 'not exposed (heap figures include garbage)' : 'exposed'}`,
  );
  console.log(
    '10k→100k ≈ 10 is linear; above that at this step mostly means the 100k working set left the CPU caches.',
  );
  create('chain', namesFor(10_000)).list(null, { topological: true });
  for (const shape of SHAPES) {
    const results = new Map<number, Result>();
    for (const size of SIZES) results.set(size, measure(shape, size));
    printTable(shape, results);
  }
}

if (!(await rerunOnBuiltPackage())) main();
