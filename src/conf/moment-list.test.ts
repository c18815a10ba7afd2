import { describe, expect, it } from 'vitest';
import { VirtError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { MomentList } from './moment-list.js';
import type { MomentKind, MomentListFlags, MomentRemoveMode } from './moment-list.js';
import type { SnapshotDef } from './snapshot-def.js';

interface Def {
  readonly name?: string;
  readonly parent?: string;
  readonly tag?: string;
}

type Entry = readonly [name: string, parent?: string];

function build(entries: readonly Entry[], kind: MomentKind = 'snapshot'): MomentList<Def> {
  const list = new MomentList<Def>(kind);
  for (const [name, parent] of entries) list.add(parent === undefined ? { name } : { name, parent });
  return list;
}

/** Forest as text, siblings in list order (or sorted): `r2 r1(b a(a2 a1(a11)))`. */
function shape(list: MomentList<Def>, sorted = false): string {
  const order = (names: string[]): string[] => (sorted ? [...names].sort() : names);
  const render = (name: string): string => {
    const kids = order(list.children(name));
    return kids.length === 0 ? name : `${name}(${kids.map(render).join(' ')})`;
  };
  return order(list.list(null, { roots: true }))
    .map(render)
    .join(' ');
}

/** Checks every invariant in O(n); reports all violations at once. */
function expectConsistent<D extends Def>(list: MomentList<D>): void {
  const names = list.names();
  const topo = list.list(null, { topological: true });
  const pos = new Map(topo.map((n, i) => [n, i]));
  const bad: string[] = [];
  if (topo.length !== names.length || pos.size !== names.length) bad.push('topological size');
  let linked = list.list(null, { roots: true }).length;
  for (const name of names) {
    const parent = list.parentOf(name);
    const kids = list.children(name);
    linked += kids.length;
    if (list.get(name)?.parent !== parent) bad.push(`${name}: def.parent out of sync`);
    if (parent !== undefined && (pos.get(parent) ?? Infinity) >= (pos.get(name) ?? -1))
      bad.push(`${name}: order`);
    if (kids.length !== list.childCount(name)) bad.push(`${name}: child count`);
    for (const kid of kids) if (list.parentOf(kid) !== name) bad.push(`${kid}: back link`);
  }
  if (linked !== names.length) bad.push('link count');
  if (list.current !== undefined && !list.has(list.current)) bad.push('current dangling');
  expect(bad).toEqual([]);
}

function catchError(fn: () => unknown): VirtError {
  try {
    fn();
  } catch (err) {
    if (err instanceof VirtError) return err;
    throw err;
  }
  throw new Error('expected a VirtError');
}

function expectVirtError(fn: () => unknown, code: ErrorCode, message: string): void {
  const err = catchError(fn);
  expect({ code: err.code, message: err.message }).toEqual({ code, message });
}

function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s >>> 8) % n;
  };
}

/** The tree used by most tests; insertion order is the array order. */
const FIXTURE: readonly Entry[] = [
  ['r1'],
  ['a', 'r1'],
  ['a1', 'a'],
  ['a11', 'a1'],
  ['a2', 'a'],
  ['b', 'r1'],
  ['r2'],
];

describe('MomentList: adding and looking up', () => {
  it('starts empty', () => {
    const list = new MomentList<Def>('snapshot');
    expect([list.size, list.names(), list.list(null), list.list(null, { roots: true })]).toEqual([
      0,
      [],
      [],
      [],
    ]);
    expect([list.current, list.findLeaf(), list.has('x'), list.get('x')]).toEqual([
      undefined,
      undefined,
      false,
      undefined,
    ]);
  });

  it('makes a moment without parent a root (a child of the metaroot)', () => {
    const list = build([['a'], ['b']]);
    expect(list.list(null, { roots: true })).toEqual(['b', 'a']);
    expect(list.parentOf('a')).toBeUndefined();
    expect(list.get('a')).toEqual({ name: 'a' });
  });

  it('stores the very definition object and links it under the given parent', () => {
    const list = new MomentList<Def>('snapshot');
    const root = { name: 'root', tag: 'x' };
    list.add(root);
    list.add({ name: 'kid', parent: 'root' });
    expect(list.get('root')).toBe(root);
    expect(list.require('root')).toBe(root);
    expect([list.parentOf('kid'), list.children('root'), list.childCount('root')]).toEqual([
      'root',
      ['kid'],
      1,
    ]);
    expect(list.size).toBe(2);
  });

  it('orders direct children most recently linked first', () => {
    const list = build([['p'], ['c1', 'p'], ['c2', 'p'], ['c3', 'p']]);
    expect(list.children('p')).toEqual(['c3', 'c2', 'c1']);
  });

  it('links an unknown parent as a root but keeps the name for updateRelations', () => {
    const list = build([['a'], ['orphan', 'ghost']]);
    expect(list.parentOf('orphan')).toBeUndefined();
    expect(list.list(null, { roots: true })).toEqual(['orphan', 'a']);
    expect(list.get('orphan')?.parent).toBe('ghost');
  });

  it('refuses a duplicate name with OPERATION_FAILED and changes nothing', () => {
    const list = build([['s1'], ['s2', 's1']]);
    list.setCurrent('s2');
    const before = list.get('s1');
    expectVirtError(
      () => list.add({ name: 's1', parent: 's2' }),
      'OPERATION_FAILED',
      'domain moment s1 already exists',
    );
    expect(list.get('s1')).toBe(before);
    expect([list.size, shape(list), list.current]).toEqual([2, 's1(s2)', 's2']);
  });

  it('keeps names in insertion order, a re-added name going last', () => {
    const list = build(FIXTURE);
    expect(list.names()).toEqual(FIXTURE.map(([n]) => n));
    list.remove('a1', 'children');
    list.add({ name: 'a1', parent: 'r2' });
    expect(list.names()).toEqual(['r1', 'a', 'a2', 'b', 'r2', 'a1']);
  });

  it('reports an unknown snapshot name with NO_DOMAIN_SNAPSHOT', () => {
    const err = catchError(() => build([]).require('nope'));
    expect([err.code, err.libvirtCode, err.message]).toEqual([
      'NO_DOMAIN_SNAPSHOT',
      72,
      "no domain snapshot with matching name 'nope'",
    ]);
  });

  it('reports an unknown checkpoint name with NO_DOMAIN_CHECKPOINT', () => {
    const err = catchError(() => build([], 'checkpoint').require('nope'));
    expect([err.code, err.libvirtCode, err.message]).toEqual([
      'NO_DOMAIN_CHECKPOINT',
      103,
      "no domain checkpoint with matching name 'nope'",
    ]);
  });

  const byName: [string, (list: MomentList<Def>) => unknown][] = [
    ['require', (l) => l.require('x')],
    ['parentOf', (l) => l.parentOf('x')],
    ['children', (l) => l.children('x')],
    ['childCount', (l) => l.childCount('x')],
    ['isAncestor', (l) => l.isAncestor('x', 'r1')],
    ['setCurrent', (l) => l.setCurrent('x')],
    ['remove', (l) => l.remove('x')],
    ['replace', (l) => l.replace({ name: 'x' })],
    ['list', (l) => l.list('x')],
  ];
  it.each(byName)('%s of an unknown name throws the lookup error for both kinds', (_, call) => {
    const snaps = build(FIXTURE);
    const checkpoints = build(FIXTURE, 'checkpoint');
    expectVirtError(() => call(snaps), 'NO_DOMAIN_SNAPSHOT', "no domain snapshot with matching name 'x'");
    expectVirtError(
      () => call(checkpoints),
      'NO_DOMAIN_CHECKPOINT',
      "no domain checkpoint with matching name 'x'",
    );
    expect(shape(snaps)).toBe('r2 r1(b a(a2 a1(a11)))');
  });

  it('uses the moment wording for both kinds in add and redefine checks', () => {
    const list = build([['c1']], 'checkpoint');
    expectVirtError(() => list.add({ name: 'c1' }), 'OPERATION_FAILED', 'domain moment c1 already exists');
    expectVirtError(() => list.checkRedefine('c2', 'c9'), 'INVALID_ARG', 'parent c9 for moment c2 not found');
  });
});

describe('MomentList: checkRedefine', () => {
  const chain = (): MomentList<Def> => build([['a'], ['b', 'a'], ['c', 'b'], ['d', 'c'], ['x']]);

  it('accepts no parent, for a new and for an existing name', () => {
    const list = chain();
    expect(() => list.checkRedefine('new', undefined)).not.toThrow();
    expect(() => list.checkRedefine('c', undefined)).not.toThrow();
  });

  it('refuses a moment as its own parent, even a new one', () => {
    expectVirtError(
      () => chain().checkRedefine('c', 'c'),
      'INVALID_ARG',
      'cannot set moment c as its own parent',
    );
    expectVirtError(
      () => chain().checkRedefine('n', 'n'),
      'INVALID_ARG',
      'cannot set moment n as its own parent',
    );
  });

  it('refuses a parent that does not exist (parents must be redefined first)', () => {
    expectVirtError(
      () => chain().checkRedefine('s2', 's3'),
      'INVALID_ARG',
      'parent s3 for moment s2 not found',
    );
  });

  it('refuses a direct child as the new parent', () => {
    expectVirtError(() => chain().checkRedefine('a', 'b'), 'INVALID_ARG', 'parent b would create cycle to a');
  });

  it('names the ancestor whose parent is the moment when a deeper descendant is the new parent', () => {
    expectVirtError(() => chain().checkRedefine('a', 'd'), 'INVALID_ARG', 'parent b would create cycle to a');
    expectVirtError(() => chain().checkRedefine('b', 'd'), 'INVALID_ARG', 'parent c would create cycle to b');
  });

  it('accepts new names anywhere and moves to ancestors, siblings or other trees', () => {
    const list = chain();
    for (const [name, parent] of [
      ['new', 'd'],
      ['d', 'a'],
      ['c', 'x'],
      ['a', 'x'],
      ['x', 'd'],
    ] as const) {
      expect(() => list.checkRedefine(name, parent)).not.toThrow();
    }
  });

  it('stops without error at a parent name that cannot be resolved mid-walk', () => {
    const list = build([
      ['p', 'ghost'],
      ['q', 'p'],
    ]);
    expect(() => list.checkRedefine('n', 'q')).not.toThrow();
    expect(() => list.checkRedefine('other', 'p')).not.toThrow();
  });

  it('still sees a cycle through the unresolved name itself (libvirt walks names)', () => {
    const list = build([['p', 'ghost']]);
    expectVirtError(
      () => list.checkRedefine('ghost', 'p'),
      'INVALID_ARG',
      'parent p would create cycle to ghost',
    );
  });

  it('terminates when unresolved names given to add() form a loop', () => {
    const list = build([
      ['a', 'b'],
      ['b', 'a'],
    ]);
    expect(() => list.checkRedefine('n', 'a')).not.toThrow();
  });
});

describe('MomentList: replace (redefinition in place)', () => {
  it('keeps children and position, swaps the definition and re-links under the new parent', () => {
    const list = build(FIXTURE);
    list.setCurrent('a');
    const next = { name: 'a', parent: 'r2', tag: 'new' };
    list.replace(next);
    expect(list.get('a')).toBe(next);
    expect(shape(list)).toBe('r2(a(a2 a1(a11))) r1(b)');
    expect([list.current, list.names()]).toEqual(['a', FIXTURE.map(([n]) => n)]);
    expect(list.get('a1')?.parent).toBe('a');
    expectConsistent(list);
  });

  it('makes the moment a root when the new definition has no parent', () => {
    const list = build(FIXTURE);
    list.replace({ name: 'a1' });
    expect(shape(list)).toBe('a1(a11) r2 r1(b a(a2))');
    expectConsistent(list);
  });

  it('re-links in front of the siblings even when the parent does not change', () => {
    const list = build([['p'], ['c1', 'p'], ['c2', 'p']]);
    list.replace({ name: 'c1', parent: 'p', tag: 'again' });
    expect(list.children('p')).toEqual(['c1', 'c2']);
  });

  it('links an unknown parent as a root like add()', () => {
    const list = build(FIXTURE);
    list.replace({ name: 'b', parent: 'ghost' });
    expect([list.parentOf('b'), list.get('b')?.parent]).toEqual([undefined, 'ghost']);
  });

  it('refuses to hang a moment below itself and leaves the tree untouched', () => {
    const list = build(FIXTURE);
    expectVirtError(
      () => list.replace({ name: 'a', parent: 'a' }),
      'INVALID_ARG',
      'cannot set moment a as its own parent',
    );
    expectVirtError(
      () => list.replace({ name: 'r1', parent: 'a11' }),
      'INVALID_ARG',
      'parent a would create cycle to r1',
    );
    expect(shape(list)).toBe('r2 r1(b a(a2 a1(a11)))');
    expectConsistent(list);
  });
});

describe('MomentList: update (same parent, in place)', () => {
  it('swaps the definition and keeps position, children and current', () => {
    const list = build([['p'], ['c1', 'p'], ['c2', 'p'], ['g', 'c1']]);
    list.setCurrent('c1');
    const next = { name: 'c1', parent: 'p', tag: 'rewritten' };
    list.update(next);
    expect(list.get('c1')).toBe(next);
    expect(list.children('p')).toEqual(['c2', 'c1']);
    expect(list.children('c1')).toEqual(['g']);
    expect(list.current).toBe('c1');
    expectConsistent(list);
  });

  it('updates a root', () => {
    const list = build([['r1'], ['r2']]);
    list.update({ name: 'r1', tag: 'x' });
    expect(shape(list)).toBe('r2 r1');
  });

  it('refuses a parent change and an unknown moment, changing nothing', () => {
    const list = build([['p'], ['q'], ['c', 'p']]);
    expectVirtError(
      () => list.update({ name: 'c', parent: 'q' }),
      'INVALID_ARG',
      'update of moment c would change its parent from p to q',
    );
    expectVirtError(
      () => list.update({ name: 'c' }),
      'INVALID_ARG',
      'update of moment c would change its parent from p to none',
    );
    expectVirtError(
      () => list.update({ name: 'zz' }),
      'NO_DOMAIN_SNAPSHOT',
      "no domain snapshot with matching name 'zz'",
    );
    expect(shape(list)).toBe('q p(c)');
    expectConsistent(list);
  });
});

describe('MomentList: current', () => {
  it('is set, moved and cleared explicitly; revert never changes the tree', () => {
    const list = build(FIXTURE);
    list.setCurrent('a1');
    expect(list.current).toBe('a1');
    list.setCurrent('r2');
    expect(list.current).toBe('r2');
    list.setCurrent(undefined);
    expect(list.current).toBeUndefined();
    expect(shape(list)).toBe('r2 r1(b a(a2 a1(a11)))');
  });

  it('keeps the previous current when asked for an unknown name', () => {
    const list = build(FIXTURE);
    list.setCurrent('b');
    expect(() => list.setCurrent('zz')).toThrow(VirtError);
    expect(list.current).toBe('b');
  });

  it('gives creation after a revert a branch (parent = current)', () => {
    const list = new MomentList<Def>('snapshot');
    const create = (name: string): void => {
      const parent = list.current;
      list.add(parent === undefined ? { name } : { name, parent });
      list.setCurrent(name);
    };
    create('a');
    create('b');
    list.setCurrent('a');
    create('c');
    expect([shape(list), list.current]).toEqual(['a(c b)', 'c']);
  });
});

describe('MomentList: isAncestor and findLeaf', () => {
  it('walks the parent chain only', () => {
    const list = build(FIXTURE);
    expect(list.isAncestor('a11', 'a1')).toBe(true);
    expect(list.isAncestor('a11', 'r1')).toBe(true);
    for (const [name, other] of [
      ['a11', 'a11'],
      ['a1', 'a11'],
      ['a11', 'b'],
      ['a11', 'r2'],
      ['a11', 'ghost'],
    ] as const) {
      expect(list.isAncestor(name, other)).toBe(false);
    }
  });

  it.each<[string, Entry[], string | undefined]>([
    ['an empty list', [], undefined],
    ['a single moment', [['a']], 'a'],
    ['a chain', [['a'], ['b', 'a'], ['c', 'b']], 'c'],
    ['two roots', [['a'], ['b']], undefined],
    ['a fork at the top', [['a'], ['b', 'a'], ['c', 'a']], undefined],
    ['a fork further down', [['a'], ['b', 'a'], ['c', 'b'], ['d', 'b']], undefined],
  ])('finds the single leaf of %s', (_, entries, leaf) => {
    expect(build(entries).findLeaf()).toBe(leaf);
  });
});

type CurrentCase = 'target' | 'descendant' | 'unrelated' | 'none';
interface RemoveCase {
  mode: MomentRemoveMode;
  target: 'r1' | 'a';
  current: CurrentCase;
  removed: string[];
  reparented: string[];
  after: string;
  currentAfter: string | undefined;
}

function removeCases(): RemoveCase[] {
  const currentOf: Record<CurrentCase, string | undefined> = {
    target: undefined,
    descendant: 'a11',
    unrelated: 'r2',
    none: undefined,
  };
  const cases: RemoveCase[] = [];
  const add = (
    mode: MomentRemoveMode,
    target: 'r1' | 'a',
    removed: string[],
    reparented: string[],
    after: string,
    result: Record<CurrentCase, string | undefined>,
  ): void => {
    for (const current of ['target', 'descendant', 'unrelated', 'none'] as const) {
      const currentAfter = current === 'unrelated' ? 'r2' : result[current];
      cases.push({ mode, target, current, removed, reparented, after, currentAfter });
    }
  };
  add('self', 'a', ['a'], ['a2', 'a1'], 'r2 r1(a2 a1(a11) b)', { ...currentOf, target: 'r1' });
  add('self', 'r1', ['r1'], ['b', 'a'], 'b a(a2 a1(a11)) r2', { ...currentOf, target: undefined });
  add('children', 'a', ['a2', 'a1', 'a11', 'a'], [], 'r2 r1(b)', {
    ...currentOf,
    target: 'r1',
    descendant: 'r1',
  });
  add('children', 'r1', ['b', 'a', 'a2', 'a1', 'a11', 'r1'], [], 'r2', {
    ...currentOf,
    target: undefined,
    descendant: undefined,
  });
  add('childrenOnly', 'a', ['a2', 'a1', 'a11'], [], 'r2 r1(b a)', {
    ...currentOf,
    target: 'a',
    descendant: 'a',
  });
  add('childrenOnly', 'r1', ['b', 'a', 'a2', 'a1', 'a11'], [], 'r2 r1', {
    ...currentOf,
    target: 'r1',
    descendant: 'r1',
  });
  return cases;
}

describe('MomentList: remove', () => {
  it.each(removeCases())(
    'mode $mode of $target with current = $current',
    ({ mode, target, current, removed, reparented, after, currentAfter }) => {
      const list = build(FIXTURE);
      const currentBefore = { target, descendant: 'a11', unrelated: 'r2', none: undefined }[current];
      list.setCurrent(currentBefore);
      const result = list.remove(target, mode);
      expect({ ...result, removed: result.removed.map((d) => d.name) }).toEqual({
        removed,
        reparented,
        currentBefore,
        currentAfter,
      });
      expect([shape(list), list.current]).toEqual([after, currentAfter]);
      expectConsistent(list);
    },
  );

  it('defaults to mode self', () => {
    const list = build(FIXTURE);
    expect(list.remove('a').reparented).toEqual(['a2', 'a1']);
  });

  it('rewrites re-parented children as new objects and leaves the old ones alone', () => {
    const list = build(FIXTURE);
    const oldA1 = list.require('a1');
    const oldA11 = list.require('a11');
    list.remove('a');
    expect(oldA1).toEqual({ name: 'a1', parent: 'a' });
    expect(list.get('a1')).toEqual({ name: 'a1', parent: 'r1' });
    expect(list.get('a11')).toBe(oldA11);
    list.remove('r1');
    expect(list.get('a1')).toEqual({ name: 'a1' });
    expect(Object.hasOwn(list.require('a1'), 'parent')).toBe(false);
  });

  it('returns the removed definitions themselves', () => {
    const list = build(FIXTURE);
    const b = list.require('b');
    expect(list.remove('b').removed[0]).toBe(b);
  });

  it('moves current from a removed leaf to its parent, and a root leaf to none', () => {
    const list = build(FIXTURE);
    list.setCurrent('a11');
    expect(list.remove('a11').currentAfter).toBe('a1');
    list.setCurrent('r2');
    expect(list.remove('r2').currentAfter).toBeUndefined();
  });

  it('splices several re-parented children in front of existing siblings, keeping their order', () => {
    const list = build([
      ['p'],
      ['old1', 'p'],
      ['s', 'p'],
      ['old2', 'p'],
      ['k1', 's'],
      ['k2', 's'],
      ['k3', 's'],
    ]);
    expect(list.children('p')).toEqual(['old2', 's', 'old1']);
    expect(list.remove('s').reparented).toEqual(['k3', 'k2', 'k1']);
    expect(list.children('p')).toEqual(['k3', 'k2', 'k1', 'old2', 'old1']);
    expect(list.childCount('p')).toBe(5);
    expectConsistent(list);
  });

  it('lets a removed name be added again', () => {
    const list = build(FIXTURE);
    list.remove('r1', 'children');
    list.add({ name: 'a', parent: 'r2' });
    expect(shape(list)).toBe('r2(a)');
  });
});

describe('MomentList: list', () => {
  const fixture = (): MomentList<Def> => build(FIXTURE);
  const cases: [string | null, MomentListFlags, string[]][] = [
    [null, {}, ['r1', 'a', 'a1', 'a11', 'a2', 'b', 'r2']],
    [null, { roots: true }, ['r2', 'r1']],
    [null, { topological: true }, ['r2', 'r1', 'b', 'a', 'a2', 'a1', 'a11']],
    [null, { roots: true, topological: true }, ['r2', 'r1']],
    [null, { leaves: true }, ['a11', 'a2', 'b', 'r2']],
    [null, { noLeaves: true }, ['r1', 'a', 'a1']],
    [null, { leaves: true, noLeaves: true }, []],
    [null, { roots: true, leaves: true }, ['r2']],
    [null, { roots: true, noLeaves: true }, ['r1']],
    [null, { noMetadata: true }, []],
    [null, { noMetadata: true, roots: true, topological: true }, []],
    [null, { metadata: true }, ['r1', 'a', 'a1', 'a11', 'a2', 'b', 'r2']],
    [null, { metadata: true, noMetadata: true }, ['r1', 'a', 'a1', 'a11', 'a2', 'b', 'r2']],
    [null, { metadata: true, leaves: true, topological: true }, ['r2', 'b', 'a2', 'a11']],
    [null, { descendants: true }, ['r1', 'a', 'a1', 'a11', 'a2', 'b', 'r2']],
    ['a', {}, ['a2', 'a1']],
    ['a', { topological: true }, ['a2', 'a1']],
    ['a', { descendants: true }, ['a2', 'a1', 'a11']],
    ['r1', { descendants: true }, ['b', 'a', 'a2', 'a1', 'a11']],
    ['a', { leaves: true }, ['a2']],
    ['a', { noLeaves: true }, ['a1']],
    ['a', { descendants: true, leaves: true }, ['a2', 'a11']],
    ['a', { descendants: true, noLeaves: true }, ['a1']],
    ['a', { descendants: true, leaves: true, noLeaves: true }, []],
    ['a', { noMetadata: true, descendants: true }, []],
    ['a', { metadata: true, noMetadata: true }, ['a2', 'a1']],
    ['a', { roots: true }, ['a2', 'a1']],
    ['a11', { descendants: true }, []],
    ['r2', {}, []],
  ];
  it.each(cases)('from %s with %o', (from, flags, expected) => {
    expect(fixture().list(from, flags)).toEqual(expected);
  });

  it('never lists `from` itself', () => {
    const list = fixture();
    for (const name of list.names()) {
      for (const descendants of [false, true]) {
        expect(list.list(name, { descendants, topological: true })).not.toContain(name);
      }
    }
  });

  it('orders topologically as a pre-order walk, newest child first (a, b; revert a; c → a, c, b)', () => {
    const list = build([['a'], ['b', 'a'], ['c', 'a']]);
    expect(list.list(null, { topological: true })).toEqual(['a', 'c', 'b']);
  });

  it('applies the kind filter after the leaves group', () => {
    const list = new MomentList<Def>('checkpoint');
    list.add({ name: 'p', tag: 'keep' });
    list.add({ name: 'q', parent: 'p', tag: 'keep' });
    list.add({ name: 'r', parent: 'p' });
    const seen: string[] = [];
    const filter = (def: Def): boolean => {
      seen.push(def.name ?? '');
      return def.tag === 'keep';
    };
    expect(list.list(null, { topological: true }, filter)).toEqual(['p', 'q']);
    expect(list.list(null, { leaves: true }, filter)).toEqual(['q']);
    expect(list.list('p', {}, () => false)).toEqual([]);
    expect(seen).toEqual(['p', 'r', 'q', 'q', 'r']);
  });

  it('keeps a replaced moment at its place in the unordered listing', () => {
    const list = fixture();
    list.replace({ name: 'a1', parent: 'r2' });
    expect(list.list(null)).toEqual(['r1', 'a', 'a1', 'a11', 'a2', 'b', 'r2']);
  });

  it('agrees with a naive model for every flag combination and every `from`', () => {
    const list = fixture();
    const keys = [
      'roots',
      'descendants',
      'topological',
      'leaves',
      'noLeaves',
      'metadata',
      'noMetadata',
    ] as const;
    const model = RefModel.of(FIXTURE);
    let checked = 0;
    for (let bits = 0; bits < 1 << keys.length; bits++) {
      const flags: MomentListFlags = Object.fromEntries(keys.map((k, i) => [k, (bits & (1 << i)) !== 0]));
      for (const from of [null, ...list.names()]) {
        expect(list.list(from, flags), `${from} ${JSON.stringify(flags)}`).toEqual(model.list(from, flags));
        checked++;
      }
    }
    expect(checked).toBe(128 * 8);
  });
});

describe('MomentList: updateRelations', () => {
  it('links children loaded before their parents and keeps current when consistent', () => {
    const list = build([['a11', 'a1'], ['a2', 'a'], ['a1', 'a'], ['b', 'r1'], ['a', 'r1'], ['r1'], ['r2']]);
    list.setCurrent('a1');
    expect(list.updateRelations()).toEqual([]);
    expect([shape(list), list.current]).toEqual(['r2 r1(a(a1(a11) a2) b)', 'a1']);
    expectConsistent(list);
  });

  it('reports a missing parent, makes the moment a root, drops its parent and clears current', () => {
    const list = build([['a'], ['b', 'ghost'], ['c', 'b']]);
    list.setCurrent('a');
    expect(list.updateRelations()).toEqual(['moment b lacks parent ghost']);
    expect([shape(list, true), list.current, list.get('b')]).toEqual(['a b(c)', undefined, { name: 'b' }]);
    expectConsistent(list);
  });

  it('breaks a two-cycle at the member loaded last', () => {
    const forward = build([
      ['a', 'b'],
      ['b', 'a'],
    ]);
    expect(forward.updateRelations()).toEqual(['moment b in circular chain']);
    expect(shape(forward)).toBe('b(a)');
    const backward = build([
      ['b', 'a'],
      ['a', 'b'],
    ]);
    expect(backward.updateRelations()).toEqual(['moment a in circular chain']);
    expect(shape(backward)).toBe('a(b)');
    expectConsistent(forward);
    expectConsistent(backward);
  });

  it('breaks a self-parent', () => {
    const list = build([
      ['a', 'a'],
      ['b', 'a'],
    ]);
    expect(list.updateRelations()).toEqual(['moment a in circular chain']);
    expect(shape(list)).toBe('a(b)');
  });

  it('reports problems in load order and is idempotent once repaired', () => {
    const list = build([
      ['y', 'x'],
      ['t', 'x'],
      ['m', 'nowhere'],
      ['z', 'y'],
      ['x', 'z'],
      ['u', 't'],
    ]);
    list.setCurrent('u');
    expect(list.updateRelations()).toEqual(['moment m lacks parent nowhere', 'moment x in circular chain']);
    expect([shape(list, true), list.current]).toEqual(['m x(t(u) y(z))', undefined]);
    list.setCurrent('u');
    expect(list.updateRelations()).toEqual([]);
    expect([shape(list, true), list.current]).toEqual(['m x(t(u) y(z))', 'u']);
  });

  it('matches a literal simulation of libvirt on random parent graphs', () => {
    const next = rng(7);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + next(12);
      const names = Array.from({ length: n }, (_, i) => `m${i}`);
      const entries: Entry[] = names.map((name) => {
        const pick = next(n + 3);
        return pick < n ? [name, names[pick]] : pick === n ? [name, 'ghost'] : [name];
      });
      const list = build(entries);
      const expected = simulateLibvirtRelink(entries);
      expect(list.updateRelations()).toEqual(expected.errors);
      for (const [name] of entries) {
        expect([name, list.parentOf(name), list.children(name)]).toEqual([
          name,
          expected.parent.get(name),
          expected.children(name),
        ]);
      }
      expectConsistent(list);
    }
  });
});

describe('MomentList: virsh-snapshot session 1 replayed', () => {
  it('builds, redefines, deletes and lists exactly as the scenario expects', () => {
    const list = new MomentList<SnapshotDef>('snapshot');
    const running = (name: string, parent?: string): SnapshotDef & { name: string } => ({
      name,
      ...(parent === undefined ? {} : { parent }),
      state: 'running',
      memory: { snapshot: 'internal' },
      disks: [{ name: 'vda', snapshot: 'internal' }],
    });
    const create = (name: string): void => {
      list.add(running(name, list.current));
      list.setCurrent(name);
    };
    const sortedTree = (name: string): string => {
      const kids = list.children(name).sort();
      return kids.length === 0 ? name : `${name}(${kids.map(sortedTree).join(' ')})`;
    };
    const forest = (): string => list.list(null, { roots: true }).sort().map(sortedTree).join(' ');
    const sorted = (names: string[]): string[] => [...names].sort();

    create('s1');
    expect([forest(), list.current]).toEqual(['s1', 's1']);
    expectVirtError(() => create('s1'), 'OPERATION_FAILED', 'domain moment s1 already exists');
    expect([list.size, list.current]).toEqual([1, 's1']);
    create('s3');
    create('s2');
    expect([list.parentOf('s3'), list.parentOf('s2'), list.current]).toEqual(['s1', 's3', 's2']);
    list.setCurrent('s3');
    create('s6');
    create('s5');
    expect([list.parentOf('s6'), list.parentOf('s5'), list.current]).toEqual(['s3', 's6', 's5']);
    list.setCurrent('s6');
    create('s4');
    expect([list.parentOf('s4'), list.current]).toEqual(['s6', 's4']);
    list.setCurrent('s1');
    create('s7');
    create('s8');
    expect([list.parentOf('s7'), list.parentOf('s8'), list.current]).toEqual(['s1', 's7', 's8']);
    expect(forest()).toBe('s1(s3(s2 s6(s4 s5)) s7(s8))');

    // Step 16: snapshot-current s1 = redefine the existing s1 with CURRENT.
    const s1 = list.require('s1');
    list.checkRedefine('s1', s1.parent);
    list.replace({ ...s1, name: 's1' });
    list.setCurrent('s1');
    expect([list.current, forest()]).toEqual(['s1', 's1(s3(s2 s6(s4 s5)) s7(s8))']);

    // Step 18: delete --current.
    const deleted = list.remove('s1');
    expect([deleted.removed.map((d) => d.name), deleted.reparented, deleted.currentAfter]).toEqual([
      ['s1'],
      ['s7', 's3'],
      undefined,
    ]);
    expect([list.current, list.get('s3')?.parent, list.get('s7')?.parent]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(sorted(list.list(null, { roots: true }))).toEqual(['s3', 's7']);
    expect(sorted(list.list(null, { leaves: true }))).toEqual(['s2', 's4', 's5', 's8']);
    expect(sorted(list.list(null, { noLeaves: true })).map((n) => [n, list.parentOf(n)])).toEqual([
      ['s3', undefined],
      ['s6', 's3'],
      ['s7', undefined],
    ]);
    expect(sorted(list.list('s3'))).toEqual(['s2', 's6']);
    expect(sorted(list.list('s3', { descendants: true }))).toEqual(['s2', 's4', 's5', 's6']);

    list.setCurrent('s4');
    const childrenOnly = list.remove('s6', 'childrenOnly');
    expect([sorted(childrenOnly.removed.map((d) => d.name ?? '')), list.current, list.has('s6')]).toEqual([
      ['s4', 's5'],
      's6',
      true,
    ]);
    const children = list.remove('s7', 'children');
    expect([children.removed.map((d) => d.name), list.current]).toEqual([['s8', 's7'], 's6']);
    expect(list.remove('s6').currentAfter).toBe('s3');
    expect(list.current).toBe('s3');
    expect(sorted(list.list(null))).toEqual(['s2', 's3']);
    expect(list.list(null, { topological: true })).toEqual(['s3', 's2']);
    const s2Saved = list.require('s2');
    const s3Saved = list.require('s3');
    expect([s2Saved.parent, s3Saved.parent]).toEqual(['s3', undefined]);

    // Session 2: redefine from the saved definitions, parents first.
    const fresh = new MomentList<SnapshotDef>('snapshot');
    expectVirtError(
      () => fresh.checkRedefine('s2', s2Saved.parent),
      'INVALID_ARG',
      'parent s3 for moment s2 not found',
    );
    fresh.checkRedefine('s3', s3Saved.parent);
    fresh.add({ ...s3Saved, name: 's3' });
    fresh.checkRedefine('s2', s2Saved.parent);
    fresh.add({ ...s2Saved, name: 's2' });
    fresh.setCurrent('s2');
    expect([
      fresh.current,
      fresh.parentOf('s2'),
      fresh.childCount('s2'),
      fresh.list('s2', { descendants: true }).length,
    ]).toEqual(['s2', 's3', 0, 0]);
    expectConsistent(fresh);
  });
});

describe('MomentList: randomised against a naive model', () => {
  it('agrees after every operation of long random sessions', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const next = rng(seed);
      const list = new MomentList<Def>('snapshot');
      const model = new RefModel();
      let made = 0;
      for (let step = 0; step < 400; step++) {
        const names = list.names();
        const pick = (): string | undefined => (names.length === 0 ? undefined : names[next(names.length)]);
        const op = next(10);
        if (op < 4 || names.length === 0) {
          const name = `n${made++}`;
          const parent = next(3) === 0 ? pick() : list.current;
          list.add(parent === undefined ? { name } : { name, parent });
          model.add(name, parent);
          if (next(2) === 0) {
            list.setCurrent(name);
            model.current = name;
          }
        } else if (op < 5) {
          const name = next(4) === 0 ? undefined : pick();
          list.setCurrent(name);
          model.current = name;
        } else if (op < 7) {
          const name = pick() ?? '';
          const mode = (['self', 'children', 'childrenOnly'] as const)[next(3)] ?? 'self';
          const got = list.remove(name, mode);
          const want = model.remove(name, mode);
          expect({ removed: got.removed.map((d) => d.name), reparented: got.reparented }).toEqual(want);
        } else if (op < 8) {
          const name = pick() ?? '';
          const parent = next(4) === 0 ? undefined : pick();
          const cycle = parent !== undefined && (parent === name || model.isAncestor(parent, name));
          if (cycle) {
            expect(() => list.checkRedefine(name, parent)).toThrow(VirtError);
          } else {
            list.checkRedefine(name, parent);
            list.replace(parent === undefined ? { name } : { name, parent });
            model.replace(name, parent);
          }
        } else {
          const flags: MomentListFlags = {
            roots: next(2) === 0,
            descendants: next(2) === 0,
            topological: next(2) === 0,
            leaves: next(3) === 0,
            noLeaves: next(3) === 0,
          };
          const from = next(3) === 0 ? null : (pick() ?? null);
          expect(list.list(from, flags)).toEqual(model.list(from, flags));
        }
        model.expectSame(list);
      }
      expectConsistent(list);
    }
  });
});

describe('MomentList: scale (100 000 moments, no recursion, nothing quadratic)', () => {
  const N = 100_000;
  const name = (i: number): string => `m${i}`;
  const range = (from: number, to: number): string[] =>
    Array.from({ length: to - from }, (_, i) => name(from + i));

  function chain(): MomentList<Def> {
    const list = new MomentList<Def>('snapshot');
    for (let i = 0; i < N; i++) {
      const parent = list.current;
      list.add(parent === undefined ? { name: name(i) } : { name: name(i), parent });
      list.setCurrent(name(i));
    }
    return list;
  }

  function bushy(): MomentList<Def> {
    const list = build([[name(0)]]);
    for (let i = 1; i < N; i++) list.add({ name: name(i), parent: name(0) });
    return list;
  }

  /** A spine of 1 000 moments, each with 99 leaf children. */
  function comb(): MomentList<Def> {
    const list = new MomentList<Def>('checkpoint');
    for (let s = 0; s < 1000; s++) {
      const spine = `s${s}`;
      list.add(s === 0 ? { name: spine } : { name: spine, parent: `s${s - 1}` });
      for (let l = 0; l < 99; l++) list.add({ name: `l${s}.${l}`, parent: spine });
    }
    return list;
  }

  it('handles a deep chain: listings, checks and subtree removal', () => {
    const list = chain();
    const all = range(0, N);
    expect([list.size, list.current, list.findLeaf()]).toEqual([N, name(N - 1), name(N - 1)]);
    expect(list.list(null)).toEqual(all);
    expect(list.list(null, { topological: true })).toEqual(all);
    expect(list.list(null, { roots: true })).toEqual([name(0)]);
    expect(list.list(null, { leaves: true })).toEqual([name(N - 1)]);
    expect(list.list(null, { noLeaves: true }).length).toBe(N - 1);
    expect(list.list(name(0), { descendants: true })).toEqual(all.slice(1));
    expect(list.isAncestor(name(N - 1), name(0))).toBe(true);
    expect(() => list.checkRedefine(name(0), name(N - 1))).toThrow(
      `parent ${name(1)} would create cycle to ${name(0)}`,
    );
    expectConsistent(list);
    const removal = list.remove(name(0), 'children');
    expect(removal.removed.map((d) => d.name)).toEqual([...all.slice(1), name(0)]);
    expect([list.size, list.current, removal.currentAfter]).toEqual([0, undefined, undefined]);
  });

  it('deletes a deep chain one by one from the leaf, current following the parent', () => {
    const list = chain();
    let wrong = 0;
    for (let i = N - 1; i >= 0; i--) {
      const r = list.remove(name(i));
      if (r.currentAfter !== (i === 0 ? undefined : name(i - 1)) || r.reparented.length !== 0) wrong++;
    }
    expect([wrong, list.size]).toEqual([0, 0]);
  });

  it('deletes a deep chain one by one from the root, re-parenting one child each time', () => {
    const list = chain();
    let wrong = 0;
    for (let i = 0; i < N - 1; i++) {
      const r = list.remove(name(i));
      if (r.reparented[0] !== name(i + 1) || list.get(name(i + 1))?.parent !== undefined) wrong++;
    }
    expect([wrong, list.names(), list.current]).toEqual([0, [name(N - 1)], name(N - 1)]);
  });

  it('handles a root with 99 999 children: listings and subtree removal', () => {
    const list = bushy();
    const kids = range(1, N).reverse();
    expect(list.list(null, { roots: true })).toEqual([name(0)]);
    expect(list.list(null, { topological: true })).toEqual([name(0), ...kids]);
    expect(list.list(name(0))).toEqual(kids);
    expect(list.list(name(0), { descendants: true })).toEqual(kids);
    expect(list.list(null, { leaves: true }).length).toBe(N - 1);
    expect([list.childCount(name(0)), list.findLeaf()]).toEqual([N - 1, undefined]);
    expectConsistent(list);
    list.setCurrent(name(500));
    const removal = list.remove(name(0), 'children');
    expect([removal.removed.length, list.size, list.current]).toEqual([N, 0, undefined]);
  });

  it('deletes 99 999 siblings one by one in creation order without scanning siblings', () => {
    const list = bushy();
    for (let i = 1; i < N; i++) list.remove(name(i));
    expect([list.names(), list.childCount(name(0))]).toEqual([[name(0)], 0]);
  });

  it('re-parents 99 999 children to the metaroot, then deletes the roots one by one', () => {
    const list = bushy();
    const removal = list.remove(name(0));
    expect(removal.reparented).toEqual(range(1, N).reverse());
    expect(list.list(null, { roots: true, leaves: true }).length).toBe(N - 1);
    expectConsistent(list);
    for (let i = N - 1; i >= 1; i--) list.remove(name(i));
    expect(list.size).toBe(0);
  });

  it('handles a wide-and-deep comb: listings, subtree removal and shuffled deletion', () => {
    const list = comb();
    expect(list.size).toBe(N);
    expect(list.list(null, { leaves: true }).length).toBe(99_000);
    expect(list.list(null, { noLeaves: true }).length).toBe(1000);
    expect(list.list('s0', { descendants: true }).length).toBe(N - 1);
    expect(list.list('s500', { descendants: true, topological: true }).slice(0, 3)).toEqual([
      's501',
      's502',
      's503',
    ]);
    expectConsistent(list);
    const removal = list.remove('s500', 'children');
    expect([removal.removed.length, list.size, list.findLeaf()]).toEqual([500 * 100, 50_000, undefined]);
    const next = rng(42);
    const order = list.names();
    for (let i = order.length - 1; i > 0; i--) {
      const j = next(i + 1);
      [order[i], order[j]] = [order[j] ?? '', order[i] ?? ''];
    }
    let wrong = 0;
    for (const victim of order) {
      const kids = list.childCount(victim);
      if (list.remove(victim).reparented.length !== kids) wrong++;
    }
    expect([wrong, list.size]).toEqual([0, 0]);
  });

  it('relinks 100 000 moments loaded leaf-first, and breaks a 100 000-long cycle once', () => {
    const list = new MomentList<Def>('snapshot');
    for (let i = N - 1; i >= 0; i--)
      list.add(i === 0 ? { name: name(i) } : { name: name(i), parent: name(i - 1) });
    expect(list.updateRelations()).toEqual([]);
    expect(list.list(null, { topological: true })).toEqual(range(0, N));
    expect(list.findLeaf()).toBe(name(N - 1));

    const ring = new MomentList<Def>('snapshot');
    for (let i = 0; i < N; i++) ring.add({ name: name(i), parent: name((i + 1) % N) });
    expect(ring.updateRelations()).toEqual([`moment ${name(N - 1)} in circular chain`]);
    expect(ring.list(null, { roots: true })).toEqual([name(N - 1)]);
    expect(ring.findLeaf()).toBe(name(0));
  });
});

/** libvirt's UpdateRelations done literally: walk already-established links upward. */
function simulateLibvirtRelink(entries: readonly Entry[]): {
  errors: string[];
  parent: Map<string, string | undefined>;
  children: (name: string) => string[];
} {
  const exists = new Set(entries.map(([n]) => n));
  const linked = new Map<string, string | null>();
  const errors: string[] = [];
  for (const [name, parent] of entries) {
    if (parent === undefined) {
      linked.set(name, null);
    } else if (!exists.has(parent)) {
      errors.push(`moment ${name} lacks parent ${parent}`);
      linked.set(name, null);
    } else {
      let tmp: string | null | undefined = parent;
      while (typeof tmp === 'string' && tmp !== name) tmp = linked.get(tmp);
      if (tmp === name) errors.push(`moment ${name} in circular chain`);
      linked.set(name, tmp === name ? null : parent);
    }
  }
  const parent = new Map([...linked].map(([n, p]) => [n, p ?? undefined]));
  const children = (name: string): string[] =>
    entries
      .map(([n]) => n)
      .filter((n) => linked.get(n) === name)
      .reverse();
  return { errors, parent, children };
}

/** A deliberately naive model: parent names plus link timestamps, everything by scanning. */
class RefModel {
  readonly nodes = new Map<string, { parent: string | undefined; link: number }>();
  current: string | undefined;
  #time = 0;

  static of(entries: readonly Entry[]): RefModel {
    const model = new RefModel();
    for (const [name, parent] of entries) model.add(name, parent);
    return model;
  }

  add(name: string, parent: string | undefined): void {
    this.nodes.set(name, { parent, link: ++this.#time });
  }

  replace(name: string, parent: string | undefined): void {
    this.nodes.set(name, { parent, link: ++this.#time });
  }

  children(parent: string | undefined): string[] {
    return [...this.nodes]
      .filter(([, n]) => n.parent === parent)
      .sort(([, x], [, y]) => y.link - x.link)
      .map(([name]) => name);
  }

  preorder(top: string | undefined): string[] {
    return this.children(top).flatMap((c) => [c, ...this.preorder(c)]);
  }

  isAncestor(name: string, ancestor: string): boolean {
    for (let p = this.nodes.get(name)?.parent; p !== undefined; p = this.nodes.get(p)?.parent) {
      if (p === ancestor) return true;
    }
    return false;
  }

  remove(name: string, mode: MomentRemoveMode): { removed: string[]; reparented: string[] } {
    const parent = this.nodes.get(name)?.parent;
    if (mode !== 'self') {
      const doomed = this.preorder(name);
      if (this.current !== undefined && doomed.includes(this.current)) this.current = name;
      for (const d of doomed) this.nodes.delete(d);
      if (mode === 'childrenOnly') return { removed: doomed, reparented: [] };
      this.#drop(name, parent);
      return { removed: [...doomed, name], reparented: [] };
    }
    const kids = this.children(name);
    kids.forEach((kid, i) => this.nodes.set(kid, { parent, link: this.#time + kids.length - i }));
    this.#time += kids.length;
    this.#drop(name, parent);
    return { removed: [name], reparented: kids };
  }

  list(from: string | null, flags: MomentListFlags): string[] {
    if (flags.noMetadata === true && flags.metadata !== true) return [];
    const top = from ?? undefined;
    const deep = from === null ? flags.roots !== true : flags.descendants === true;
    let names: string[];
    if (!deep) names = this.children(top);
    else if (from !== null || flags.topological === true) names = this.preorder(top);
    else names = [...this.nodes.keys()];
    return names.filter((n) => {
      const kids = this.children(n).length;
      return !(flags.leaves === true && kids > 0) && !(flags.noLeaves === true && kids === 0);
    });
  }

  expectSame(list: MomentList<Def>): void {
    const kids = new Map<string | undefined, string[]>();
    for (const name of [...this.nodes.keys()].reverse()) kids.set(name, []);
    const byLink = [...this.nodes].sort(([, x], [, y]) => y.link - x.link);
    for (const [name, node] of byLink) kids.set(node.parent, [...(kids.get(node.parent) ?? []), name]);
    const got = [...this.nodes.keys()].map((n) => [
      n,
      list.parentOf(n),
      list.get(n)?.parent,
      list.children(n),
    ]);
    const want = [...this.nodes].map(([n, node]) => [n, node.parent, node.parent, kids.get(n) ?? []]);
    expect({
      names: list.names(),
      current: list.current,
      roots: list.list(null, { roots: true }),
      got,
    }).toEqual({
      names: [...this.nodes.keys()],
      current: this.current,
      roots: kids.get(undefined) ?? [],
      got: want,
    });
  }

  #drop(name: string, parent: string | undefined): void {
    this.nodes.delete(name);
    if (this.current === name) this.current = parent;
  }
}
