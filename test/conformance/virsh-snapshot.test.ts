// libvirt's tests/virsh-snapshot scenario (../shared/conformance/virsh-snapshot.md) replayed on
// virtkit's test driver through the public API, with the outputs virsh prints. virsh sorts
// listings by name (case-insensitive for ASCII letters); the library's order is unspecified,
// so the helpers below sort the way virsh does. Expected texts were checked against
// `virsh -c test:///default` (libvirt 9.0).
import { connect, formatSnapshotTree, isVirtError, type Domain, type DomainSnapshot } from 'virtkit';
import { describe, expect, it } from 'vitest';

const virshOrder = (a: string, b: string) => {
  const fold = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const x = fold(a);
  const y = fold(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** `snapshot-create-as test NAME`. */
async function createAs(domain: Domain, name: string): Promise<void> {
  await domain.createSnapshot(`<domainsnapshot><name>${name}</name></domainsnapshot>`);
}

/** `snapshot-revert test NAME`. */
async function revert(domain: Domain, name: string): Promise<void> {
  await (await domain.lookupSnapshotByName(name)).revert();
}

/** `snapshot-current test NAME`: virsh redefines the snapshot's own XML with CURRENT. */
async function setCurrent(domain: Domain, name: string): Promise<void> {
  const xml = await (await domain.lookupSnapshotByName(name)).getXml({ secure: true });
  await domain.createSnapshot(xml, { redefine: true, current: true });
}

/** `snapshot-current test --name`. */
async function currentName(domain: Domain): Promise<string> {
  return (await domain.currentSnapshot()).name;
}

const stateOf = async (s: DomainSnapshot) => /<state>([^<]*)<\/state>/.exec(await s.getXml())?.[1] ?? '';

/** A `snapshot-list` table without the Creation Time column: `name state [parent]`. */
async function table(snapshots: DomainSnapshot[], withParent = false): Promise<string[]> {
  const rows: string[] = [];
  for (const s of [...snapshots].sort((a, b) => virshOrder(a.name, b.name))) {
    const parent = withParent
      ? ` ${await s.getParent().then(
          (p) => p.name,
          () => '',
        )}`
      : '';
    rows.push(`${s.name} ${await stateOf(s)}${parent}`.trimEnd());
  }
  return rows;
}

/** `snapshot-list … --name` (sorted unless topological). */
function nameList(snapshots: DomainSnapshot[], topological = false): string[] {
  const list = snapshots.map((s) => s.name);
  return topological ? list : list.sort(virshOrder);
}

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isVirtError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'no error';
}

/** `snapshot-info test --current`, the fields virsh prints. */
async function snapshotInfo(domain: Domain): Promise<Record<string, string>> {
  const s = await domain.currentSnapshot();
  const xml = await s.getXml();
  const external = /<memory snapshot='external'|<disk [^>]*snapshot='external'/.test(xml);
  return {
    Name: s.name,
    Domain: domain.name,
    Current: (await s.isCurrent()) ? 'yes' : 'no',
    State: await stateOf(s),
    Location: external ? 'external' : 'internal',
    Parent: await s.getParent().then(
      (p) => p.name,
      () => '-',
    ),
    Children: String((await s.listChildren()).length),
    Descendants: String((await s.listChildren({ descendants: true })).length),
    Metadata: (await s.hasMetadata()) ? 'yes' : 'no',
  };
}

const TREE = `s1
  |
  +- s3
  |   |
  |   +- s2
  |   +- s6
  |       |
  |       +- s4
  |       +- s5
  |         ${''}
  +- s7
      |
      +- s8
        ${''}

`;

describe('virsh-snapshot scenario', () => {
  it('session 1 and session 2 give virsh outputs', async () => {
    const errors: string[] = [];
    const saved = { s2: '', s3: '' };

    // Session 1: one virsh process on a fresh test:///default.
    {
      await using conn = await connect('test:///default');
      const test = await conn.lookupDomainByName('test');
      await createAs(test, 's1'); // 1
      errors.push(await failure(createAs(test, 's1'))); // 2
      expect(nameList(await test.listSnapshots())).toEqual(['s1']);
      expect(await currentName(test)).toBe('s1');
      await createAs(test, 's3'); // 3
      await createAs(test, 's2'); // 4
      await revert(test, 's3'); // 5
      expect(await currentName(test)).toBe('s3');
      expect(await test.getState()).toEqual({ state: 'running', reason: 'FROM_SNAPSHOT' });
      await createAs(test, 's6'); // 6
      await createAs(test, 's5'); // 7
      await revert(test, 's6'); // 8
      await createAs(test, 's4'); // 9
      await revert(test, 's1'); // 10
      await createAs(test, 's7'); // 11
      await createAs(test, 's8'); // 12

      // 13: libvirt's test driver refuses a checkpoint next to snapshots (OPERATION_UNSUPPORTED
      // "cannot create checkpoint while snapshot exists"); virtkit allows both,
      // docs/libvirt-differences.md D6-snapshots-with-checkpoints.
      const c1 = await test.createCheckpoint('<domaincheckpoint><name>c1</name></domaincheckpoint>');
      await c1.delete();

      expect(await formatSnapshotTree(test)).toBe(TREE); // 14
      expect(await currentName(test)).toBe('s8'); // 15
      await setCurrent(test, 's1'); // 16
      expect(await currentName(test)).toBe('s1'); // 17
      await (await test.currentSnapshot()).delete(); // 18
      errors.push(await failure(currentName(test))); // 19
      expect(await table(await test.listSnapshots({ roots: true }))).toEqual(['s3 running', 's7 running']); // 20
      expect(await table(await test.listSnapshots({ leaves: true }))).toEqual([
        's2 running',
        's4 running',
        's5 running',
        's8 running',
      ]); // 21
      expect(await table(await test.listSnapshots({ noLeaves: true }), true)).toEqual([
        's3 running',
        's6 running s3',
        's7 running',
      ]); // 22
      const s3 = await test.lookupSnapshotByName('s3');
      expect(await table(await s3.listChildren())).toEqual(['s2 running', 's6 running']); // 23
      expect(nameList(await s3.listChildren({ descendants: true }))).toEqual(['s2', 's4', 's5', 's6']); // 24
      await setCurrent(test, 's4'); // 25
      await (await test.lookupSnapshotByName('s6')).delete({ childrenOnly: true }); // 26
      expect(await currentName(test)).toBe('s6'); // 27
      await (await test.lookupSnapshotByName('s7')).delete({ children: true }); // 28
      expect(await currentName(test)).toBe('s6'); // 29
      await (await test.lookupSnapshotByName('s6')).delete(); // 30
      expect(await currentName(test)).toBe('s3'); // 31
      expect(nameList(await test.listSnapshots())).toEqual(['s2', 's3']); // 32
      expect(nameList(await test.listSnapshots({ topological: true }), true)).toEqual(['s3', 's2']); // 33
      saved.s3 = await s3.getXml(); // 34
      saved.s2 = await (await test.lookupSnapshotByName('s2')).getXml();
      expect(saved.s2).toContain('<parent>\n    <name>s3</name>\n  </parent>');
      for (const xml of Object.values(saved)) expect(xml).toContain("<domain type='test'>");
    }

    expect(errors).toEqual([
      'OPERATION_FAILED: domain moment s1 already exists',
      'NO_DOMAIN_SNAPSHOT: the domain does not have a current snapshot',
    ]);

    // Session 2: a fresh virsh process, so a fresh default world without snapshots.
    {
      await using conn = await connect('test:///default');
      const test = await conn.lookupDomainByName('test');
      expect(await test.listSnapshots()).toEqual([]);
      expect(await failure(test.createSnapshot(saved.s2, { redefine: true, validate: true }))).toBe(
        'INVALID_ARG: parent s3 for moment s2 not found',
      ); // 1
      await test.createSnapshot(saved.s3, { redefine: true, validate: true }); // 2
      await test.createSnapshot(saved.s2, { redefine: true, current: true, validate: true }); // 3
      expect(await snapshotInfo(test)).toEqual({
        Name: 's2',
        Domain: 'test',
        Current: 'yes',
        State: 'running',
        Location: 'internal',
        Parent: 's3',
        Children: '0',
        Descendants: '0',
        Metadata: 'yes',
      }); // 4
    }
  });
});
