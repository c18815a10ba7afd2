/**
 * qemu driver, shut-off domains: each operation through virtkit, through the very qemu-img
 * commands virtkit ran for it (replayed raw) and through libvirt's qemu driver, in one run.
 *
 * - virtkit: a warm connection (as an application keeps one open) whose injected runner records
 *   every qemu-img argv and the wall time during which one was running.
 * - raw: the recorded argv (paths mapped) replayed with `execFile` one after the other on an
 *   identically prepared second world. virtkit runs its read-only pre-checks (`qemu-img info`)
 *   concurrently, the replay sequentially; "virtkit outside qemu-img" (wall time with no
 *   qemu-img running) is the cost of virtkit's own work: locking, journal and metadata writes
 *   with fsync, XML, checks.
 * - libvirt: qemu:///system (libvirtd, started with ../shared/tools/start-libvirtd.sh when it
 *   is not running and stopped again at the end) driven by bench/qemu-offline-libvirt.py under
 *   Debian's /usr/bin/python3 (python3-libvirt), which times each call with
 *   time.perf_counter_ns: no process start, no connecting, no JSON round trip.
 *
 * Every run of every side starts from fresh images (two 16 MiB qcow2 disks, 1 MiB written) in
 * the operation's start state, reached through that side's own API. The sides take turns in all
 * six orders; medians over the runs. Where a side refuses an operation, its exact error is
 * printed in the row; a side that is refused after some runs keeps the samples it has, and its
 * cell and the notes under the table say how many and why. No thresholds: the
 * issue's 15 % overhead target is marked ✓/✗.
 *
 * Run: `npx tsx bench/qemu-offline.bench.ts [--runs=15] [--no-libvirt]`
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { connect, isVirtError, type Domain } from 'virtkit';
import { rerunOnBuiltPackage } from './built-package.js';
import { openLibvirt, stopLibvirtd, type Libvirt, type LibvirtWorker, type WorkerAnswer } from './libvirt.js';

const RUNS = Number(
  /^--runs=(\d+)$/.exec(process.argv.find((a) => a.startsWith('--runs=')) ?? '')?.[1] ?? 15,
);
const WITH_LIBVIRT = !process.argv.includes('--no-libvirt');
const WARMUP = 2;
const QEMU_IMG = 'qemu-img';
const PY_WORKER = fileURLToPath(new URL('./qemu-offline-libvirt.py', import.meta.url));
const DOMAIN_PREFIX = 'virtkit-bench-';

/** ../shared/tools/libvirt-tiny-domain.xml: what libvirt needs to define (and, for block jobs, start) it. */
const DOMAIN_MODEL = `<domain type='qemu'>
  <name>NAME</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='IMAGES/vda.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='IMAGES/vdb.qcow2'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>`;

type Argv = readonly string[];

/** One API call, the same on both sides (libvirt-only kinds are for reaching a start state). */
type Call =
  | { readonly kind: 'snapshot'; readonly name: string; readonly diskOnly?: boolean }
  | { readonly kind: 'revert'; readonly name: string }
  | { readonly kind: 'delete'; readonly name: string }
  | { readonly kind: 'checkpoint'; readonly name: string }
  | { readonly kind: 'deleteCheckpoint'; readonly name: string }
  | { readonly kind: 'redefineCheckpoint'; readonly name: string; readonly parent?: string };

/** A call, or a guest write (`qemu-io write -P pattern`) into every disk's current image. */
type Step = Call | { readonly kind: 'write'; readonly pattern: number };

interface Op {
  readonly label: string;
  /** From a freshly defined domain to the state the operation starts from. */
  readonly prepare: readonly Step[];
  readonly run: Call;
  /** Replaces `prepare` for libvirt where it refuses a step needed only to get there. */
  readonly libvirtPrepare?: readonly Step[];
  /** What libvirt 9.0 does for it on an inactive domain. */
  readonly libvirtWork: string;
}

const OPS: readonly Op[] = [
  {
    label: 'internal snapshot create',
    prepare: [{ kind: 'snapshot', name: 'base' }],
    run: { kind: 'snapshot', name: 'new' },
    libvirtWork: '`qemu-img snapshot -c` per disk, no `qemu-img info` first; snapshot XML saved',
  },
  {
    label: 'internal snapshot revert',
    prepare: [
      { kind: 'snapshot', name: 's1' },
      { kind: 'write', pattern: 0x22 },
      { kind: 'snapshot', name: 's2' },
    ],
    run: { kind: 'revert', name: 's1' },
    libvirtWork: '`qemu-img snapshot -a` per disk (no undo across disks); snapshot XML saved',
  },
  {
    label: 'internal snapshot delete',
    prepare: [
      { kind: 'snapshot', name: 's1' },
      { kind: 'snapshot', name: 's2' },
    ],
    run: { kind: 'delete', name: 's1' },
    libvirtWork: '`qemu-img snapshot -d` per disk; child re-parented, snapshot XML saved',
  },
  {
    label: 'external snapshot create',
    prepare: [],
    run: { kind: 'snapshot', name: 'e1', diskOnly: true },
    libvirtWork:
      '`qemu-img create -f qcow2 -o backing_fmt=qcow2,backing_file=…` per disk; domain config and snapshot XML saved',
  },
  {
    label: 'external snapshot revert',
    prepare: [
      { kind: 'snapshot', name: 'e1', diskOnly: true },
      { kind: 'write', pattern: 0x22 },
    ],
    run: { kind: 'revert', name: 'e1' },
    libvirtWork: 'refused (libvirt ≥ 9.7 reverts external snapshots)',
  },
  {
    label: 'external snapshot delete',
    prepare: [
      { kind: 'snapshot', name: 'e1', diskOnly: true },
      { kind: 'write', pattern: 0x22 },
    ],
    run: { kind: 'delete', name: 'e1' },
    libvirtWork:
      'starts QEMU paused (`-S`) for the inactive domain, block-commits each overlay into its base ' +
      'and pivots, stops QEMU, removes the overlays; domain config saved',
  },
  {
    label: 'checkpoint create',
    prepare: [{ kind: 'checkpoint', name: 'c1' }],
    run: { kind: 'checkpoint', name: 'c2' },
    libvirtPrepare: [],
    libvirtWork: 'refused on inactive domains',
  },
  {
    label: 'checkpoint delete',
    prepare: [
      { kind: 'checkpoint', name: 'c1' },
      { kind: 'write', pattern: 0x33 },
      { kind: 'checkpoint', name: 'c2' },
    ],
    run: { kind: 'deleteCheckpoint', name: 'c2' },
    libvirtPrepare: [
      { kind: 'redefineCheckpoint', name: 'c1' },
      { kind: 'redefineCheckpoint', name: 'c2', parent: 'c1' },
    ],
    libvirtWork: 'refused on inactive domains (checkpoints redefined as metadata only to get there)',
  },
];

const SIDES = ['virtkit', 'raw', 'libvirt'] as const;
type Side = (typeof SIDES)[number];

/** All orders of the three sides, taken in turn, so no side always runs first or last. */
const ORDERS: readonly (readonly Side[])[] = SIDES.flatMap((a) =>
  SIDES.filter((b) => b !== a).flatMap((b) => SIDES.filter((c) => c !== a && c !== b).map((c) => [a, b, c])),
);

function describe(call: Call): string {
  switch (call.kind) {
    case 'snapshot':
      return `${call.diskOnly === true ? 'disk-only ' : ''}snapshot '${call.name}'`;
    case 'revert':
      return `revert to '${call.name}'`;
    case 'delete':
      return `delete snapshot '${call.name}'`;
    case 'checkpoint':
      return `checkpoint '${call.name}'`;
    case 'deleteCheckpoint':
      return `delete checkpoint '${call.name}'`;
    case 'redefineCheckpoint':
      return `redefine checkpoint '${call.name}'`;
    default:
      return unreachable(call);
  }
}

function unreachable(value: never): never {
  throw new Error(`unexpected ${JSON.stringify(value)}`);
}

/** Thrown where a side refuses an operation or a step leading to it; the message is printed. */
class Refusal extends Error {}

function refusalOf(err: unknown): Refusal {
  if (err instanceof Refusal) return err;
  if (isVirtError(err)) return new Refusal(`${err.code}: ${err.message}`);
  return new Refusal(err instanceof Error ? err.message : String(err));
}

// ---------------------------------------------------------------- images

interface World {
  readonly dir: string;
  readonly uri: string;
  readonly disks: readonly string[];
}

function newWorld(): World {
  const dir = mkdtempSync(join(tmpdir(), DOMAIN_PREFIX));
  mkdirSync(join(dir, 'images'));
  const disks = ['vda', 'vdb'].map((d) => join(dir, 'images', `${d}.qcow2`));
  for (const path of disks) execFileSync(QEMU_IMG, ['create', '-q', '-f', 'qcow2', path, '16M']);
  writeImages(disks, 0x11);
  return { dir, uri: `qemu:///embed?root=${join(dir, 'root')}`, disks };
}

function writeImages(paths: readonly string[], pattern: number): void {
  for (const path of paths) execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -P ${pattern} 0 1M`, path]);
}

function domainXml(world: World, name: string): string {
  return DOMAIN_MODEL.replace('NAME', name).replaceAll('IMAGES', join(world.dir, 'images'));
}

/** The current image of every disk, from a domain definition. */
function sources(xml: string): string[] {
  return [...xml.matchAll(/<source\s+file=(['"])([^'"]*)\1/g)].map((m) => m[2] ?? '');
}

function exec(argv: Argv): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      QEMU_IMG,
      [...argv],
      { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
      (err, stdout, stderr) => (err === null ? resolve({ stdout, stderr }) : reject(err)),
    );
  });
}

// ---------------------------------------------------------------- virtkit and raw

/** Wall time during which at least one command was running (concurrent ones count once). */
class Busy {
  total = 0;
  #running = 0;
  #since = 0;

  enter(): void {
    if (this.#running++ === 0) this.#since = performance.now();
  }

  leave(): void {
    if (--this.#running === 0) this.total += performance.now() - this.#since;
  }
}

/** The virtkit call for a step, lookups done, ready to be timed. */
async function virtkitCall(dom: Domain, call: Call): Promise<() => Promise<unknown>> {
  switch (call.kind) {
    case 'snapshot': {
      const xml = `<domainsnapshot><name>${call.name}</name></domainsnapshot>`;
      return () => dom.createSnapshot(xml, call.diskOnly === true ? { diskOnly: true } : {});
    }
    case 'revert': {
      const snap = await dom.lookupSnapshotByName(call.name);
      return () => snap.revert();
    }
    case 'delete': {
      const snap = await dom.lookupSnapshotByName(call.name);
      return () => snap.delete();
    }
    case 'checkpoint': {
      const xml = `<domaincheckpoint><name>${call.name}</name></domaincheckpoint>`;
      return () => dom.createCheckpoint(xml);
    }
    case 'deleteCheckpoint': {
      const ckpt = await dom.lookupCheckpointByName(call.name);
      return () => ckpt.delete();
    }
    case 'redefineCheckpoint':
      throw new Error('redefineCheckpoint is a libvirt-only preparation step');
    default:
      return unreachable(call);
  }
}

interface VirtkitWorld {
  readonly world: World;
  /** The qemu-img argv of the timed operation, in the order they started. */
  readonly recorded: Argv[];
  /** Runs the operation once: its wall time and the part of it no qemu-img was running. */
  timed(): Promise<{ wall: number; own: number }>;
  dispose(): Promise<void>;
}

/**
 * A world in the operation's start state, with a warm connection whose runner records argv
 * (and when qemu-img was running) during the timed operation.
 * @throws Refusal when virtkit refuses a preparation step.
 */
async function preparedVirtkit(op: Op): Promise<VirtkitWorld> {
  const world = newWorld();
  const recorded: Argv[] = [];
  const busy = new Busy();
  let recording = false;
  const runner = async (_file: string, args: Argv) => {
    if (!recording) return exec(args);
    recorded.push([...args]);
    busy.enter();
    try {
      return await exec(args);
    } finally {
      busy.leave();
    }
  };
  const conn = await connect(world.uri, { driverOptions: { runner } });
  const dispose = async () => {
    await conn.close();
    rmSync(world.dir, { recursive: true, force: true });
  };
  try {
    const dom = await conn.defineDomain(domainXml(world, 'vm'));
    for (const step of op.prepare) {
      if (step.kind === 'write') writeImages(sources(await dom.getXml({ inactive: true })), step.pattern);
      else await (await virtkitCall(dom, step))();
    }
    await dom.listSnapshots();
    return {
      world,
      recorded,
      async timed() {
        const call = await virtkitCall(dom, op.run);
        recording = true;
        const t = performance.now();
        try {
          await call();
        } catch (err) {
          throw refusalOf(err);
        } finally {
          recording = false;
        }
        const wall = performance.now() - t;
        return { wall, own: wall - busy.total };
      },
      dispose,
    };
  } catch (err) {
    await dispose();
    throw new Refusal(`preparation refused: ${refusalOf(err).message}`);
  }
}

async function replay(commands: readonly Argv[], from: string, to: string): Promise<number> {
  const mapped = commands.map((argv) => argv.map((a) => a.replaceAll(from, to)));
  const t = performance.now();
  for (const argv of mapped) await exec(argv);
  return performance.now() - t;
}

// ---------------------------------------------------------------- libvirt

interface OfflineAnswer extends WorkerAnswer {
  ns?: number;
  sources?: string[];
}

type LibvirtWorkerOf = LibvirtWorker<OfflineAnswer>;

/** libvirtd on qemu:///system and the python worker, or why the libvirt column is missing. */
function setUpLibvirt(): Promise<Libvirt<OfflineAnswer> | string> {
  return openLibvirt<OfflineAnswer>(PY_WORKER, (message) => new Refusal(message));
}

let libvirtWorlds = 0;

/**
 * A libvirt-defined domain on a fresh world in the operation's start state.
 * @throws Refusal when libvirt refuses a preparation step.
 */
async function preparedLibvirt(worker: LibvirtWorkerOf, op: Op) {
  const world = newWorld();
  const dispose = async () => {
    await worker.request({ cmd: 'undefine' });
    rmSync(world.dir, { recursive: true, force: true });
  };
  try {
    await worker.must({
      cmd: 'define',
      xml: domainXml(world, `${DOMAIN_PREFIX}${process.pid}-${libvirtWorlds++}`),
    });
    for (const step of op.libvirtPrepare ?? op.prepare) {
      if (step.kind === 'write') {
        writeImages((await worker.must({ cmd: 'sources' })).sources ?? [], step.pattern);
        continue;
      }
      const answer = await worker.request({ cmd: 'step', step });
      if (!answer.ok) throw new Refusal(`${describe(step)}: ${answer.error ?? 'unknown error'}`);
    }
  } catch (err) {
    await dispose();
    throw new Refusal(`preparation refused: ${refusalOf(err).message}`);
  }
  return {
    /** The operation's wall time in ms, timed inside python. */
    async timed(): Promise<number> {
      return ((await worker.must({ cmd: 'step', step: op.run })).ns ?? NaN) / 1e6;
    },
    dispose,
  };
}

// ---------------------------------------------------------------- measuring

interface Samples {
  readonly ms: number[];
  refused?: string;
}

interface Measured {
  readonly op: Op;
  readonly sides: Record<Side, Samples>;
  readonly own: number[];
  commands: string;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

/** Runs `fn`, recording a refusal on `samples` instead of throwing; undefined when refused. */
async function attempt<T>(samples: Samples, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    samples.refused = refusalOf(err).message;
    return undefined;
  }
}

async function measure(op: Op, libvirt: Libvirt | undefined): Promise<Measured> {
  const sides: Record<Side, Samples> = { virtkit: { ms: [] }, raw: { ms: [] }, libvirt: { ms: [] } };
  const result: Measured = { op, sides, own: [], commands: '' };
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const keep = i >= WARMUP;
    const vk =
      sides.virtkit.refused === undefined
        ? await attempt(sides.virtkit, () => preparedVirtkit(op))
        : undefined;
    const rawWorld = vk === undefined ? undefined : await attempt(sides.raw, () => preparedVirtkit(op));
    const lv =
      libvirt !== undefined && sides.libvirt.refused === undefined
        ? await attempt(sides.libvirt, () => preparedLibvirt(libvirt.worker, op))
        : undefined;
    let virtkitRan = false;
    for (const side of ORDERS[i % ORDERS.length] ?? SIDES) {
      switch (side) {
        case 'virtkit':
          if (vk === undefined) break;
          virtkitRan = true;
          await attempt(sides.virtkit, async () => {
            const { wall, own } = await vk.timed();
            result.commands = vk.recorded.map((c) => c.slice(0, 2).join(' ')).join(', ');
            if (!keep) return;
            sides.virtkit.ms.push(wall);
            result.own.push(own);
          });
          break;
        case 'raw':
          if (vk === undefined || rawWorld === undefined || sides.virtkit.refused !== undefined) break;
          await attempt(sides.raw, async () => {
            const source = virtkitRan ? vk : await probe(op);
            const ms = await replay(source.recorded, source.world.dir, rawWorld.world.dir);
            if (source !== vk) await source.dispose();
            if (keep) sides.raw.ms.push(ms);
          });
          break;
        case 'libvirt':
          if (lv === undefined) break;
          await attempt(sides.libvirt, async () => {
            const ms = await lv.timed();
            if (keep) sides.libvirt.ms.push(ms);
          });
          break;
        default:
          unreachable(side);
      }
    }
    for (const w of [vk, rawWorld, lv]) await w?.dispose();
  }
  return result;
}

/** virtkit's commands for the operation before virtkit's timed run (raw goes first this time). */
async function probe(op: Op): Promise<VirtkitWorld> {
  const p = await preparedVirtkit(op);
  try {
    await p.timed();
  } catch (err) {
    await p.dispose();
    throw err;
  }
  return p;
}

// ---------------------------------------------------------------- report

const ms = (x: number): string => x.toFixed(1);

/** A median; a side that stopped partway (refused after some runs) says how many samples it holds. */
function cell(side: Side, s: Samples): string {
  if (s.ms.length === RUNS) return ms(median(s.ms));
  if (s.ms.length > 0) return `${ms(median(s.ms))} (${s.ms.length} of ${RUNS} samples)`;
  return s.refused === undefined ? '—' : `${side}: refused (${s.refused})`;
}

/** Why a side holds fewer samples than runs, for the notes under the table. */
function partial(m: Measured): string[] {
  return SIDES.flatMap((side) => {
    const s = m.sides[side];
    if (s.ms.length === 0 || s.ms.length === RUNS) return [];
    const why = s.refused === undefined ? 'not run' : `then refused: ${s.refused}`;
    return [`- ${m.op.label}, ${side}: ${s.ms.length} of ${RUNS} samples, ${why}`];
  });
}

function overhead(m: Measured): string {
  const { virtkit, raw } = m.sides;
  if (virtkit.ms.length === 0 || raw.ms.length === 0) return '—';
  const pct = ((median(virtkit.ms) - median(raw.ms)) / median(raw.ms)) * 100;
  return `${pct >= 0 ? '+' : '−'}${Math.abs(pct).toFixed(1)} % ${pct <= 15 ? '✓' : '✗'}`;
}

function speed(m: Measured): string {
  const { virtkit, libvirt } = m.sides;
  if (virtkit.ms.length === 0 || libvirt.ms.length === 0) return '—';
  const ratio = median(libvirt.ms) / median(virtkit.ms);
  return ratio >= 1 ? `${ratio.toFixed(2)}× faster` : `${(1 / ratio).toFixed(2)}× slower`;
}

function report(rows: readonly Measured[], libvirtLine: string, stopped: string | undefined): void {
  console.log(
    `qemu driver, shut-off domain with 2 qcow2 disks (16 MiB, 1 MiB written): medians of ${RUNS} runs ` +
      `(+${WARMUP} warm-up) per side, ms\n${libvirtLine}\n`,
  );
  console.log(
    '| operation | raw qemu-img | virtkit | libvirt | virtkit vs raw (overhead, target ≤ 15 %) | virtkit vs libvirt (speed) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const m of rows) {
    const { raw, virtkit, libvirt } = m.sides;
    console.log(
      `| ${m.op.label} | ${virtkit.refused === undefined || raw.ms.length > 0 ? cell('raw', raw) : '—'} | ${cell('virtkit', virtkit)} | ${cell('libvirt', libvirt)} | ` +
        `${overhead(m)} | ${speed(m)} |`,
    );
  }
  const partials = rows.flatMap(partial);
  console.log(
    partials.length === 0
      ? `\nEvery cell with a figure holds all ${RUNS} samples.`
      : `\nCells with fewer than ${RUNS} samples:\n${partials.join('\n')}`,
  );
  console.log('\nWork done per operation\n');
  console.log('| operation | qemu-img commands virtkit ran | virtkit outside qemu-img (ms) | libvirt 9.0 |');
  console.log('|---|---|---:|---|');
  for (const m of rows) {
    const own = m.own.length > 0 ? ms(median(m.own)) : '—';
    console.log(`| ${m.op.label} | ${m.commands === '' ? '—' : m.commands} | ${own} | ${m.op.libvirtWork} |`);
  }
  console.log(`
Notes
- raw: virtkit's own argv replayed sequentially; virtkit runs its read-only \`qemu-img info\`
  pre-checks concurrently, so it can beat the replay.
- virtkit's own time: per-domain lock file, an intent journal (fsynced) for every multi-step
  operation, metadata written atomically (temp file, fsync, rename), checks of every image
  before anything changes. An internal revert takes a temporary safety snapshot on every disk
  first (\`snapshot -c\`, then \`-a\`, then \`-d\`) so a failure on the second disk can be undone.
- libvirt: one RPC round trip to libvirtd, its in-memory job lock, metadata saved with
  virFileRewrite (write, fsync, rename); no journal, no cross-process lock; its qemu-img calls
  run one after the other without the \`qemu-img info\` pre-checks.`);
  if (stopped !== undefined) console.log(`\n${stopped}`);
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const setup = WITH_LIBVIRT ? await setUpLibvirt() : 'libvirt column skipped (--no-libvirt)';
  const libvirt = typeof setup === 'string' ? undefined : setup;
  const libvirtLine = typeof setup === 'string' ? `libvirt column missing: ${setup}` : setup.banner;
  const stop = async () => {
    await libvirt?.worker.close();
    return stopLibvirtd(libvirt?.startedPid);
  };
  process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
  console.error(libvirtLine);
  const rows: Measured[] = [];
  let stopped: string | undefined;
  try {
    for (const op of OPS) {
      console.error(`measuring: ${op.label}`);
      rows.push(await measure(op, libvirt));
    }
  } finally {
    stopped = await stop();
  }
  report(rows, libvirtLine, stopped);
}

if (!(await rerunOnBuiltPackage())) await main();
