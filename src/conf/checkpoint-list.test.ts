import { describe, expect, it } from 'vitest';
import type { CheckpointDef } from './checkpoint-def.js';
import { redefineMakesCurrent } from './checkpoint-list.js';
import { MomentList } from './moment-list.js';

function redefine(list: MomentList<CheckpointDef>, def: CheckpointDef & { name: string }): void {
  list.checkRedefine(def.name, def.parent);
  const makeCurrent = redefineMakesCurrent(list, def.parent);
  if (list.has(def.name)) list.replace(def);
  else list.add(def);
  if (makeCurrent) list.setCurrent(def.name);
}

describe('redefineMakesCurrent', () => {
  it('is true for anything while nothing is current', () => {
    const list = new MomentList<CheckpointDef>('checkpoint');
    list.add({ name: 'c1' });
    expect([redefineMakesCurrent(list, undefined), redefineMakesCurrent(list, 'c1')]).toEqual([true, true]);
  });

  it('is true only for a child of the current checkpoint once one is current', () => {
    const list = new MomentList<CheckpointDef>('checkpoint');
    list.add({ name: 'c1' });
    list.add({ name: 'c2', parent: 'c1' });
    list.setCurrent('c2');
    expect([
      redefineMakesCurrent(list, 'c2'),
      redefineMakesCurrent(list, 'c1'),
      redefineMakesCurrent(list, undefined),
    ]).toEqual([true, false, false]);
  });

  it('follows a chain redefined in order and ignores a side branch', () => {
    const list = new MomentList<CheckpointDef>('checkpoint');
    redefine(list, { name: 'c1' });
    redefine(list, { name: 'c2', parent: 'c1' });
    redefine(list, { name: 'c3', parent: 'c2' });
    expect(list.current).toBe('c3');
    redefine(list, { name: 'side', parent: 'c1' });
    expect(list.current).toBe('c3');
    redefine(list, { name: 'c4', parent: 'c3' });
    expect([list.current, list.list(null, { topological: true })]).toEqual([
      'c4',
      ['c1', 'side', 'c2', 'c3', 'c4'],
    ]);
  });

  it('keeps the current checkpoint current when it is redefined in place', () => {
    const list = new MomentList<CheckpointDef>('checkpoint');
    redefine(list, { name: 'c1' });
    redefine(list, { name: 'c2', parent: 'c1' });
    redefine(list, { name: 'c2', parent: 'c1', description: 'again' });
    expect([list.current, list.get('c2')?.description]).toEqual(['c2', 'again']);
  });
});

describe('checkpoint loading (updateRelations + findLeaf)', () => {
  it('makes the single leaf of an unbranched chain current', () => {
    const list = new MomentList<CheckpointDef>('checkpoint');
    for (const def of [{ name: 'c3', parent: 'c2' }, { name: 'c1' }, { name: 'c2', parent: 'c1' }])
      list.add(def);
    expect(list.updateRelations()).toEqual([]);
    expect(list.findLeaf()).toBe('c3');
  });

  it('finds no leaf once the chain branches', () => {
    const list = new MomentList<CheckpointDef>('checkpoint');
    for (const def of [{ name: 'c1' }, { name: 'c2', parent: 'c1' }, { name: 'c3', parent: 'c1' }])
      list.add(def);
    expect([list.updateRelations(), list.findLeaf()]).toEqual([[], undefined]);
  });
});
