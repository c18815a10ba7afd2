import type { Domain } from 'virtkit';
import { describe, expect, it, vi } from 'vitest';
import { codeOf, MALFORMED, domainXml, openWorld, outcome, snapXml, sortedNames } from './test-helpers.js';

const A_UUID = '11111111-2222-3333-4444-555555555555';

async function create(domain: Domain, ...names: string[]): Promise<void> {
  for (const name of names) await domain.createSnapshot(snapXml(name));
}

async function revert(domain: Domain, name: string): Promise<void> {
  await (await domain.lookupSnapshotByName(name)).revert();
}

async function current(domain: Domain): Promise<string | undefined> {
  return (await domain.hasCurrentSnapshot()) ? (await domain.currentSnapshot()).name : undefined;
}

/** The tree of semantics §b.4: a → {b, c}, built by revert-then-create. */
async function branchingTree(domain: Domain): Promise<void> {
  await create(domain, 'a', 'b');
  await revert(domain, 'a');
  await create(domain, 'c');
}

describe('snapshot creation', () => {
  it('takes a full internal snapshot named after the clock when no XML is given', async () => {
    await using w = await openWorld();
    const s = await w.domain.createSnapshot();
    expect(s.name).toBe('1700000000');
    const xml = await s.getXml();
    expect(xml).toMatch(
      /^<domainsnapshot>\n {2}<name>1700000000<\/name>\n {2}<state>running<\/state>\n {2}<creationTime>1700000000<\/creationTime>\n {2}<memory snapshot='internal'\/>\n {2}<disks>\n {4}<disk name='vda' snapshot='internal'\/>\n {2}<\/disks>\n {2}<domain type='test'>\n/,
    );
    expect(xml.endsWith('  </domain>\n</domainsnapshot>\n')).toBe(true);
    expect(w.events).toEqual([]);
  });

  it('links a new snapshot under the current one and makes it current', async () => {
    await using w = await openWorld();
    await create(w.domain, 's1', 's2');
    const s2 = await w.domain.lookupSnapshotByName('s2');
    expect((await s2.getParent()).name).toBe('s1');
    expect(await current(w.domain)).toBe('s2');
    expect(await s2.getXml()).toContain('<parent>\n    <name>s1</name>\n  </parent>');
  });

  it('refuses a duplicate name and changes nothing', async () => {
    await using w = await openWorld();
    await create(w.domain, 's1', 's2');
    await revert(w.domain, 's1');
    expect(await outcome(w.domain.createSnapshot(snapXml('s2')))).toBe(
      'OPERATION_FAILED: domain moment s2 already exists',
    );
    expect(await current(w.domain)).toBe('s1');
    expect(sortedNames(await w.domain.listSnapshots())).toEqual(['s1', 's2']);
  });

  it('records the domain state: paused, and shutoff without memory', async () => {
    await using w = await openWorld();
    await w.domain.suspend();
    const p = await w.domain.createSnapshot(snapXml('p'));
    await w.domain.destroy();
    const s = await w.domain.createSnapshot(snapXml('s'));
    expect(await p.getXml()).toContain('<state>paused</state>');
    expect(await p.getXml()).toContain("<memory snapshot='internal'/>");
    expect(await s.getXml()).toContain('<state>shutoff</state>');
    expect(await s.getXml()).toContain("<memory snapshot='no'/>");
  });

  it('halts an active domain with STOPPED/FROM_SNAPSHOT, refuses it for a transient one', async () => {
    await using w = await openWorld();
    await w.domain.createSnapshot(snapXml('h'), { halt: true });
    expect(await w.domain.getState()).toEqual({ state: 'shutoff', reason: 'FROM_SNAPSHOT' });
    await w.domain.createSnapshot(snapXml('h2'), { halt: true });
    expect(w.events).toEqual(['test STOPPED/FROM_SNAPSHOT']);
    const t = await w.conn.createDomain(domainXml('t', A_UUID));
    expect(await outcome(t.createSnapshot(snapXml('x'), { halt: true }))).toBe(
      'OPERATION_INVALID: cannot halt after transient domain snapshot',
    );
    expect(await t.listSnapshots()).toEqual([]);
  });

  it('simulates disk-only snapshots: external files, no memory', async () => {
    await using w = await openWorld();
    const live = await w.domain.createSnapshot(snapXml('live'), {
      diskOnly: true,
      atomic: true,
      quiesce: true,
    });
    expect(await live.getXml()).toContain(
      "<state>disk-snapshot</state>\n  <creationTime>1700000000</creationTime>\n  <memory snapshot='no'/>\n  <disks>\n    <disk name='vda' snapshot='external' type='file'>\n      <source file='/guest/diskimage1.live'/>\n    </disk>\n  </disks>",
    );
    await w.domain.destroy();
    const off = await w.domain.createSnapshot(snapXml('off'), { diskOnly: true, reuseExt: true });
    expect(await off.getXml()).toContain('<state>shutoff</state>');
    expect(await off.getXml()).toContain("<source file='/guest/diskimage1.off'/>");
    expect(sortedNames(await w.domain.listSnapshots({ external: true }))).toEqual(['live', 'off']);
    expect(sortedNames(await w.domain.listSnapshots({ diskOnly: true }))).toEqual(['live']);
    expect(sortedNames(await w.domain.listSnapshots({ inactive: true }))).toEqual(['off']);
  });

  it('takes external memory snapshots with external disks by default', async () => {
    await using w = await openWorld();
    const s = await w.domain.createSnapshot(
      "<domainsnapshot><name>m</name><memory snapshot='external' file='/save/m.img'/></domainsnapshot>",
      { live: true },
    );
    const xml = await s.getXml();
    expect(xml).toContain('<state>running</state>');
    expect(xml).toContain("<memory snapshot='external' file='/save/m.img'/>");
    expect(xml).toContain("<disk name='vda' snapshot='external' type='file'>");
  });

  it('simulates noMetadata: the name comes back, nothing is recorded', async () => {
    await using w = await openWorld();
    await create(w.domain, 's1');
    const ghost = await w.domain.createSnapshot(snapXml('ghost'), { noMetadata: true, halt: true });
    expect(ghost.name).toBe('ghost');
    expect(await outcome(w.domain.lookupSnapshotByName('ghost'))).toBe(
      "NO_DOMAIN_SNAPSHOT: no domain snapshot with matching name 'ghost'",
    );
    expect(await current(w.domain)).toBe('s1');
    expect(await w.domain.getState()).toEqual({ state: 'shutoff', reason: 'FROM_SNAPSHOT' });
  });

  it('refuses manual disks, bad XML and schema violations', async () => {
    await using w = await openWorld();
    expect(
      await outcome(
        w.domain.createSnapshot(
          "<domainsnapshot><disks><disk name='vda' snapshot='manual'/></disks></domainsnapshot>",
        ),
      ),
    ).toBe("OPERATION_UNSUPPORTED: 'manual' snapshot mode is not supported by the test driver");
    expect(await codeOf(w.domain.createSnapshot('<domainsnapshot>'))).toMatch(MALFORMED);
    expect(await codeOf(w.domain.createSnapshot('<foo/>'))).toBe('XML_ERROR');
    expect(
      await codeOf(w.domain.createSnapshot('<domainsnapshot><bogus/></domainsnapshot>', { validate: true })),
    ).toBe('XML_INVALID_SCHEMA');
    expect(
      await codeOf(
        w.domain.createSnapshot("<domainsnapshot><disks><disk name='vdz'/></disks></domainsnapshot>"),
      ),
    ).toBe('CONFIG_UNSUPPORTED');
    expect(await w.domain.listSnapshots()).toEqual([]);
  });

  it('does not snapshot read-only and empty disks unless asked, like libvirt', async () => {
    await using w = await openWorld();
    const d = await w.conn.createDomain(
      domainXml('ro', A_UUID).replace(
        '</devices>',
        `  <disk type='file' device='disk'><source file='/img/b.qcow2'/><target dev='vdb'/><readonly/></disk>
    <disk type='file' device='cdrom'><source file='/iso/x.iso'/><target dev='hdc'/></disk>
    <disk type='file' device='cdrom'><target dev='hdd'/></disk>
  </devices>`,
      ),
    );
    const disks = async (xml: string) =>
      /<disks>[\s\S]*<\/disks>/.exec(await (await d.createSnapshot(xml)).getXml())?.[0];
    expect(await disks(snapXml('s'))).toBe(
      "<disks>\n    <disk name='vda' snapshot='internal'/>\n    <disk name='vdb' snapshot='no'/>\n    <disk name='hdc' snapshot='no'/>\n    <disk name='hdd' snapshot='no'/>\n  </disks>",
    );
    expect(
      await disks(
        "<domainsnapshot><name>s2</name><disks><disk name='vdb' snapshot='internal'/></disks></domainsnapshot>",
      ),
    ).toContain("<disk name='vdb' snapshot='internal'/>");
  });

  it('reports one finished step to onProgress', async () => {
    await using w = await openWorld();
    const onProgress = vi.fn();
    await w.domain.createSnapshot(snapXml('s'), { onProgress });
    expect(onProgress).toHaveBeenCalledWith({
      phase: 'create snapshot',
      completed: 1,
      total: 1,
      unit: 'steps',
    });
  });

  it('leaves secrets of the embedded domain out unless secure', async () => {
    await using w = await openWorld();
    const d = await w.conn.createDomain(
      domainXml('g', A_UUID).replace('</devices>', "  <graphics type='vnc' passwd='hunter2'/>\n  </devices>"),
    );
    const s = await d.createSnapshot(snapXml('s'));
    expect(await s.getXml()).not.toContain('hunter2');
    expect(await s.getXml({ secure: true })).toContain("passwd='hunter2'");
  });

  it('lives next to checkpoints', async () => {
    await using w = await openWorld();
    await w.domain.createCheckpoint('<domaincheckpoint><name>c1</name></domaincheckpoint>');
    await create(w.domain, 's1');
    await w.domain.createCheckpoint('<domaincheckpoint><name>c2</name></domaincheckpoint>');
    expect(sortedNames(await w.domain.listSnapshots())).toEqual(['s1']);
    expect(sortedNames(await w.domain.listCheckpoints())).toEqual(['c1', 'c2']);
  });
});

describe('snapshot queries', () => {
  it('answers parent, current, isCurrent, hasMetadata and lookup errors like libvirt', async () => {
    await using w = await openWorld();
    expect(await w.domain.hasCurrentSnapshot()).toBe(false);
    expect(await outcome(w.domain.currentSnapshot())).toBe(
      'NO_DOMAIN_SNAPSHOT: the domain does not have a current snapshot',
    );
    await create(w.domain, 's1', 's2');
    const s1 = await w.domain.lookupSnapshotByName('s1');
    expect(await outcome(s1.getParent())).toBe("NO_DOMAIN_SNAPSHOT: snapshot 's1' does not have a parent");
    expect(await s1.isCurrent()).toBe(false);
    expect(await (await w.domain.lookupSnapshotByName('s2')).isCurrent()).toBe(true);
    expect(await s1.hasMetadata()).toBe(true);
    await s1.delete({ children: true });
    for (const call of [s1.getXml(), s1.isCurrent(), s1.hasMetadata(), s1.getParent(), s1.listChildren()]) {
      expect(await codeOf(call)).toBe('NO_DOMAIN_SNAPSHOT');
    }
  });

  it('lists with every filter group as libvirt does', async () => {
    await using w = await openWorld();
    await branchingTree(w.domain);
    await w.domain.destroy();
    await w.domain.createSnapshot(snapXml('off'));
    const list = async (o: Parameters<Domain['listSnapshots']>[0]) =>
      (await w.domain.listSnapshots(o)).map((s) => s.name);
    expect(await list({ topological: true })).toEqual(['a', 'c', 'off', 'b']);
    expect((await list({})).sort()).toEqual(['a', 'b', 'c', 'off']);
    expect(await list({ roots: true })).toEqual(['a']);
    expect((await list({ leaves: true })).sort()).toEqual(['b', 'off']);
    expect((await list({ noLeaves: true })).sort()).toEqual(['a', 'c']);
    expect(await list({ leaves: true, noLeaves: true })).toEqual([]);
    expect(await list({ noMetadata: true })).toEqual([]);
    expect((await list({ metadata: true, noMetadata: true })).sort()).toEqual(['a', 'b', 'c', 'off']);
    expect(await list({ inactive: true })).toEqual(['off']);
    expect((await list({ active: true })).sort()).toEqual(['a', 'b', 'c']);
    expect((await list({ active: true, inactive: true, diskOnly: true })).length).toBe(4);
    expect((await list({ internal: true })).length).toBe(4);
    expect(await list({ external: true })).toEqual([]);
    expect(await list({ roots: true, leaves: true })).toEqual([]);
    const a = await w.domain.lookupSnapshotByName('a');
    expect((await a.listChildren()).map((s) => s.name)).toEqual(['c', 'b']);
    expect((await a.listChildren({ descendants: true, topological: true })).map((s) => s.name)).toEqual([
      'c',
      'off',
      'b',
    ]);
    expect((await a.listChildren({ descendants: true, leaves: true })).map((s) => s.name).sort()).toEqual([
      'b',
      'off',
    ]);
  });
});

describe('snapshot redefinition', () => {
  it('must go parents first and refuses self-parents and cycles', async () => {
    await using src = await openWorld();
    await create(src.domain, 's1', 's2', 's3');
    const xml = async (n: string) => (await src.domain.lookupSnapshotByName(n)).getXml({ secure: true });
    const [x1, x2, x3] = [await xml('s1'), await xml('s2'), await xml('s3')];
    await using w = await openWorld();
    expect(await outcome(w.domain.createSnapshot(x2, { redefine: true, validate: true }))).toBe(
      'INVALID_ARG: parent s1 for moment s2 not found',
    );
    await w.domain.createSnapshot(x1, { redefine: true, validate: true });
    await w.domain.createSnapshot(x2, { redefine: true });
    await w.domain.createSnapshot(x3, { redefine: true, current: true });
    expect(await current(w.domain)).toBe('s3');
    expect(
      await outcome(
        w.domain.createSnapshot(
          x1.replace('<name>s1</name>', '<name>s1</name><parent><name>s1</name></parent>'),
          { redefine: true },
        ),
      ),
    ).toBe('INVALID_ARG: cannot set moment s1 as its own parent');
    const cyclic = x1.replace(
      '<creationTime>',
      '<parent>\n    <name>s3</name>\n  </parent>\n  <creationTime>',
    );
    expect(await outcome(w.domain.createSnapshot(cyclic, { redefine: true }))).toBe(
      'INVALID_ARG: parent s2 would create cycle to s1',
    );
    expect(await w.domain.listSnapshots({ topological: true }).then((l) => l.map((s) => s.name))).toEqual([
      's1',
      's2',
      's3',
    ]);
    expect(w.events).toEqual([]);
  });

  it('replaces in place: children stay, domain is kept, current only with current', async () => {
    await using w = await openWorld();
    await create(w.domain, 's1', 's2');
    await revert(w.domain, 's1');
    await create(w.domain, 's3');
    const s1 = await w.domain.lookupSnapshotByName('s1');
    const bare = (await s1.getXml()).replace(/\n {2}<domain type='test'>[\s\S]*<\/domain>/, '');
    await w.domain.createSnapshot(
      bare.replace('<name>s1</name>', '<name>s1</name>\n  <description>v2</description>'),
      {
        redefine: true,
      },
    );
    expect(await current(w.domain)).toBe('s3');
    expect(await s1.getXml()).toContain('<description>v2</description>');
    expect(await s1.getXml()).toContain("<domain type='test'>");
    expect(sortedNames(await s1.listChildren())).toEqual(['s2', 's3']);
    await w.domain.createSnapshot(await s1.getXml(), { redefine: true, current: true });
    expect(await current(w.domain)).toBe('s1');
  });

  it('applies libvirt validation of redefined snapshots', async () => {
    await using w = await openWorld();
    await create(w.domain, 's1');
    const s1 = await w.domain.lookupSnapshotByName('s1');
    const xml = await s1.getXml();
    const redefine = (x: string, o = {}) => outcome(w.domain.createSnapshot(x, { redefine: true, ...o }));
    const offline = (state: string) =>
      xml
        .replace('<state>running</state>', `<state>${state}</state>`)
        .replace("snapshot='internal'/>", "snapshot='no'/>");
    expect(await redefine(offline('shutoff'))).toBe(
      'INVALID_ARG: cannot change between online and offline snapshot state in snapshot s1',
    );
    expect(await redefine(xml.replace('<state>running</state>', '<state>paused</state>'))).toBe('ok');
    expect(await redefine(xml.replace('<state>running</state>', '<state>crashed</state>'))).toBe(
      'INVALID_ARG: cannot change between online and offline snapshot state in snapshot s1',
    );
    expect(await redefine(xml, { diskOnly: true })).toBe(
      'INVALID_ARG: disk-only flag for snapshot s1 requires disk-snapshot state',
    );
    expect(await redefine(xml.replace('6695eb01-f6a4-8304-79aa-97f2502e193f', A_UUID))).toBe(
      'INVALID_ARG: definition for snapshot s1 must use uuid 6695eb01-f6a4-8304-79aa-97f2502e193f',
    );
    const bare = xml
      .replace('<name>s1</name>', '<name>new</name>')
      .replace(/\n {2}<domain type='test'>[\s\S]*<\/domain>/, '');
    expect(await redefine(bare)).toBe('INTERNAL_ERROR: missing domain in snapshot');
    expect(await redefine('<domainsnapshot><name>x</name></domainsnapshot>')).toBe(
      'INTERNAL_ERROR: missing creationTime from existing snapshot',
    );
    expect(
      await redefine('<domainsnapshot><name>x</name><creationTime>1</creationTime></domainsnapshot>'),
    ).toBe('XML_ERROR: missing state from existing snapshot');
    expect(await codeOf(w.domain.createSnapshot(xml, { current: true }))).toBe('INVALID_ARG');
    const disk = await (await w.domain.createSnapshot(snapXml('d'), { diskOnly: true })).getXml();
    expect(await redefine(disk, { diskOnly: true })).toBe('ok');
    expect(await redefine(disk.replace('<state>disk-snapshot</state>', '<state>shutoff</state>'))).toBe(
      'INVALID_ARG: cannot change between disk only and full system in snapshot d',
    );
    expect(sortedNames(await w.domain.listSnapshots())).toEqual(['d', 's1']);
  });
});

describe('snapshot delete', () => {
  it('re-parents children and moves current to the parent', async () => {
    await using w = await openWorld();
    await create(w.domain, 's1', 's2', 's3');
    await revert(w.domain, 's2');
    await (await w.domain.lookupSnapshotByName('s2')).delete();
    expect((await (await w.domain.lookupSnapshotByName('s3')).getParent()).name).toBe('s1');
    expect(await current(w.domain)).toBe('s1');
    await (await w.domain.lookupSnapshotByName('s1')).delete({ metadataOnly: true });
    expect(await current(w.domain)).toBeUndefined();
    expect(await w.domain.listSnapshots({ roots: true }).then((l) => l.map((s) => s.name))).toEqual(['s3']);
    expect(w.events.filter((e) => !e.includes('FROM_SNAPSHOT'))).toEqual([]);
  });

  it('deletes subtrees with children and only descendants with childrenOnly', async () => {
    await using w = await openWorld();
    await branchingTree(w.domain);
    await create(w.domain, 'd');
    await (await w.domain.lookupSnapshotByName('a')).delete({ childrenOnly: true });
    expect(sortedNames(await w.domain.listSnapshots())).toEqual(['a']);
    expect(await current(w.domain)).toBe('a');
    await create(w.domain, 'e');
    await (await w.domain.lookupSnapshotByName('a')).delete({ children: true });
    expect(await w.domain.listSnapshots()).toEqual([]);
    expect(await current(w.domain)).toBeUndefined();
    expect(
      await outcome(
        (await w.domain.createSnapshot(snapXml('x'))).delete({ children: true, childrenOnly: true }),
      ),
    ).toBe("INVALID_ARG: Flags 'children' and 'childrenOnly' are mutually exclusive");
  });
});
