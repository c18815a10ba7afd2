/**
 * qemu driver, running domains: start (to QMP ready and to running) and destroy of one
 * guest-less TCG domain through virtkit, through the raw QEMU command line virtkit spawned and
 * through libvirt 9.0's qemu driver, in one run.
 *
 * - virtkit: a warm `qemu:///embed` connection (as an application keeps one open) and one
 *   defined domain; `start({ paused: true })` resolved is "QMP ready" (QMP connected, status
 *   recorded, no `cont`), `start()` resolved is "running", `destroy()` resolved is "destroyed".
 * - raw: the exact argv of virtkit's QEMU (read from /proc/<pid>/cmdline of a probe start,
 *   paths mapped to a second root), spawned the way virtkit spawns it (detached, output to a
 *   log file); "QMP ready" is the greeting read and `qmp_capabilities` answered (the socket is
 *   retried every 5 ms until it accepts), "running" is that plus `cont` answered, "destroyed" is
 *   SIGTERM until the child's exit event (virtkit's method: SIGTERM, wait for the pid to go).
 * - libvirt: qemu:///system (libvirtd, started with ../shared/tools/start-libvirtd.sh when it
 *   is not running and stopped again at the end) driven by bench/qemu-live-libvirt.py under
 *   Debian's /usr/bin/python3 (python3-libvirt), which times each call with
 *   time.perf_counter_ns: `createWithFlags(VIR_DOMAIN_START_PAUSED)` is "QMP ready",
 *   `createWithFlags(0)` "running", `destroy()` "destroyed". Same domain XML as virtkit's.
 *
 * Every run of every side: start paused, destroy, start, destroy. The sides take turns in all
 * six orders; medians over the runs after warm-ups. A side that fails after some runs keeps the
 * samples it has, and its cell and the notes under the table say how many and why. Every QEMU
 * this run started is killed by pid at the end, also on failure; temporary directories go.
 *
 * Run: `npx tsx bench/qemu-live.bench.ts [--runs=15] [--no-libvirt]`
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { connect, isVirtError, type Connection, type Domain } from 'virtkit';
import { rerunOnBuiltPackage } from './built-package.js';
import {
  alive,
  openLibvirt,
  stopLibvirtd,
  type Libvirt,
  type LibvirtWorker,
  type WorkerAnswer,
} from './libvirt.js';

const RUNS = Number(
  /^--runs=(\d+)$/.exec(process.argv.find((a) => a.startsWith('--runs=')) ?? '')?.[1] ?? 15,
);
const WITH_LIBVIRT = !process.argv.includes('--no-libvirt');
const WARMUP = 2;
const PY_WORKER = fileURLToPath(new URL('./qemu-live-libvirt.py', import.meta.url));
const DOMAIN_PREFIX = 'virtkit-bench-';
const RAW_RETRY_MS = 5;
const RAW_TIMEOUT_MS = 10_000;

/** Guest-less TCG domain, 128 MiB, 1 vcpu, one small qcow2 virtio disk, no network. */
const DOMAIN_MODEL = `<domain type='qemu'>
  <name>NAME</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <features><acpi/></features>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='IMAGE'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>`;

const SIDES = ['raw', 'virtkit', 'libvirt'] as const;
type Side = (typeof SIDES)[number];

const MEASURES = ['ready', 'running', 'destroy'] as const;
type Measure = (typeof MEASURES)[number];

const LABELS: Record<Measure, string> = {
  ready: 'start → QMP ready (paused start)',
  running: 'start → running',
  destroy: 'destroy (running domain)',
};

/** All orders of the three sides, taken in turn, so no side always runs first or last. */
const ORDERS: readonly (readonly Side[])[] = SIDES.flatMap((a) =>
  SIDES.filter((b) => b !== a).flatMap((b) => SIDES.filter((c) => c !== a && c !== b).map((c) => [a, b, c])),
);

/** Every QEMU this run started: killed by pid at the end if still there. */
const qemuPids = new Set<number>();
const tempDirs: string[] = [];

function errorText(err: unknown): string {
  if (isVirtError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

function domainXml(name: string, image: string): string {
  return DOMAIN_MODEL.replace('NAME', name).replace('IMAGE', image);
}

function newImage(dir: string): string {
  const path = join(dir, 'vda.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path, '16M']);
  return path;
}

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), DOMAIN_PREFIX));
  tempDirs.push(dir);
  return dir;
}

function killLeftovers(): string[] {
  const killed: string[] = [];
  for (const pid of qemuPids) {
    if (!alive(pid)) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmdline.includes('qemu-system')) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(String(pid));
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}

// ---------------------------------------------------------------- virtkit

interface VirtkitSide {
  readonly conn: Connection;
  readonly dom: Domain;
  readonly root: string;
  /** The pid of the QEMU virtkit started last (from its pid file). */
  pid(): number;
}

async function setUpVirtkit(): Promise<VirtkitSide> {
  const dir = newDir();
  const root = join(dir, 'root');
  const conn = await connect(`qemu:///embed?root=${root}`);
  const dom = await conn.defineDomain(domainXml('vm', newImage(dir)));
  return {
    conn,
    dom,
    root,
    pid() {
      const pid = Number(readFileSync(join(root, 'run', 'vm', 'pid'), 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0) qemuPids.add(pid);
      return pid;
    },
  };
}

/** Starts the domain paused once and reads the argv of the QEMU virtkit spawned. */
async function recordArgv(vk: VirtkitSide): Promise<string[]> {
  await vk.dom.start({ paused: true });
  try {
    const argv = readFileSync(`/proc/${vk.pid()}/cmdline`, 'utf8').split('\0');
    if (argv.at(-1) === '') argv.pop();
    return argv;
  } finally {
    await vk.dom.destroy();
  }
}

async function virtkitCycle(vk: VirtkitSide): Promise<Record<Measure, number>> {
  let t = performance.now();
  await vk.dom.start({ paused: true });
  const ready = performance.now() - t;
  vk.pid();
  await vk.dom.destroy();
  t = performance.now();
  await vk.dom.start();
  const running = performance.now() - t;
  vk.pid();
  t = performance.now();
  await vk.dom.destroy();
  return { ready, running, destroy: performance.now() - t };
}

// ---------------------------------------------------------------- raw

interface RawSide {
  readonly binary: string;
  readonly argv: readonly string[];
  readonly runDir: string;
  readonly qmpSocket: string;
}

/** virtkit's argv with its root replaced by a second one (same image: the sides take turns). */
function setUpRaw(recorded: readonly string[], virtkitRoot: string): RawSide {
  const [binary, ...args] = recorded;
  if (binary === undefined) throw new Error('empty QEMU command line recorded');
  const root = join(newDir(), 'root');
  const runDir = join(root, 'run', 'vm');
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const argv = args.map((a) => a.replaceAll(virtkitRoot, root));
  return { binary, argv, runDir, qmpSocket: join(runDir, 'qmp.sock') };
}

/** Newline-delimited QMP over a unix socket: the least a program can do. */
class RawQmp {
  readonly #socket: Socket;
  readonly #lines: string[] = [];
  #buffered = '';
  #wake: (() => void) | undefined;
  #ended = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffered += chunk;
      let nl;
      while ((nl = this.#buffered.indexOf('\n')) >= 0) {
        this.#lines.push(this.#buffered.slice(0, nl));
        this.#buffered = this.#buffered.slice(nl + 1);
      }
      this.#wake?.();
    });
    const end = () => {
      this.#ended = true;
      this.#wake?.();
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  /** Connects, retrying every RAW_RETRY_MS while the socket is missing or refuses. */
  static async connect(path: string, deadline: number, exited: () => boolean): Promise<RawQmp> {
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = createConnection({ path });
          s.once('connect', () => {
            s.off('error', reject);
            resolve(s);
          });
          s.once('error', reject);
        });
        return new RawQmp(socket);
      } catch (err) {
        if (exited()) throw new Error('QEMU exited before its QMP socket accepted', { cause: err });
        if (performance.now() > deadline) throw new Error(`QMP socket ${path}: ${errorText(err)}`);
        await new Promise((r) => setTimeout(r, RAW_RETRY_MS));
      }
    }
  }

  /** The next line that has `key` (events are skipped). */
  async next(key: string): Promise<Record<string, unknown>> {
    for (;;) {
      const line = this.#lines.shift();
      if (line !== undefined) {
        const msg = JSON.parse(line) as Record<string, unknown>;
        if (key in msg) return msg;
        if ('error' in msg) throw new Error(`QMP error: ${line}`);
        continue;
      }
      if (this.#ended) throw new Error('QMP connection ended');
      await new Promise<void>((r) => (this.#wake = r));
      this.#wake = undefined;
    }
  }

  async execute(command: string): Promise<void> {
    this.#socket.write(`${JSON.stringify({ execute: command })}\n`);
    await this.next('return');
  }

  close(): void {
    this.#socket.destroy();
  }
}

async function rawStart(
  raw: RawSide,
  paused: boolean,
): Promise<{ child: ChildProcess; qmp: RawQmp; ms: number }> {
  rmSync(raw.qmpSocket, { force: true });
  const log = openSync(join(raw.runDir, 'qemu.log'), 'w', 0o600);
  const t = performance.now();
  let child: ChildProcess;
  try {
    child = spawn(raw.binary, [...raw.argv], { detached: true, stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  if (child.pid !== undefined) qemuPids.add(child.pid);
  let exited = false;
  child.once('exit', () => (exited = true));
  child.once('error', () => (exited = true));
  const qmp = await RawQmp.connect(raw.qmpSocket, t + RAW_TIMEOUT_MS, () => exited);
  await qmp.next('QMP');
  await qmp.execute('qmp_capabilities');
  if (!paused) await qmp.execute('cont');
  return { child, qmp, ms: performance.now() - t };
}

async function rawDestroy(child: ChildProcess, qmp: RawQmp): Promise<number> {
  const t = performance.now();
  const gone = new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(undefined);
    else child.once('exit', resolve);
  });
  child.kill('SIGTERM');
  await gone;
  const ms = performance.now() - t;
  qmp.close();
  return ms;
}

async function rawCycle(raw: RawSide): Promise<Record<Measure, number>> {
  const first = await rawStart(raw, true);
  await rawDestroy(first.child, first.qmp);
  const second = await rawStart(raw, false);
  const destroy = await rawDestroy(second.child, second.qmp);
  return { ready: first.ms, running: second.ms, destroy };
}

// ---------------------------------------------------------------- libvirt

interface LiveAnswer extends WorkerAnswer {
  ns?: number;
  pid?: number | null;
}

/** libvirtd, the python worker and the defined domain, or why the libvirt column is missing. */
async function setUpLibvirt(): Promise<Libvirt<LiveAnswer> | string> {
  const libvirt = await openLibvirt<LiveAnswer>(PY_WORKER);
  if (typeof libvirt === 'string') return libvirt;
  const defined = await libvirt.worker.request({
    cmd: 'define',
    xml: domainXml(`${DOMAIN_PREFIX}${process.pid}`, newImage(newDir())),
  });
  if (!defined.ok) return libvirt.fail(`libvirt refused the domain: ${defined.error ?? 'no answer'}`);
  return libvirt;
}

async function libvirtStart(worker: LibvirtWorker<LiveAnswer>, paused: boolean): Promise<number> {
  const answer = await worker.must({ cmd: 'start', paused });
  if (typeof answer.pid === 'number') qemuPids.add(answer.pid);
  return (answer.ns ?? NaN) / 1e6;
}

async function libvirtCycle(worker: LibvirtWorker<LiveAnswer>): Promise<Record<Measure, number>> {
  const ready = await libvirtStart(worker, true);
  await worker.must({ cmd: 'destroy' });
  const running = await libvirtStart(worker, false);
  const destroy = ((await worker.must({ cmd: 'destroy' })).ns ?? NaN) / 1e6;
  return { ready, running, destroy };
}

// ---------------------------------------------------------------- measuring

interface Samples {
  readonly ms: Record<Measure, number[]>;
  failed?: string;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

async function measure(
  cycles: Record<Side, (() => Promise<Record<Measure, number>>) | undefined>,
): Promise<Record<Side, Samples>> {
  const empty = (): Samples => ({ ms: { ready: [], running: [], destroy: [] } });
  const sides: Record<Side, Samples> = { raw: empty(), virtkit: empty(), libvirt: empty() };
  for (let i = 0; i < WARMUP + RUNS; i++) {
    for (const side of ORDERS[i % ORDERS.length] ?? SIDES) {
      const cycle = cycles[side];
      const s = sides[side];
      if (cycle === undefined || s.failed !== undefined) continue;
      try {
        const r = await cycle();
        if (i >= WARMUP) for (const m of MEASURES) s.ms[m].push(r[m]);
      } catch (err) {
        s.failed = `run ${i + 1 - WARMUP}: ${errorText(err)}`;
      }
    }
  }
  return sides;
}

// ---------------------------------------------------------------- report

const ms = (x: number): string => x.toFixed(1);

function cell(s: Samples, m: Measure): string {
  const xs = s.ms[m];
  if (xs.length === RUNS) return ms(median(xs));
  if (xs.length > 0) return `${ms(median(xs))} (${xs.length} of ${RUNS} samples)`;
  return s.failed === undefined ? '—' : `failed (${s.failed})`;
}

function vsRaw(sides: Record<Side, Samples>, m: Measure): string {
  const v = sides.virtkit.ms[m];
  const r = sides.raw.ms[m];
  if (v.length === 0 || r.length === 0) return '—';
  const ratio = median(v) / median(r);
  if (m === 'destroy') return `${ratio.toFixed(2)}× (no target)`;
  return `${ratio.toFixed(2)}× ${ratio <= 1.15 ? '✓' : '✗'}`;
}

function vsLibvirt(sides: Record<Side, Samples>, m: Measure): string {
  const v = sides.virtkit.ms[m];
  const l = sides.libvirt.ms[m];
  if (v.length === 0 || l.length === 0) return '—';
  const ratio = median(l) / median(v);
  const text = ratio >= 1 ? `${ratio.toFixed(2)}× faster` : `${(1 / ratio).toFixed(2)}× slower`;
  if (m === 'destroy') return `${text} (no target)`;
  return `${text} ${ratio >= 3 ? '✓' : '✗'}`;
}

function report(
  sides: Record<Side, Samples>,
  lines: { libvirt: string; argv: string; load: string; stopped: string | undefined; killed: string[] },
): void {
  console.log(
    `qemu driver, running a guest-less TCG domain (q35, 128 MiB, 1 vcpu, one 16 MiB qcow2 virtio disk, ` +
      `no network): medians of ${RUNS} runs (+${WARMUP} warm-up) per side, ms\n${lines.libvirt}\n${lines.load}\n`,
  );
  console.log(
    '| measure | raw QEMU | virtkit | libvirt | virtkit vs raw (target ≤ 1.15×) | virtkit vs libvirt (target ≥ 3× faster) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const m of MEASURES) {
    console.log(
      `| ${LABELS[m]} | ${cell(sides.raw, m)} | ${cell(sides.virtkit, m)} | ${cell(sides.libvirt, m)} | ` +
        `${vsRaw(sides, m)} | ${vsLibvirt(sides, m)} |`,
    );
  }
  const partial = SIDES.flatMap((side) => {
    const s = sides[side];
    const n = s.ms.ready.length;
    if (n === RUNS || (n === 0 && s.failed === undefined)) return [];
    return [`- ${side}: ${n} of ${RUNS} samples per cell, then failed: ${s.failed ?? 'not run'}`];
  });
  console.log(
    partial.length === 0
      ? `\nEvery cell with a figure holds all ${RUNS} samples.`
      : `\nCells with fewer than ${RUNS} samples:\n${partial.join('\n')}`,
  );
  console.log(`
Notes
- raw: ${lines.argv}
- QMP ready: raw = greeting read + \`qmp_capabilities\` answered (socket retried every ${RAW_RETRY_MS} ms);
  virtkit = \`start({ paused: true })\` resolved (QMP socket retried every 20 ms, capabilities,
  status.json and live.xml written); libvirt = \`createWithFlags(VIR_DOMAIN_START_PAUSED)\` returned.
  Neither virtkit nor libvirt has a finer hook than its paused start.
- running: the same plus \`cont\` answered (virtkit: \`start()\`; libvirt: \`createWithFlags(0)\`).
- destroy: raw = SIGTERM until the child's exit event; virtkit = SIGTERM, the pid polled every
  10 ms until gone, runtime files removed; libvirt = \`virDomainDestroy\` (SIGTERM, wait, clean-up).`);
  if (lines.stopped !== undefined) console.log(`\n${lines.stopped}`);
  if (lines.killed.length > 0)
    console.log(`\nQEMU left running and killed at the end: pid ${lines.killed.join(', ')}`);
}

// ---------------------------------------------------------------- main

function load(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

async function main(): Promise<void> {
  const loadBefore = load();
  const setup = WITH_LIBVIRT ? await setUpLibvirt() : 'libvirt column skipped (--no-libvirt)';
  const libvirt = typeof setup === 'string' ? undefined : setup;
  const libvirtLine = typeof setup === 'string' ? `libvirt column missing: ${setup}` : setup.banner;
  let vk: VirtkitSide | undefined;
  const stop = async () => {
    await libvirt?.worker.close();
    const stopped = await stopLibvirtd(libvirt?.startedPid);
    await vk?.conn.close().catch(() => undefined);
    const killed = killLeftovers();
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
    return { stopped, killed };
  };
  process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
  console.error(libvirtLine);
  let result: { sides: Record<Side, Samples>; argv: string } | undefined;
  let cleanup: { stopped: string | undefined; killed: string[] };
  try {
    vk = await setUpVirtkit();
    const recorded = await recordArgv(vk);
    const raw = setUpRaw(recorded, vk.root);
    const side = vk;
    console.error('measuring');
    const sides = await measure({
      raw: () => rawCycle(raw),
      virtkit: () => virtkitCycle(side),
      libvirt: libvirt === undefined ? undefined : () => libvirtCycle(libvirt.worker),
    });
    result = {
      sides,
      argv:
        `the exact command line of virtkit's QEMU (/proc/<pid>/cmdline, ${recorded.length} words, ` +
        `virtkit's root replaced by another): \`${recorded.slice(0, 1).join('')} ${raw.argv.slice(0, 8).join(' ')} …\``,
    };
  } finally {
    cleanup = await stop();
  }
  report(result.sides, {
    libvirt: libvirtLine,
    argv: result.argv,
    load: `load average (1/5/15 min) ${loadBefore} at the start, ${load()} at the end`,
    ...cleanup,
  });
}

if (!(await rerunOnBuiltPackage())) await main();
