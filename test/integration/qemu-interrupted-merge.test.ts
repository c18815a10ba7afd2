// A process killed (SIGKILL to its process group, qemu-img included) in the middle of the
// `qemu-img commit` of an external delete: the next connect() finishes the merge, and the
// image it wrote must come out clean for `qemu-img check` — no leaked clusters left by the
// interrupted commit (issue 8, item 2).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { domainXml, HAVE_QEMU, img, newWorld, open, QEMU_IMG, QEMU_IO, type World } from './qemu-fixture.js';

const CHILD = fileURLToPath(new URL('./qemu-merge-child.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DATA_MB = 256;

/** `qemu-img check` of an image: exit status (0 clean, 3 leaks) and output. */
function check(path: string): { status: number | null; out: string } {
  const r = spawnSync(QEMU_IMG ?? 'qemu-img', ['check', '-U', path], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Whether a `qemu-img commit` of `image` is running. */
function commitRunning(image: string): boolean {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv.includes('commit') && argv.includes(image)) return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the delete of `e1` in a child and SIGKILLs its process group (qemu-img included) once
 * a `qemu-img commit` of `overlay` is running and `base` has grown to `size` bytes.
 */
async function killDuringCommit(world: World, overlay: string, base: string, size: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, world.uri], {
    cwd: REPO,
    detached: true,
    stdio: 'ignore',
  });
  const exited = new Promise((r) => child.on('exit', r));
  let killed = false;
  for (let i = 0; i < 6000 && !killed && child.exitCode === null; i++) {
    if (statSync(base).size >= size && commitRunning(overlay)) {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
      killed = true;
    } else await sleep(5);
  }
  await exited;
  expect(killed, 'the commit was caught running').toBe(true);
}

describe.runIf(HAVE_QEMU)('qemu driver: a merge killed in the middle of qemu-img commit', () => {
  let world: World | undefined;
  afterEach(() => world?.cleanup());

  it('is finished by the next connect() and leaves images that qemu-img check finds clean', async () => {
    world = newWorld('virtkit-merge-');
    const base = join(world.images, 'vda.qcow2');
    img(['create', '-q', '-f', 'qcow2', base, '1G']);
    const conn = await open(world);
    const dom = await conn.defineDomain(domainXml('vm', [{ target: 'vda', path: base, format: 'qcow2' }]));
    await dom.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', { diskOnly: true });
    await conn.close();
    const overlay = join(world.images, 'vda.e1');
    execFileSync(QEMU_IO ?? 'qemu-io', ['-f', 'qcow2', '-c', `write -P 0x5a 0 ${DATA_MB}M`, overlay]);
    const baseSize = statSync(base).size;
    const template = `${world.dir}.template`;
    cpSync(world.dir, template, { recursive: true });
    try {
      // The leak window is the end of the commit: the data and refcounts are written, the
      // mapping is not yet (qemu-img flushes the refcounts, syncs, then writes the L2
      // tables). Killing once the base holds all the data lands there almost always; a few
      // tries make the test independent of the machine's speed.
      let interrupted = '';
      for (let attempt = 0; attempt < 5 && !/leaked clusters were found/.test(interrupted); attempt++) {
        if (attempt > 0) {
          rmSync(world.dir, { recursive: true, force: true });
          cpSync(template, world.dir, { recursive: true });
        }
        await killDuringCommit(world, overlay, base, baseSize + DATA_MB * 1024 * 1024);
        expect(existsSync(join(world.root, 'journal', 'vm.json'))).toBe(true);
        interrupted = check(base).out;
      }
      expect(interrupted).toMatch(/leaked clusters were found/);
    } finally {
      rmSync(template, { recursive: true, force: true });
    }

    const again = await open(world);
    try {
      const vm = await again.lookupDomainByName('vm');
      expect(await vm.listSnapshots()).toEqual([]);
      expect(await vm.getXml()).toContain(`<source file='${base}'/>`);
    } finally {
      await again.close();
    }
    expect(existsSync(join(world.root, 'journal', 'vm.json'))).toBe(false);
    expect(existsSync(overlay)).toBe(false);
    const after = check(base);
    expect(after.out).toMatch(/No errors were found on the image/);
    expect(after.status).toBe(0);
    execFileSync(QEMU_IO ?? 'qemu-io', ['-r', '-f', 'qcow2', '-c', `read -P 0x5a 0 ${DATA_MB}M`, base]);
  }, 60_000);
});
