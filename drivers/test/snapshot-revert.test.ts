import type { Domain } from 'virtkit';
import { describe, expect, it } from 'vitest';
import { domainXml, openWorld, outcome, snapXml, sortedNames } from './test-helpers.js';

const A_UUID = '11111111-2222-3333-4444-555555555555';

async function current(domain: Domain): Promise<string | undefined> {
  return (await domain.hasCurrentSnapshot()) ? (await domain.currentSnapshot()).name : undefined;
}

type Flag = 'none' | 'running' | 'paused';
type State = 'running' | 'paused' | 'shutoff';

/** libvirt's transition table (test_driver.c): what follows the optional STOPPED. */
const AFTER_STOP: Record<`${State}/${Flag}`, 'none' | 'run' | 'pause'> = {
  'running/none': 'run',
  'running/running': 'run',
  'running/paused': 'pause',
  'paused/none': 'pause',
  'paused/running': 'run',
  'paused/paused': 'pause',
  'shutoff/none': 'none',
  'shutoff/running': 'run',
  'shutoff/paused': 'pause',
};

const MATRIX = (['running', 'paused', 'shutoff'] as State[]).flatMap((domainState) =>
  (['running', 'paused', 'shutoff'] as State[]).flatMap((snapState) =>
    (['none', 'running', 'paused'] as Flag[]).map((flag) => ({ domainState, snapState, flag })),
  ),
);

async function putInState(domain: Domain, state: State): Promise<void> {
  if (state === 'paused') await domain.suspend();
  if (state === 'shutoff') await domain.destroy();
}

describe('snapshot revert', () => {
  it.each(MATRIX)(
    '$domainState domain to $snapState snapshot with $flag',
    async ({ domainState, snapState, flag }) => {
      await using w = await openWorld();
      await putInState(w.domain, snapState);
      await w.domain.createSnapshot(snapXml('snap'));
      if (snapState === 'paused') await w.domain.resume();
      if (snapState === 'shutoff') await w.domain.start();
      await putInState(w.domain, domainState);
      w.events.length = 0;
      const snap = await w.domain.lookupSnapshotByName('snap');
      await snap.revert(flag === 'none' ? {} : { [flag]: true });
      const after = AFTER_STOP[`${snapState}/${flag}`];
      const expected = [
        ...(domainState === 'shutoff' ? [] : ['test STOPPED/FROM_SNAPSHOT']),
        ...(after === 'none' ? [] : ['test STARTED/FROM_SNAPSHOT']),
        ...(after === 'pause' ? ['test SUSPENDED/FROM_SNAPSHOT'] : []),
      ];
      expect(w.events).toEqual(expected);
      const state = await w.domain.getState();
      if (after === 'run') expect(state).toEqual({ state: 'running', reason: 'FROM_SNAPSHOT' });
      if (after === 'pause') expect(state).toEqual({ state: 'paused', reason: 'FROM_SNAPSHOT' });
      if (after === 'none') {
        expect(state).toEqual({
          state: 'shutoff',
          reason: domainState === 'shutoff' ? 'DESTROYED' : 'FROM_SNAPSHOT',
        });
      }
      expect(await snap.isCurrent()).toBe(true);
    },
  );

  it('restores the snapshot definition and moves only current', async () => {
    await using w = await openWorld();
    await w.domain.createSnapshot(snapXml('s1'));
    await w.domain.createSnapshot(snapXml('s2'));
    const xml = (await w.domain.getXml({ inactive: true })).replace(
      "<vcpu placement='static'>2</vcpu>",
      '<vcpu>8</vcpu>',
    );
    await w.conn.defineDomain(xml);
    await (await w.domain.lookupSnapshotByName('s1')).revert();
    expect(await w.domain.getXml({ inactive: true })).toContain("<vcpu placement='static'>2</vcpu>");
    expect(await w.domain.getXml()).toMatch(/^<domain type='test' id='2'>/);
    expect(await current(w.domain)).toBe('s1');
    expect(sortedNames(await w.domain.listSnapshots())).toEqual(['s1', 's2']);
  });

  it('needs running or paused for a transient domain going to an inactive snapshot', async () => {
    await using w = await openWorld();
    const t = await w.conn.createDomain(domainXml('t', A_UUID));
    await t.createSnapshot(snapXml('disk'), { diskOnly: true });
    await t.createSnapshot(snapXml('live'));
    w.events.length = 0;
    const disk = await t.lookupSnapshotByName('disk');
    expect(await outcome(disk.revert())).toBe(
      'OPERATION_INVALID: transient domain needs to request run or pause to revert to inactive snapshot',
    );
    expect(await current(t)).toBe('live');
    expect(w.events).toEqual([]);
    await disk.revert({ running: true });
    expect(await t.getState()).toEqual({ state: 'running', reason: 'FROM_SNAPSHOT' });
    expect(await outcome(disk.revert({ resetNvram: true }))).toBe(
      'INVALID_ARG: unsupported flags (resetNvram) in function snapshot.revert',
    );
    await disk.revert({ running: true, force: true });
  });
});
