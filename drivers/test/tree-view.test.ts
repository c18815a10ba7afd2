import { formatCheckpointTree, formatSnapshotTree, type Domain } from 'virtkit';
import { describe, expect, it } from 'vitest';
import { openWorld, snapXml } from './test-helpers.js';

// Expected outputs were produced by `virsh -c test:///default` (libvirt 9.0) with the same
// commands in one virsh process; `$` marks line ends where trailing blanks matter.
const lines = (...l: string[]) => l.map((x) => `${x.replace(/\$$/, '')}\n`).join('');

async function create(domain: Domain, ...names: string[]): Promise<void> {
  for (const n of names) await domain.createSnapshot(snapXml(n));
}

async function revert(domain: Domain, name: string): Promise<void> {
  await (await domain.lookupSnapshotByName(name)).revert();
}

describe('formatSnapshotTree', () => {
  it('prints the virsh-snapshot scenario tree byte for byte', async () => {
    await using w = await openWorld();
    const d = w.domain;
    await create(d, 's1', 's3', 's2');
    await revert(d, 's3');
    await create(d, 's6', 's5');
    await revert(d, 's6');
    await create(d, 's4');
    await revert(d, 's1');
    await create(d, 's7', 's8');
    expect(await formatSnapshotTree(d)).toBe(
      lines(
        's1',
        '  |',
        '  +- s3',
        '  |   |',
        '  |   +- s2',
        '  |   +- s6',
        '  |       |',
        '  |       +- s4',
        '  |       +- s5',
        '  |         $',
        '  +- s7',
        '      |',
        '      +- s8',
        '        $',
        '',
      ),
    );
  });

  it('prints several roots in virsh order (ASCII letters folded) and keeps equal names in list order', async () => {
    await using w = await openWorld();
    const d = w.domain;
    await create(d, 'Zeta', 'alpha', 'Beta');
    await revert(d, 'alpha');
    await create(d, 'beta');
    await revert(d, 'Zeta');
    await create(d, 'Alpha2', '_x');
    await revert(d, 'Zeta');
    await create(d, 'a10', 'a9');
    await (await d.lookupSnapshotByName('Zeta')).delete();
    expect(await formatSnapshotTree(d)).toBe(
      lines(
        'a10',
        '  |',
        '  +- a9',
        '    $',
        'alpha',
        '  |',
        '  +- Beta',
        '  +- beta',
        '    $',
        'Alpha2',
        '  |',
        '  +- _x',
        '    $',
        '',
      ),
    );
  });

  it('prints a lone root, an empty list, and deep chains without recursion', async () => {
    await using w = await openWorld();
    expect(await formatSnapshotTree(w.domain)).toBe('\n');
    await create(w.domain, 's1');
    expect(await formatSnapshotTree(w.domain)).toBe('s1\n\n\n');
    for (let i = 0; i < 1500; i++) await w.domain.createSnapshot(snapXml(`c${i}`));
    const out = (await formatSnapshotTree(w.domain)).split('\n');
    expect(out.length).toBe(2 + 2 * 1500 + 2);
    expect(out.at(-4)).toBe(`${' '.repeat(2 + 4 * 1499)}+- c1499`);
    expect(out.at(-3)).toBe(' '.repeat(2 + 4 * 1499 + 2));
  });

  it('with trim, drops trailing blanks and the closing empty lines, keeps the gaps between trees', async () => {
    await using w = await openWorld();
    expect(await formatSnapshotTree(w.domain, { trim: true })).toBe('');
    await create(w.domain, 'r', 'x', 'x1');
    await revert(w.domain, 'r');
    await create(w.domain, 'y');
    await (await w.domain.lookupSnapshotByName('r')).delete();
    const full = await formatSnapshotTree(w.domain);
    const trimmed = await formatSnapshotTree(w.domain, { trim: true });
    expect(trimmed).toBe(['x', '  |', '  +- x1', '', 'y'].join('\n'));
    expect(
      full
        .split('\n')
        .map((l) => l.trimEnd())
        .join('\n')
        .trimEnd(),
    ).toBe(trimmed);
    await expect(formatSnapshotTree(w.domain, { trim: 1 } as never)).rejects.toMatchObject({
      code: 'INVALID_ARG',
    });
  });
});

describe('formatCheckpointTree', () => {
  it('prints what virsh checkpoint-list --tree prints', async () => {
    await using w = await openWorld();
    const d = w.domain;
    for (const n of ['c1', 'c2', 'c3'])
      await d.createCheckpoint(`<domaincheckpoint><name>${n}</name></domaincheckpoint>`);
    await (await d.lookupCheckpointByName('c2')).delete();
    await d.createCheckpoint('<domaincheckpoint><name>b</name></domaincheckpoint>');
    expect(await formatCheckpointTree(d)).toBe(
      lines('c1', '  |', '  +- c3', '      |', '      +- b', '        $', ''),
    );
  });
});
