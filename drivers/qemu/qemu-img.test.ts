import { describe, expect, it } from 'vitest';
import { isVirtError } from 'virtkit';
import { CommandFailure, progressParser, QemuImg, stderrSummary, type CommandRunner } from './qemu-img.js';

function recorder(stdout = ''): { calls: [string, string[]][]; runner: CommandRunner } {
  const calls: [string, string[]][] = [];
  return { calls, runner: async (file, args) => (calls.push([file, [...args]]), { stdout, stderr: '' }) };
}

describe('QemuImg', () => {
  it('builds argument arrays, never a command line', async () => {
    const r = recorder();
    const q = new QemuImg({ binary: '/opt/qemu-img', runner: r.runner });
    await q.snapshotCreate('/i/a b.qcow2', 's 1');
    await q.snapshotApply('/i/a.qcow2', '-x');
    await q.snapshotDelete('/i/a.qcow2', '--');
    await q.createOverlay('/i/o,1.qcow2', '/i/b,ase.raw', 'raw');
    await q.bitmapAdd('/i/a.qcow2', '-c1', { granularity: 131072, disabled: true });
    await q.bitmapRemove('/i/a.qcow2', 'c1');
    await q.bitmapMerge('/i/a.qcow2', 'c2', 'c1');
    await q.bitmapMergeFrom('/i/a.qcow2', 'c1', '/i/o.qcow2', 'qcow2', 'c1');
    await q.commit('/i/o.qcow2', { keepTop: true });
    await q.rebase('/i/t.qcow2', '/i/a.qcow2', 'raw', { unsafe: true });
    expect(r.calls).toEqual([
      ['/opt/qemu-img', ['snapshot', '-c', 's 1', '/i/a b.qcow2']],
      ['/opt/qemu-img', ['snapshot', '-a', '-x', '/i/a.qcow2']],
      ['/opt/qemu-img', ['snapshot', '-d', '--', '/i/a.qcow2']],
      ['/opt/qemu-img', ['create', '-q', '-f', 'qcow2', '-b', '/i/b,ase.raw', '-F', 'raw', '/i/o,1.qcow2']],
      ['/opt/qemu-img', ['bitmap', '--add', '-g', '131072', '--disable', '--', '/i/a.qcow2', '-c1']],
      ['/opt/qemu-img', ['bitmap', '--remove', '--', '/i/a.qcow2', 'c1']],
      ['/opt/qemu-img', ['bitmap', '--merge', 'c2', '--', '/i/a.qcow2', 'c1']],
      [
        '/opt/qemu-img',
        ['bitmap', '--merge', 'c1', '-b', '/i/o.qcow2', '-F', 'qcow2', '--', '/i/a.qcow2', 'c1'],
      ],
      ['/opt/qemu-img', ['commit', '-q', '-d', '/i/o.qcow2']],
      ['/opt/qemu-img', ['rebase', '-q', '-u', '-f', 'qcow2', '-b', '/i/a.qcow2', '-F', 'raw', '/i/t.qcow2']],
    ]);
  });

  it('parses info output, with and without a backing chain', async () => {
    const one = {
      filename: '/i/a.qcow2',
      format: 'qcow2',
      'virtual-size': 1024,
      'backing-filename': 'b.qcow2',
      'full-backing-filename': '/i/b.qcow2',
      'backing-filename-format': 'qcow2',
      snapshots: [{ id: '1', name: 's1', 'vm-state-size': 0 }],
      'format-specific': {
        type: 'qcow2',
        data: { bitmaps: [{ name: 'c1', granularity: 65536, flags: ['auto'] }] },
      },
    };
    const q1 = new QemuImg({ runner: recorder(JSON.stringify(one)).runner });
    const [info] = await q1.info('/i/a.qcow2');
    expect(info).toEqual({
      filename: '/i/a.qcow2',
      format: 'qcow2',
      virtualSize: 1024,
      backingFilename: 'b.qcow2',
      fullBackingFilename: '/i/b.qcow2',
      backingFormat: 'qcow2',
      snapshots: [{ id: '1', name: 's1' }],
      bitmaps: [{ name: 'c1', granularity: 65536, flags: ['auto'] }],
    });
    const r = recorder(JSON.stringify([one, { filename: '/i/b.qcow2', format: 'qcow2' }]));
    const chain = await new QemuImg({ runner: r.runner }).info('/i/a.qcow2', { backingChain: true });
    expect(chain.map((c) => c.filename)).toEqual(['/i/a.qcow2', '/i/b.qcow2']);
    expect(r.calls[0]?.[1]).toEqual(['info', '--output=json', '--backing-chain', '/i/a.qcow2']);
  });

  it('turns a failure into OPERATION_FAILED with argv, exit code and stderr', async () => {
    const runner: CommandRunner = async () => {
      throw new CommandFailure(
        'exit status 1',
        1,
        "qemu-img: Could not apply snapshot 's1': Device has active dirty bitmaps\n",
      );
    };
    const err = await new QemuImg({ runner }).snapshotApply('/i/a.qcow2', 's1').catch((e: unknown) => e);
    expect(isVirtError(err, 'OPERATION_FAILED')).toBe(true);
    expect((err as Error).message).toBe(
      "qemu-img snapshot -a failed: Could not apply snapshot 's1': Device has active dirty bitmaps",
    );
    expect((err as { details: unknown }).details).toEqual({
      command: ['qemu-img', 'snapshot', '-a', 's1', '/i/a.qcow2'],
      exitCode: 1,
      stderr: "qemu-img: Could not apply snapshot 's1': Device has active dirty bitmaps\n",
    });
  });

  it('reports invalid JSON from info', async () => {
    const err = await new QemuImg({ runner: recorder('not json').runner })
      .info('/x')
      .catch((e: unknown) => e);
    expect(isVirtError(err, 'OPERATION_FAILED')).toBe(true);
  });

  it('summarises stderr to its first line', () => {
    expect(stderrSummary('\nqemu-img: first\nsecond\n')).toBe('first');
    expect(stderrSummary('')).toBe('');
  });

  it('parses -p progress split across chunks, once per increase', () => {
    const seen: number[] = [];
    const feed = progressParser((p) => seen.push(p));
    for (const chunk of [
      '    (0.00/100%)\r    (0.00/100%)\r    (12',
      '.50/100%)\r',
      '    (12.50/100%)\r    (100.00/100%)\r',
    ])
      feed(chunk);
    expect(seen).toEqual([0, 12.5, 100]);
  });

  it('runs commit with -p and hands stdout to the parser when progress is wanted', async () => {
    const calls: string[][] = [];
    const runner: CommandRunner = async (_file, args, options) => {
      calls.push([...args]);
      options?.onStdout?.('    (50.00/100%)\r');
      return { stdout: '', stderr: '' };
    };
    const seen: number[] = [];
    await new QemuImg({ runner }).commit('/i/o.qcow2', { keepTop: true, onProgress: (p) => seen.push(p) });
    expect(calls).toEqual([['commit', '-p', '-d', '/i/o.qcow2']]);
    expect(seen).toEqual([50]);
  });
});
