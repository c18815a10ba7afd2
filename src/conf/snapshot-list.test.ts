import { describe, expect, it } from 'vitest';
import { VirtError } from '../errors.js';
import type { SnapshotChildrenOptions, SnapshotListOptions } from '../options.js';
import { MomentList } from './moment-list.js';
import type { SnapshotDef, SnapshotState } from './snapshot-def.js';
import { SNAPSHOT_STATES } from './snapshot-def.js';
import { isExternalSnapshot, listSnapshots, snapshotFilter } from './snapshot-list.js';
import type { SnapshotListFilter, SnapshotListOptionsLike } from './snapshot-list.js';

const STATES: readonly (SnapshotState | undefined)[] = [...SNAPSHOT_STATES, undefined];

describe('isExternalSnapshot', () => {
  it.each<[string, SnapshotDef, boolean]>([
    ['no memory and no disks', {}, false],
    [
      'internal memory and disks',
      { memory: { snapshot: 'internal' }, disks: [{ name: 'vda', snapshot: 'internal' }] },
      false,
    ],
    ['memory no, disk default', { memory: { snapshot: 'no' }, disks: [{ name: 'vda' }] }, false],
    [
      'disks no and manual',
      {
        disks: [
          { name: 'vda', snapshot: 'no' },
          { name: 'vdb', snapshot: 'manual' },
        ],
      },
      false,
    ],
    ['external memory', { memory: { snapshot: 'external', file: '/m' } }, true],
    [
      'one external disk among internal ones',
      { disks: [{ name: 'vda' }, { name: 'vdb', snapshot: 'external' }] },
      true,
    ],
    [
      'internal memory with an external disk',
      { memory: { snapshot: 'internal' }, disks: [{ name: 'vda', snapshot: 'external' }] },
      true,
    ],
  ])('%s → %s', (_, def, expected) => {
    expect(isExternalSnapshot(def)).toBe(expected);
  });
});

describe('snapshotFilter', () => {
  it.each<[string, SnapshotListFilter]>([
    ['nothing', {}],
    ['all false', { inactive: false, active: false, diskOnly: false, internal: false, external: false }],
    ['the full status group', { inactive: true, active: true, diskOnly: true }],
    ['the full location group', { internal: true, external: true }],
    ['both full groups', { inactive: true, active: true, diskOnly: true, internal: true, external: true }],
  ])('filters nothing for %s', (_, filter) => {
    expect(snapshotFilter(filter)).toBeUndefined();
  });

  const statusCombos = Array.from({ length: 8 }, (_, bits) => ({
    inactive: (bits & 1) !== 0,
    active: (bits & 2) !== 0,
    diskOnly: (bits & 4) !== 0,
  }));
  it.each(statusCombos)(
    'status group %o keeps shutoff as inactive, disk-snapshot as disk-only, all else as active',
    (group) => {
      const test = snapshotFilter(group);
      const none = !group.inactive && !group.active && !group.diskOnly;
      const all = group.inactive && group.active && group.diskOnly;
      for (const state of STATES) {
        const expected =
          none ||
          all ||
          (state === 'shutoff' ? group.inactive : state === 'disk-snapshot' ? group.diskOnly : group.active);
        const def: SnapshotDef = state === undefined ? {} : { state };
        expect([state, test === undefined ? true : test(def)]).toEqual([state, expected]);
      }
    },
  );

  it('counts paused, shutdown, crashed, pmsuspended, blocked and state-less snapshots as active', () => {
    const active = snapshotFilter({ active: true });
    const inactive = snapshotFilter({ inactive: true });
    for (const state of [
      'running',
      'paused',
      'shutdown',
      'crashed',
      'pmsuspended',
      'blocked',
      undefined,
    ] as const) {
      const def: SnapshotDef = state === undefined ? {} : { state };
      expect([state, active?.(def), inactive?.(def)]).toEqual([state, true, false]);
    }
  });

  it('splits internal from external', () => {
    const external: SnapshotDef = { disks: [{ name: 'vda', snapshot: 'external' }] };
    const internal: SnapshotDef = { disks: [{ name: 'vda', snapshot: 'internal' }] };
    const onlyInternal = snapshotFilter({ internal: true });
    const onlyExternal = snapshotFilter({ external: true });
    expect([onlyInternal?.(internal), onlyInternal?.(external)]).toEqual([true, false]);
    expect([onlyExternal?.(internal), onlyExternal?.(external)]).toEqual([false, true]);
  });

  it('combines the two groups with AND', () => {
    const test = snapshotFilter({ diskOnly: true, external: true });
    const cases: [SnapshotDef, boolean][] = [
      [{ state: 'disk-snapshot', disks: [{ name: 'vda', snapshot: 'external' }] }, true],
      [{ state: 'disk-snapshot', disks: [{ name: 'vda', snapshot: 'internal' }] }, false],
      [{ state: 'running', memory: { snapshot: 'external' } }, false],
    ];
    expect(cases.map(([def]) => test?.(def))).toEqual(cases.map(([, keep]) => keep));
  });
});

describe('listSnapshots', () => {
  /**
   * run1 (running, internal)
   * ├─ off1 (shutoff, internal)
   * │  └─ disk1 (disk-snapshot, external)
   * └─ paused1 (paused, external memory)
   * ext1 (shutoff, external disk)
   */
  function tree(): MomentList<SnapshotDef> {
    const list = new MomentList<SnapshotDef>('snapshot');
    list.add({ name: 'run1', state: 'running', memory: { snapshot: 'internal' } });
    list.add({ name: 'off1', parent: 'run1', state: 'shutoff', memory: { snapshot: 'no' } });
    list.add({
      name: 'disk1',
      parent: 'off1',
      state: 'disk-snapshot',
      disks: [{ name: 'vda', snapshot: 'external' }],
    });
    list.add({
      name: 'paused1',
      parent: 'run1',
      state: 'paused',
      memory: { snapshot: 'external', file: '/m' },
    });
    list.add({ name: 'ext1', state: 'shutoff', disks: [{ name: 'vda', snapshot: 'external' }] });
    return list;
  }

  const cases: [string | null, SnapshotListOptionsLike, string[]][] = [
    [null, {}, ['run1', 'off1', 'disk1', 'paused1', 'ext1']],
    [null, { topological: true }, ['ext1', 'run1', 'paused1', 'off1', 'disk1']],
    [null, { roots: true }, ['ext1', 'run1']],
    [null, { roots: true, inactive: true }, ['ext1']],
    [null, { active: true }, ['run1', 'paused1']],
    [null, { inactive: true }, ['off1', 'ext1']],
    [null, { diskOnly: true }, ['disk1']],
    [null, { inactive: true, diskOnly: true }, ['off1', 'disk1', 'ext1']],
    [null, { inactive: true, active: true, diskOnly: true }, ['run1', 'off1', 'disk1', 'paused1', 'ext1']],
    [null, { internal: true }, ['run1', 'off1']],
    [null, { external: true }, ['disk1', 'paused1', 'ext1']],
    [
      null,
      { internal: true, external: true, topological: true },
      ['ext1', 'run1', 'paused1', 'off1', 'disk1'],
    ],
    [null, { external: true, topological: true }, ['ext1', 'paused1', 'disk1']],
    [null, { external: true, inactive: true }, ['ext1']],
    [null, { leaves: true, external: true }, ['disk1', 'paused1', 'ext1']],
    [null, { leaves: true, noLeaves: true }, []],
    [null, { leaves: true, noLeaves: true, inactive: true, active: true, diskOnly: true }, []],
    [null, { noMetadata: true }, []],
    [null, { noMetadata: true, metadata: true, active: true }, ['run1', 'paused1']],
    ['run1', {}, ['paused1', 'off1']],
    ['run1', { descendants: true }, ['paused1', 'off1', 'disk1']],
    ['run1', { descendants: true, external: true }, ['paused1', 'disk1']],
    ['run1', { descendants: true, active: true }, ['paused1']],
    ['run1', { inactive: true }, ['off1']],
    ['off1', { descendants: true, internal: true }, []],
  ];
  it.each(cases)('from %s with %o', (from, options, expected) => {
    expect(listSnapshots(tree(), from, options)).toEqual(expected);
  });

  it('lists everything by default', () => {
    expect(listSnapshots(tree(), null)).toHaveLength(5);
  });

  it('reports an unknown `from` with NO_DOMAIN_SNAPSHOT', () => {
    expect(() => listSnapshots(tree(), 'nope')).toThrow(VirtError);
    expect(() => listSnapshots(tree(), 'nope')).toThrow("no domain snapshot with matching name 'nope'");
  });

  it('accepts the public option objects of domain.listSnapshots() and snapshot.listChildren()', () => {
    const domainOptions: SnapshotListOptions = { roots: true, active: true };
    const childOptions: SnapshotChildrenOptions = { descendants: true, diskOnly: true };
    expect(listSnapshots(tree(), null, domainOptions)).toEqual(['run1']);
    expect(listSnapshots(tree(), 'run1', childOptions)).toEqual(['disk1']);
  });
});
