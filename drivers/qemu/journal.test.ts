import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isVirtError } from 'virtkit';
import { writeFileAtomic } from './atomic-file.js';
import { readJournal, recoverJournal, runJournal, type JournalRecord, type JournalStep } from './journal.js';
import { QemuImg } from './qemu-img.js';
import { FakeQemuImg } from './testing/fake-qemu-img.js';

let dir: string;
let fake: FakeQemuImg;
let ctx: { qemuImg: QemuImg };
let journal: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtkit-journal-'));
  fake = new FakeQemuImg();
  ctx = { qemuImg: new QemuImg({ binary: 'qemu-img', runner: fake.runner }) };
  journal = join(dir, 'vm.json');
  fake.add(join(dir, 'a.qcow2'));
  fake.add(join(dir, 'b.qcow2'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const img = (n: string): string => join(dir, n);
const snapSteps = (name: string): JournalStep[] => [
  { name: 'snap a', action: { kind: 'snapshot-create', image: img('a.qcow2'), name } },
  { name: 'snap b', action: { kind: 'snapshot-create', image: img('b.qcow2'), name } },
];
const commit: JournalStep = { name: 'commit', action: { kind: 'commit' } };
const write = (file: string, content: string): JournalStep => ({
  name: 'metadata',
  action: { kind: 'metadata', writes: [{ path: join(dir, file), content }], removes: [] },
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return isVirtError(err) ? err.code : String(err);
  }
}

describe('runJournal', () => {
  it('runs every step in order with the exact argv and removes the journal', async () => {
    await runJournal(
      {
        operation: 'snapshot-create',
        domain: 'vm',
        steps: [...snapSteps('s1'), commit, write('s1.xml', 'x')],
      },
      { path: journal, ctx },
    );
    expect(fake.calls).toEqual([
      ['snapshot', '-c', 's1', img('a.qcow2')],
      ['snapshot', '-c', 's1', img('b.qcow2')],
    ]);
    expect(readFileSync(join(dir, 's1.xml'), 'utf8')).toBe('x');
    expect(existsSync(journal)).toBe(false);
  });

  it('undoes the steps before the commit point when one fails, in reverse order', async () => {
    fake.failWhen = (argv) => argv[1] === '-c' && argv[3] === img('b.qcow2');
    const code = await codeOf(
      runJournal(
        {
          operation: 'snapshot-create',
          domain: 'vm',
          steps: [...snapSteps('s1'), commit, write('s1.xml', 'x')],
        },
        { path: journal, ctx },
      ),
    );
    expect(code).toBe('OPERATION_FAILED');
    expect(fake.images.get(img('a.qcow2'))?.snapshots).toEqual([]);
    expect(fake.images.get(img('b.qcow2'))?.snapshots).toEqual([]);
    expect(existsSync(join(dir, 's1.xml'))).toBe(false);
    expect(existsSync(journal)).toBe(false);
  });

  it('keeps the journal and reports a committed operation when a later step fails', async () => {
    fake.failWhen = (argv) => argv[1] === '-d';
    const steps: JournalStep[] = [
      commit,
      write('meta.xml', 'new'),
      { name: 'delete', action: { kind: 'snapshot-delete', image: img('a.qcow2'), name: 'gone' } },
    ];
    const err = await runJournal(
      { operation: 'snapshot-delete', domain: 'vm', steps },
      { path: journal, ctx },
    ).catch((e: unknown) => e);
    expect(isVirtError(err, 'OPERATION_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/committed/);
    const record = await readJournal(journal);
    expect(record?.committed).toBe(true);
    expect((err as { details?: unknown }).details).toEqual({
      committed: true,
      journal: record?.id,
      operation: 'snapshot-delete',
      step: 'delete',
    });
  });

  it('rolls back and throws OPERATION_ABORTED when the signal fires before the commit', async () => {
    const controller = new AbortController();
    const code = await codeOf(
      runJournal(
        { operation: 'snapshot-create', domain: 'vm', steps: [...snapSteps('s1'), commit] },
        {
          path: journal,
          ctx,
          signal: controller.signal,
          onProgress: (p) => {
            if (p.completed === 1) controller.abort();
          },
        },
      ),
    );
    expect(code).toBe('OPERATION_ABORTED');
    expect(fake.images.get(img('a.qcow2'))?.snapshots).toEqual([]);
    expect(existsSync(journal)).toBe(false);
  });

  it('refuses plans without exactly one commit or with steps on the wrong side', async () => {
    expect(
      await codeOf(
        runJournal({ operation: 'x', domain: 'vm', steps: snapSteps('s') }, { path: journal, ctx }),
      ),
    ).toBe('INTERNAL_ERROR');
    const wrong = [commit, ...snapSteps('s')];
    expect(
      await codeOf(runJournal({ operation: 'x', domain: 'vm', steps: wrong }, { path: journal, ctx })),
    ).toBe('INTERNAL_ERROR');
    expect(fake.calls).toEqual([]);
  });
});

describe('recoverJournal', () => {
  const record = (steps: JournalStep[], committed: boolean, done: number): JournalRecord => ({
    version: 1,
    id: 'abc',
    pid: 999999,
    startedAt: 0,
    operation: 'test',
    domain: 'vm',
    steps,
    committed,
    done,
  });

  it('repairs leaked clusters (qemu-img check -r leaks) on every existing qcow2 image the plan writes', async () => {
    fake.add(img('raw.img'), { format: 'raw' });
    const steps: JournalStep[] = [
      commit,
      { name: 'delete a', action: { kind: 'snapshot-delete', image: img('a.qcow2'), name: 'x' } },
      { name: 'commit', action: { kind: 'image-commit', image: img('b.qcow2'), base: img('raw.img') } },
      {
        name: 'rebase',
        action: { kind: 'image-rebase-unsafe', image: img('gone.qcow2'), backing: 'x', backingFormat: 'raw' },
      },
      { name: 'drop', action: { kind: 'file-unlink', path: img('gone.qcow2') } },
    ];
    await writeFileAtomic(journal, JSON.stringify(record(steps, true, 0)));
    await recoverJournal(journal, ctx);
    expect(fake.calls.filter((c) => c[0] === 'check')).toEqual([
      ['check', '-q', '-r', 'leaks', '-f', 'qcow2', img('a.qcow2')],
      ['check', '-q', '-r', 'leaks', '-f', 'qcow2', img('b.qcow2')],
    ]);
    expect(existsSync(journal)).toBe(false);
  });

  it('undoes every pre-commit step of an uncommitted journal, whatever `done` says', async () => {
    fake.images.get(img('a.qcow2'))?.snapshots.push({ id: '1', name: 's1' });
    await writeFileAtomic(journal, JSON.stringify(record([...snapSteps('s1'), commit], false, 0)));
    expect((await recoverJournal(journal, ctx))?.id).toBe('abc');
    expect(fake.images.get(img('a.qcow2'))?.snapshots).toEqual([]);
    expect(fake.calls.filter((c) => c[0] === 'snapshot')).toEqual([['snapshot', '-d', 's1', img('a.qcow2')]]);
    expect(existsSync(journal)).toBe(false);
  });

  it('applies the safety snapshot back before dropping it', async () => {
    const a = fake.images.get(img('a.qcow2'));
    a?.snapshots.push({ id: '1', name: 'target' }, { id: '2', name: 'safety' });
    if (a !== undefined) a.data = 'target';
    const steps: JournalStep[] = [
      { name: 'safety a', action: { kind: 'snapshot-create', image: img('a.qcow2'), name: 'safety' } },
      { name: 'safety b', action: { kind: 'snapshot-create', image: img('b.qcow2'), name: 'safety' } },
      {
        name: 'apply a',
        action: { kind: 'snapshot-apply', image: img('a.qcow2'), name: 'target', safety: 'safety' },
      },
      {
        name: 'apply b',
        action: { kind: 'snapshot-apply', image: img('b.qcow2'), name: 'target', safety: 'safety' },
      },
      commit,
    ];
    await writeFileAtomic(journal, JSON.stringify(record(steps, false, 3)));
    await recoverJournal(journal, ctx);
    expect(a?.data).toBe('safety');
    expect(a?.snapshots.map((s) => s.name)).toEqual(['target']);
    const mutations = fake.calls.filter((c) => c[0] === 'snapshot');
    expect(mutations).toEqual([
      ['snapshot', '-a', 'safety', img('a.qcow2')],
      ['snapshot', '-d', 'safety', img('a.qcow2')],
    ]);
  });

  it('redoes every post-commit step of a committed journal', async () => {
    fake.images.get(img('a.qcow2'))?.snapshots.push({ id: '1', name: 'gone' });
    const steps: JournalStep[] = [
      commit,
      write('meta.xml', 'new'),
      { name: 'delete a', action: { kind: 'snapshot-delete', image: img('a.qcow2'), name: 'gone' } },
      { name: 'delete b', action: { kind: 'snapshot-delete', image: img('b.qcow2'), name: 'gone' } },
    ];
    await writeFileAtomic(journal, JSON.stringify(record(steps, true, 1)));
    await recoverJournal(journal, ctx);
    expect(readFileSync(join(dir, 'meta.xml'), 'utf8')).toBe('new');
    expect(fake.images.get(img('a.qcow2'))?.snapshots).toEqual([]);
    expect(existsSync(journal)).toBe(false);
  });

  it('removes overlays created before the commit point', async () => {
    const overlay = img('a.s1');
    const steps: JournalStep[] = [
      {
        name: 'overlay',
        action: {
          kind: 'overlay-create',
          image: overlay,
          backing: img('a.qcow2'),
          backingFormat: 'qcow2',
          existedEmpty: false,
        },
      },
      { name: 'bitmap', action: { kind: 'bitmap-add', image: overlay, name: 'c1', granularity: 65536 } },
      commit,
    ];
    fake.add(overlay, { backing: img('a.qcow2') });
    await writeFileAtomic(journal, JSON.stringify(record(steps, false, 2)));
    await recoverJournal(journal, ctx);
    expect(existsSync(overlay)).toBe(false);
  });

  it('folds a bitmap into its heir and removes it, only while it is still there', async () => {
    const a = fake.images.get(img('a.qcow2'));
    a?.bitmaps.push(
      { name: 'c1', granularity: 65536, flags: ['auto'] },
      { name: 'c2', granularity: 65536, flags: ['auto'] },
    );
    const steps: JournalStep[] = [
      commit,
      { name: 'fold', action: { kind: 'bitmap-fold', image: img('a.qcow2'), name: 'c2', into: 'c1' } },
    ];
    await writeFileAtomic(journal, JSON.stringify(record(steps, true, 1)));
    await recoverJournal(journal, ctx);
    expect(fake.calls.filter((c) => c[0] === 'bitmap')).toEqual([
      ['bitmap', '--merge', 'c2', '--', img('a.qcow2'), 'c1'],
      ['bitmap', '--remove', '--', img('a.qcow2'), 'c2'],
    ]);
    fake.calls.length = 0;
    await writeFileAtomic(journal, JSON.stringify(record(steps, true, 1)));
    await recoverJournal(journal, ctx);
    expect(fake.calls.filter((c) => c[0] === 'bitmap')).toEqual([]);
  });

  it('reports a roll-forward as it runs: started, a progress per step, finished', async () => {
    const steps: JournalStep[] = [
      commit,
      write('meta.xml', 'new'),
      { name: 'delete a', action: { kind: 'snapshot-delete', image: img('a.qcow2'), name: 'gone' } },
    ];
    await writeFileAtomic(journal, JSON.stringify(record(steps, true, 1)));
    const events: unknown[] = [];
    await recoverJournal(journal, ctx, (e) => events.push(e));
    const base = { domain: 'vm', operation: 'test', journal: 'abc', direction: 'roll-forward' };
    expect(events).toEqual([
      { ...base, stage: 'started' },
      { ...base, stage: 'progress', progress: { phase: 'metadata', completed: 1, total: 2, unit: 'steps' } },
      { ...base, stage: 'progress', progress: { phase: 'delete a', completed: 2, total: 2, unit: 'steps' } },
      { ...base, stage: 'finished' },
    ]);
  });

  it('reports a roll-back, and a failure with committed: false in the details', async () => {
    fake.images.get(img('a.qcow2'))?.snapshots.push({ id: '1', name: 's1' });
    fake.failWhen = (argv) => argv[1] === '-d';
    await writeFileAtomic(journal, JSON.stringify(record([...snapSteps('s1'), commit], false, 1)));
    const events: { stage: string; direction: string; error?: unknown }[] = [];
    const err = await recoverJournal(journal, ctx, (e) => events.push(e)).catch((e: unknown) => e);
    expect(events.map((e) => `${e.direction} ${e.stage}`)).toEqual([
      'roll-back started',
      'roll-back progress',
      'roll-back failed',
    ]);
    expect(events[2]?.error).toBe(err);
    expect((err as { details?: unknown }).details).toEqual({
      journal: 'abc',
      operation: 'test',
      step: 'snap a',
      committed: false,
    });
  });

  it('keeps the journal when an undo fails, for a later try', async () => {
    fake.images.get(img('a.qcow2'))?.snapshots.push({ id: '1', name: 's1' });
    fake.failWhen = (argv) => argv[1] === '-d';
    await writeFileAtomic(journal, JSON.stringify(record([...snapSteps('s1'), commit], false, 1)));
    expect(await codeOf(recoverJournal(journal, ctx))).toBe('OPERATION_FAILED');
    expect(existsSync(journal)).toBe(true);
    await recoverJournal(journal, ctx);
    expect(existsSync(journal)).toBe(false);
  });

  it('reports an unreadable journal', async () => {
    await writeFileAtomic(journal, '{"version": 2}');
    expect(await codeOf(recoverJournal(journal, ctx))).toBe('INTERNAL_ERROR');
  });
});
