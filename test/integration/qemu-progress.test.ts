// Live progress of long image steps (bytes from qemu-img -p, during the step) and the
// reporting of recovery, with a real qemu-img on an image big enough for many updates.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isVirtError, type Progress, type RecoveryEvent } from 'virtkit';
import { execFileRunner } from '../../drivers/qemu/qemu-img.js';
import { domainXml, HAVE_QEMU, img, newWorld, open, QEMU_IO, type World } from './qemu-fixture.js';

const MIB = 1024 * 1024;
/** Virtual size of the disk and data written into the overlay that is committed. */
const VIRTUAL = 512 * MIB;
const DATA = 256 * MIB;

describe.runIf(HAVE_QEMU)('qemu driver: progress of long steps and of recovery', () => {
  let world: World;
  let top: string;

  beforeEach(async () => {
    world = newWorld('virtkit-progress-');
    const base = join(world.images, 'vda.qcow2');
    img(['create', '-q', '-f', 'qcow2', base, String(VIRTUAL)]);
    await using conn = await open(world);
    const dom = await conn.defineDomain(domainXml('vm', [{ target: 'vda', path: base, format: 'qcow2' }]));
    await dom.createSnapshot({ name: 'e1' }, { diskOnly: true });
    top = join(world.images, 'vda.e1');
    execFileSync(QEMU_IO ?? 'qemu-io', ['-f', 'qcow2', '-c', `write -P 0xaa 0 ${DATA}`, top], {
      stdio: 'pipe',
    });
  });

  afterEach(() => world.cleanup());

  it('reports bytes while qemu-img commit runs, before the step ends', async () => {
    await using conn = await open(world);
    const dom = await conn.lookupDomainByName('vm');
    const events: { at: number; p: Progress }[] = [];
    const started = performance.now();
    await (
      await dom.lookupSnapshotByName('e1')
    ).delete({
      onProgress: (p) => events.push({ at: performance.now() - started, p }),
    });
    const commitStep = events.findIndex((e) => e.p.unit === 'steps' && e.p.phase.startsWith('commit vda'));
    const bytes = events.filter((e) => e.p.unit === 'bytes');
    expect(commitStep).toBeGreaterThan(0);
    // Every bytes event comes before the step's own event, i.e. during the step.
    expect(events.slice(0, commitStep).filter((e) => e.p.unit === 'bytes')).toEqual(bytes);
    expect(bytes.length).toBeGreaterThanOrEqual(5);
    for (const e of bytes) {
      expect(e.p.phase).toBe(events[commitStep]?.p.phase);
      expect(e.p.total).toBe(VIRTUAL);
    }
    const completed = bytes.map((e) => e.p.completed);
    expect(completed).toEqual([...completed].sort((a, b) => a - b));
    expect(completed[0]).toBe(0);
    expect(completed.at(-1)).toBe(VIRTUAL);
    expect(completed.some((c) => c > 0 && c < VIRTUAL)).toBe(true);
    // Spread over the step, not delivered in one burst at its end.
    expect((bytes.at(-1)?.at ?? 0) - (bytes[1]?.at ?? 0)).toBeGreaterThan(0);
    console.log(
      `progress: ${bytes.length} bytes events during the commit of ${DATA / MIB} MiB ` +
        `(${VIRTUAL / MIB} MiB virtual) in ${Math.round((bytes.at(-1)?.at ?? 0) - (bytes[0]?.at ?? 0))} ms`,
    );
  });

  it('a committed step that fails says committed: true; recovery reports itself live', async () => {
    let failCommit = true;
    const runner: typeof execFileRunner = async (file, args, options) => {
      if (failCommit && args[0] === 'commit') throw new Error('injected commit failure');
      return execFileRunner(file, args, options);
    };
    await using conn = await open(world, { driverOptions: { runner } });
    const dom = await conn.lookupDomainByName('vm');
    const err = await (await dom.lookupSnapshotByName('e1')).delete().catch((e: unknown) => e);
    expect(isVirtError(err, 'OPERATION_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/is committed but step 'commit vda [^']*' failed/);
    expect((err as { details?: Record<string, unknown> }).details).toMatchObject({
      committed: true,
      operation: expect.any(String) as unknown,
      step: expect.stringMatching(/^commit vda/) as unknown,
    });

    // The next operation of this connection finishes it: the `recovery` event says so.
    failCommit = false;
    const seen: RecoveryEvent[] = [];
    conn.on('recovery', (e) => seen.push(e));
    expect((await dom.listSnapshots()).map((s) => s.name)).toEqual([]);
    expect(seen[0]).toMatchObject({ domain: 'vm', stage: 'started', direction: 'roll-forward' });
    expect(seen.at(-1)?.stage).toBe('finished');
    const bytes = seen.filter((e) => e.progress?.unit === 'bytes');
    expect(bytes.length).toBeGreaterThanOrEqual(5);
    expect(bytes.at(-1)?.progress?.completed).toBe(VIRTUAL);
    expect(JSON.parse(img(['info', '--output=json', join(world.images, 'vda.qcow2')]))).not.toHaveProperty(
      'backing-filename',
    );
  });

  it('connect() reports the recovery of a crashed operation through onRecovery, live', async () => {
    const runner: typeof execFileRunner = async (file, args, options) => {
      if (args[0] === 'commit') throw new Error('injected commit failure');
      return execFileRunner(file, args, options);
    };
    {
      await using conn = await open(world, { driverOptions: { runner } });
      const dom = await conn.lookupDomainByName('vm');
      await (await dom.lookupSnapshotByName('e1')).delete().catch(() => undefined);
    }
    // The journal was written by this (live) process: connect() recovers only journals of
    // dead processes, so pretend the writer died.
    const journalFile = join(world.root, 'journal', 'vm.json');
    const record = JSON.parse(readFileSync(journalFile, 'utf8')) as { pid: number };
    record.pid = 2 ** 22 + 1;
    writeFileSync(journalFile, JSON.stringify(record));

    const live: string[] = [];
    const later: string[] = [];
    let returned = false;
    const conn = await open(world, {
      onRecovery: (e) => live.push(`${returned ? 'after' : 'during'} ${e.stage}`),
    });
    returned = true;
    conn.on('recovery', (e) => later.push(e.stage));
    await Promise.resolve();
    try {
      expect(live[0]).toBe('during started');
      expect(live.at(-1)).toBe('during finished');
      expect(live.filter((l) => l === 'during progress').length).toBeGreaterThanOrEqual(5);
      expect(live.every((l) => l.startsWith('during'))).toBe(true);
      expect(later).toEqual([]);
      expect((await (await conn.lookupDomainByName('vm')).listSnapshots()).length).toBe(0);
    } finally {
      await conn.close();
    }
  });
});
