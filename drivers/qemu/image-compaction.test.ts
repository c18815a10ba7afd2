import { describe, expect, it } from 'vitest';
import { isVirtError } from 'virtkit';
import { compactionSteps, planCompaction, type PlanRef } from './image-compaction.js';
import type { ImageNode, RefHolder } from './image-graph.js';

function node(key: string, backing?: string, extra: Partial<ImageNode> = {}): ImageNode {
  return {
    key,
    path: key,
    disk: 'vda',
    format: 'qcow2',
    backing,
    writable: true,
    snapshots: [],
    bitmaps: [],
    ...extra,
  };
}

function graph(...nodes: ImageNode[]): Map<string, ImageNode> {
  return new Map(nodes.map((n) => [n.key, n]));
}

const current: RefHolder = { kind: 'current' };
const frozen = (snapshot: string): RefHolder => ({ kind: 'frozen', snapshot });
const ref = (key: string, holder: RefHolder): PlanRef => ({ key, holder });

describe('planCompaction', () => {
  it('folds the current top into the frozen image of a deleted current leaf', () => {
    const nodes = graph(node('/b'), node('/i', '/b'), node('/x', '/i'));
    const plan = planCompaction({
      nodes,
      before: [ref('/x', current), ref('/i', frozen('s')), ref('/b', frozen('p'))],
      after: [ref('/x', current), ref('/b', frozen('p'))],
      fold: true,
    });
    expect(plan.unlink).toEqual([]);
    expect(plan.folds.map((f) => [f.base.key, f.top.key, f.dependents.map((d) => d.key)])).toEqual([
      ['/i', '/x', []],
    ]);
    expect([...plan.redirects]).toEqual([['/x', '/i']]);
    expect(compactionSteps(plan).map((s) => s.action.kind)).toEqual(['image-commit', 'file-unlink']);
  });

  it('folds the current top into a base that only internal snapshots hold (their data is in its snapshot table)', () => {
    const internal: RefHolder = { kind: 'internal', snapshot: 's1' };
    const nodes = graph(node('/b', undefined, { snapshots: ['s1'] }), node('/x', '/b'));
    const plan = planCompaction({
      nodes,
      before: [ref('/x', current), ref('/b', frozen('e1')), ref('/b', internal)],
      after: [ref('/x', current), ref('/b', internal)],
      fold: true,
    });
    expect(plan.folds.map((f) => [f.base.key, f.top.key])).toEqual([['/b', '/x']]);
    expect([...plan.redirects]).toEqual([['/x', '/b']]);
    // while an external snapshot still reads the base's active data, nothing is folded into it
    const kept = planCompaction({
      nodes,
      before: [ref('/x', current), ref('/b', frozen('e1')), ref('/b', internal)],
      after: [ref('/x', current), ref('/b', frozen('e1')), ref('/b', internal)],
      fold: true,
    });
    expect(kept.folds).toEqual([]);
  });

  it('unlinks what nothing reaches (a non-current leaf), deepest first', () => {
    const nodes = graph(node('/b'), node('/n', '/b'), node('/i', '/b'), node('/o', '/i'));
    const plan = planCompaction({
      nodes,
      before: [ref('/n', current), ref('/b', frozen('p')), ref('/i', frozen('s')), ref('/o', frozen('t'))],
      after: [ref('/n', current), ref('/b', frozen('p'))],
      fold: true,
    });
    expect(plan.unlink.map((n) => n.key)).toEqual(['/o', '/i']);
    expect(plan.folds).toEqual([]);
  });

  it('keeps an unreferenced image with two dependents as a shared backing file', () => {
    const nodes = graph(node('/b'), node('/i', '/b'), node('/x', '/i'), node('/y', '/i'));
    const plan = planCompaction({
      nodes,
      before: [ref('/x', current), ref('/y', frozen('c')), ref('/i', frozen('s')), ref('/b', frozen('r'))],
      after: [ref('/x', current), ref('/y', frozen('c')), ref('/b', frozen('r'))],
      fold: true,
    });
    expect(plan.unlink).toEqual([]);
    expect(plan.folds).toEqual([]);
  });

  it('folds a chain of unreferenced images bottom-up, copying each layer once', () => {
    const nodes = graph(node('/b'), node('/i1', '/b'), node('/i2', '/i1'), node('/x', '/i2'));
    const plan = planCompaction({
      nodes,
      before: [
        ref('/x', current),
        ref('/i1', frozen('s1')),
        ref('/i2', frozen('s2')),
        ref('/b', frozen('r')),
      ],
      after: [ref('/x', current), ref('/b', frozen('r'))],
      fold: true,
    });
    expect(
      plan.folds.map((f) => `${f.top.key}→${f.base.key} (${f.dependents.map((d) => d.key).join()})`),
    ).toEqual(['/i2→/i1 (/x)', '/x→/i1 ()']);
    expect(Object.fromEntries(plan.redirects)).toEqual({ '/i2': '/i1', '/x': '/i1' });
    expect(compactionSteps(plan).map((s) => s.name)).toEqual([
      'commit vda i2',
      'rebase vda x',
      'drop vda i2',
      'commit vda x',
      'drop vda x',
    ]);
  });

  it('never changes or removes read-only images', () => {
    const nodes = graph(
      node('/b', undefined, { writable: false }),
      node('/x', '/b'),
      node('/g', '/b', { writable: false }),
    );
    const plan = planCompaction({
      nodes,
      before: [ref('/x', current), ref('/b', frozen('s')), ref('/g', frozen('t'))],
      after: [ref('/x', current)],
      fold: true,
    });
    expect(plan.unlink).toEqual([]);
    expect(plan.folds).toEqual([]);
  });

  it('refuses a needed fold that would remove internal snapshots still in the metadata, skips an optional one', () => {
    const nodes = graph(node('/b'), node('/x', '/b', { snapshots: ['s2'] }));
    const holders = [ref('/x', current), ref('/x', { kind: 'internal', snapshot: 's2' })];
    const attempt = (before: PlanRef[]) => () =>
      planCompaction({ nodes, before: [...holders, ...before], after: holders, fold: true });
    expect(attempt([ref('/b', frozen('e1'))])).toThrow(/cannot merge image '\/x' of disk 'vda' into '\/b'/);
    try {
      attempt([ref('/b', frozen('e1'))])();
    } catch (err) {
      expect(isVirtError(err, 'OPERATION_UNSUPPORTED')).toBe(true);
    }
    expect(attempt([])().folds).toEqual([]);
  });

  it('merges bitmaps into a qcow2 base, but does not fold bitmaps into a raw one', () => {
    const bitmaps = [
      { name: 'c1', granularity: 65536, flags: ['auto'] },
      { name: 'bad', granularity: 65536, flags: ['in-use'] },
      { name: 'off', granularity: 131072, flags: [] },
    ];
    const before = [ref('/x', current), ref('/b', frozen('s'))];
    const after = [ref('/x', current)];
    const qcow2 = planCompaction({
      nodes: graph(node('/b'), node('/x', '/b', { bitmaps })),
      before,
      after,
      fold: true,
    });
    const merges = compactionSteps(qcow2).filter((s) => s.action.kind === 'bitmap-merge-from');
    expect(merges.map((s) => s.action)).toEqual([
      {
        kind: 'bitmap-merge-from',
        image: '/b',
        name: 'c1',
        source: '/x',
        granularity: 65536,
        disabled: false,
      },
      {
        kind: 'bitmap-merge-from',
        image: '/b',
        name: 'off',
        source: '/x',
        granularity: 131072,
        disabled: true,
      },
    ]);
    const raw = planCompaction({
      nodes: graph(node('/b', undefined, { format: 'raw' }), node('/x', '/b', { bitmaps })),
      before,
      after,
      fold: true,
    });
    expect(raw.folds).toEqual([]);
  });

  it('without fold only unlinks (revert): the previous top and what only it needed', () => {
    const nodes = graph(node('/b'), node('/f', '/b'), node('/q', '/f'), node('/t', '/q'), node('/n', '/f'));
    const after = [ref('/n', current), ref('/f', frozen('s'))];
    const plan = planCompaction({
      nodes,
      before: [ref('/t', current), ref('/f', frozen('s'))],
      after,
      fold: false,
    });
    expect(plan.unlink.map((n) => n.key)).toEqual(['/t', '/q']);
    expect(plan.folds).toEqual([]);
    const only = (owned: string[]): string[] =>
      planCompaction({ nodes, before: [], after, fold: false, owned: new Set(owned) }).unlink.map(
        (n) => n.key,
      );
    expect(only(['/t', '/n'])).toEqual(['/t']);
    expect(only(['/q', '/n'])).toEqual([]);
  });
});
