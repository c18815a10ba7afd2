/**
 * qemu driver, shut-off domains: each operation through virtkit against the very qemu-img
 * commands virtkit ran for it, replayed raw, in the same run. virtkit's commands are recorded
 * by an injected runner on one world; the same argv (paths mapped) is then replayed with
 * `execFile` on an identically prepared second world. Medians over repeated runs, two 16 MiB
 * qcow2 disks with a little data, a warm connection (as an application keeps one open).
 * "overhead vs raw" compares wall times; virtkit runs its read-only pre-checks (`qemu-img
 * info`) concurrently while the replay runs every command one after the other, so the
 * column "virtkit time outside qemu-img" (wall time with no qemu-img running) is the cost
 * of virtkit's own work: locking, journal and metadata writes with fsync, XML, checks.
 *
 * Run: `npx tsx bench/qemu-offline.bench.ts [--runs=15]`
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect, type Domain } from 'virtkit';

const RUNS = Number(
  /^--runs=(\d+)$/.exec(process.argv.find((a) => a.startsWith('--runs=')) ?? '')?.[1] ?? 15,
);
const WARMUP = 2;
const QEMU_IMG = 'qemu-img';

type Argv = readonly string[];

interface World {
  readonly dir: string;
  readonly uri: string;
  readonly disks: readonly string[];
}

interface Op {
  readonly label: string;
  /** Brings a fresh domain `vm` into the state the operation starts from. */
  prepare(dom: Domain, world: World): Promise<void>;
  run(dom: Domain): Promise<unknown>;
}

const snap = (dom: Domain, name: string) =>
  dom.createSnapshot(`<domainsnapshot><name>${name}</name></domainsnapshot>`);
const ckpt = (dom: Domain, name: string) =>
  dom.createCheckpoint(`<domaincheckpoint><name>${name}</name></domaincheckpoint>`);

const OPS: readonly Op[] = [
  {
    label: 'internal snapshot create',
    prepare: async (d) => void (await snap(d, 'base')),
    run: (d) => snap(d, 'new'),
  },
  {
    label: 'internal snapshot revert',
    prepare: async (d, w) => {
      await snap(d, 's1');
      write(w, 0x22);
      await snap(d, 's2');
    },
    run: async (d) => (await d.lookupSnapshotByName('s1')).revert(),
  },
  {
    label: 'internal snapshot delete',
    prepare: async (d) => {
      await snap(d, 's1');
      await snap(d, 's2');
    },
    run: async (d) => (await d.lookupSnapshotByName('s1')).delete(),
  },
  {
    label: 'external snapshot create',
    prepare: async () => undefined,
    run: (d) => d.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', { diskOnly: true }),
  },
  { label: 'checkpoint create', prepare: async (d) => void (await ckpt(d, 'c1')), run: (d) => ckpt(d, 'c2') },
  {
    label: 'checkpoint delete',
    prepare: async (d, w) => {
      await ckpt(d, 'c1');
      write(w, 0x33);
      await ckpt(d, 'c2');
    },
    run: async (d) => (await d.lookupCheckpointByName('c2')).delete(),
  },
];

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

function newWorld(): World {
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-bench-'));
  mkdirSync(join(dir, 'images'));
  const disks = ['vda', 'vdb'].map((d) => join(dir, 'images', `${d}.qcow2`));
  for (const path of disks) execFileSync(QEMU_IMG, ['create', '-q', '-f', 'qcow2', path, '16M']);
  return { dir, uri: `qemu:///embed?root=${join(dir, 'root')}`, disks };
}

function write(world: World, pattern: number): void {
  for (const path of world.disks)
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -P ${pattern} 0 1M`, path]);
}

function domainXml(world: World): string {
  const disk = (path: string, dev: string) =>
    `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${path}'/>` +
    `<target dev='${dev}' bus='virtio'/></disk>`;
  return (
    `<domain type='qemu'><name>vm</name><memory unit='KiB'>65536</memory><devices>` +
    `${disk(world.disks[0] ?? '', 'vda')}${disk(world.disks[1] ?? '', 'vdb')}</devices></domain>`
  );
}

/**
 * A world in the operation's start state, with a warm connection whose runner records argv
 * (and when qemu-img was running) while `recording`.
 */
async function prepared(op: Op) {
  const world = newWorld();
  write(world, 0x11);
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
  const dom = await conn.defineDomain(domainXml(world));
  await op.prepare(dom, world);
  await dom.listSnapshots();
  return {
    world,
    recorded,
    /** Runs the operation; returns its wall time and the part of it no qemu-img was running. */
    async timed(): Promise<{ wall: number; own: number }> {
      recording = true;
      const t = performance.now();
      await op.run(dom);
      const wall = performance.now() - t;
      recording = false;
      await conn.close();
      return { wall, own: wall - busy.total };
    },
  };
}

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

async function replay(commands: readonly Argv[], from: string, to: string): Promise<number> {
  const mapped = commands.map((argv) => argv.map((a) => a.replaceAll(from, to)));
  const t = performance.now();
  for (const argv of mapped) await exec(argv);
  return performance.now() - t;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

async function measure(op: Op): Promise<{ virtkit: number; raw: number; own: number; commands: string }> {
  const virtkit: number[] = [];
  const raw: number[] = [];
  const own: number[] = [];
  let commands = '';
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const a = await prepared(op);
    const b = await prepared(op);
    // alternate which side runs first, so neither always gets the warmer page cache
    let v: { wall: number; own: number };
    let r: number;
    if (i % 2 === 0) {
      v = await a.timed();
      r = await replay(a.recorded, a.world.dir, b.world.dir);
    } else {
      const probe = await prepared(op);
      await probe.timed();
      rmSync(probe.world.dir, { recursive: true, force: true });
      r = await replay(probe.recorded, probe.world.dir, b.world.dir);
      v = await a.timed();
    }
    commands = a.recorded.map((c) => c.slice(0, 2).join(' ')).join(', ');
    if (i >= WARMUP) {
      virtkit.push(v.wall);
      own.push(v.own);
      raw.push(r);
    }
    for (const w of [a.world, b.world]) rmSync(w.dir, { recursive: true, force: true });
  }
  return { virtkit: median(virtkit), raw: median(raw), own: median(own), commands };
}

const rows: string[] = [];
for (const op of OPS) {
  const { virtkit, raw, own, commands } = await measure(op);
  const ratio = ((virtkit - raw) / raw) * 100;
  rows.push(
    `| ${op.label} | ${raw.toFixed(1)} | ${virtkit.toFixed(1)} | ${ratio.toFixed(1)} % | ${own.toFixed(1)} | ${commands} |`,
  );
}
console.log(`qemu driver, shut-off domain with 2 qcow2 disks: medians of ${RUNS} runs (ms)\n`);
console.log(
  '| operation | raw qemu-img (sequential replay) | virtkit | overhead vs raw | virtkit time outside qemu-img | qemu-img commands virtkit ran |',
);
console.log('|---|---:|---:|---:|---:|---|');
for (const row of rows) console.log(row);
