import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatSnapshotTree, type Connection, type Domain } from 'virtkit';
import {
  codeOf,
  exactly,
  MALFORMED,
  domainXml,
  errorOf,
  HAVE_QEMU,
  hashFile,
  hashTree,
  holds,
  img,
  listTree,
  makeDisks,
  newWorld,
  open,
  snapshotHolds,
  snapshotNames,
  writeSlots,
  type TestDisk,
  type World,
} from './qemu-fixture.js';

function realRunner(file: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { encoding: 'utf8' }, (error, stdout, stderr) =>
      error === null ? resolve({ stdout, stderr }) : reject(Object.assign(error, { stderr })),
    );
  });
}

/** Distinct data per disk and version: disk i, version v → pattern 16*(i+1)+v in slot v. */
function version(disks: readonly TestDisk[], v: number): number[][] {
  return disks.map((_, i) => Array.from({ length: 4 }, (_x, slot) => (slot <= v ? 16 * (i + 1) + slot : 0)));
}

describe.runIf(HAVE_QEMU)('qemu driver: internal snapshots of shut-off domains', () => {
  let world: World;
  let conn: Connection;
  let disks: TestDisk[];
  let dom: Domain;

  const write = (v: number): void =>
    disks.forEach((d, i) => writeSlots(d.path, 'qcow2', version(disks, v)[i]!));
  const current = (v: number): boolean =>
    disks.every((d, i) => holds(d.path, 'qcow2', version(disks, v)[i]!));
  const inSnapshot = (snap: string, v: number): boolean =>
    disks.every((d, i) => snapshotHolds(d.path, snap, version(disks, v)[i]!, world.dir));
  const names = async (): Promise<string[]> =>
    (await dom.listSnapshots({ topological: true })).map((s) => s.name);

  beforeEach(async () => {
    world = newWorld();
    conn = await open(world);
    disks = makeDisks(world, ['vda', 'vdb']);
    dom = await conn.defineDomain(domainXml('vm', disks));
  });

  afterEach(async () => {
    await conn.close();
    world.cleanup();
  });

  it('creates, branches, reverts and deletes, every snapshot and the current state holding their data', async () => {
    // after every operation: each remaining snapshot (on every disk) and the current state
    // hold exactly their data, and the images hold exactly the recorded snapshots
    const expected = new Map<string, number>();
    const check = async (currentVersion: number): Promise<void> => {
      const recorded = (await dom.listSnapshots()).map((x) => x.name).sort();
      expect(recorded).toEqual([...expected.keys()].sort());
      expect(disks.map((d) => snapshotNames(d.path))).toEqual(disks.map(() => recorded));
      for (const [snap, v] of expected) expect(inSnapshot(snap, v), `${snap} holds v${v}`).toBe(true);
      expect(current(currentVersion), `current holds v${currentVersion}`).toBe(true);
    };
    write(0);
    const s1 = await dom.createSnapshot(
      '<domainsnapshot><name>s1</name><description>v0</description></domainsnapshot>',
    );
    expected.set('s1', 0);
    await check(0);
    write(1);
    const s2 = await dom.createSnapshot('<domainsnapshot><name>s2</name></domainsnapshot>');
    expected.set('s2', 1);
    await check(1);
    expect((await s2.getParent()).name).toBe('s1');
    write(2);

    await s1.revert();
    await check(0);
    expect((await dom.currentSnapshot()).name).toBe('s1');

    write(3);
    const s3 = await dom.createSnapshot('<domainsnapshot><name>s3</name></domainsnapshot>');
    expected.set('s3', 3);
    await check(3);
    expect((await s3.getParent()).name).toBe('s1');
    expect(await names()).toEqual(['s1', 's3', 's2']);
    expect(await formatSnapshotTree(dom)).toMatch(/^s1\n {2}\|\n {2}\+- s2\n {2}\+- s3\n/);

    await s2.revert();
    await check(1);
    await s1.delete();
    expected.delete('s1');
    await check(1);
    expect(await names()).toEqual(['s3', 's2']);
    expect((await dom.listSnapshots({ roots: true })).map((x) => x.name).sort()).toEqual(['s2', 's3']);

    await s3.revert();
    await check(3);
    expect((await dom.currentSnapshot()).name).toBe('s3');
    await s2.delete();
    expected.delete('s2');
    await check(3);
  });

  it('records the snapshot as libvirt does and survives a reconnect', async () => {
    await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
    const xml = await (await dom.lookupSnapshotByName('s1')).getXml();
    expect(xml).toMatch(/<state>shutoff<\/state>/);
    expect(xml).toContain("<memory snapshot='no'/>");
    expect(xml).toContain("<disk name='vda' snapshot='internal'/>");
    expect(xml).toContain("<domain type='qemu'>");
    expect(xml).not.toContain('<active>');
    const other = await open(world);
    const again = await other.lookupDomainByName('vm');
    expect(await (await again.lookupSnapshotByName('s1')).getXml()).toBe(xml);
    expect((await again.currentSnapshot()).name).toBe('s1');
    await other.close();
  });

  it('reverting restores the domain definition from the snapshot and emits DEFINED/FROM_SNAPSHOT', async () => {
    const s1 = await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
    const original = await dom.getXml();
    const withUuid = domainXml('vm', disks).replace('</name>', `</name>\n  <uuid>${dom.uuid}</uuid>`);
    await conn.defineDomain(withUuid.replace('65536', '262144'));
    expect(await dom.getXml()).toContain('262144');
    const events: string[] = [];
    conn.on('domain-event', (e) => events.push(`${e.event}/${e.detail}`));
    await s1.revert();
    expect(await dom.getXml()).toBe(original);
    expect(events).toEqual(['DEFINED/FROM_SNAPSHOT']);
  });

  it('delete with children, childrenOnly and metadataOnly', async () => {
    const snap = async (n: string) =>
      dom.createSnapshot(`<domainsnapshot><name>${n}</name></domainsnapshot>`);
    const a = await snap('a');
    await snap('b');
    await snap('c');
    await a.revert();
    await snap('d');
    await a.delete({ childrenOnly: true });
    expect(await names()).toEqual(['a']);
    expect((await dom.currentSnapshot()).name).toBe('a');
    expect(disks.map((d) => snapshotNames(d.path))).toEqual([['a'], ['a']]);
    await snap('e');
    await a.delete({ children: true });
    expect(await names()).toEqual([]);
    expect(await dom.hasCurrentSnapshot()).toBe(false);
    expect(disks.map((d) => snapshotNames(d.path))).toEqual([[], []]);
    const f = await snap('f');
    await f.delete({ metadataOnly: true });
    expect(await names()).toEqual([]);
    expect(disks.map((d) => snapshotNames(d.path))).toEqual([['f'], ['f']]);
  });

  it('noMetadata takes the snapshot and records nothing; the name stays reserved in the images', async () => {
    write(0);
    await dom.createSnapshot('<domainsnapshot><name>quiet</name></domainsnapshot>', { noMetadata: true });
    expect(await names()).toEqual([]);
    expect(await dom.hasCurrentSnapshot()).toBe(false);
    expect(inSnapshot('quiet', 0)).toBe(true);
    const err = await errorOf(dom.createSnapshot('<domainsnapshot><name>quiet</name></domainsnapshot>'));
    expect(err.code).toBe('OPERATION_INVALID');
    expect(err.message).toMatch(/already has an internal snapshot named 'quiet'/);
  });

  it("refuses a name that is another snapshot's id, saying so plainly", async () => {
    await dom.createSnapshot('<domainsnapshot><name>with space</name></domainsnapshot>');
    const err = await errorOf(dom.createSnapshot('<domainsnapshot><name>1</name></domainsnapshot>'));
    expect(err.code).toBe('OPERATION_INVALID');
    expect(err.message).toBe(
      `snapshot name '1' is the id of internal snapshot 'with space' in image '${disks[0]?.path}' of disk 'vda'; ` +
        'qemu-img would take one for the other: choose another name',
    );
  });

  it('redefines metadata parents first without touching the images', async () => {
    const s1 = await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
    const s2 = await dom.createSnapshot('<domainsnapshot><name>s2</name></domainsnapshot>');
    const x1 = await s1.getXml({ secure: true });
    const x2 = await s2.getXml({ secure: true });
    await s2.delete({ metadataOnly: true });
    await s1.delete({ metadataOnly: true });
    const images = disks.map((d) => hashFile(d.path));
    expect(await codeOf(dom.createSnapshot(x2, { redefine: true }))).toBe('INVALID_ARG');
    await dom.createSnapshot(x1, { redefine: true });
    await dom.createSnapshot(x2, { redefine: true, current: true });
    expect(await names()).toEqual(['s1', 's2']);
    expect((await dom.currentSnapshot()).name).toBe('s2');
    expect(disks.map((d) => hashFile(d.path))).toEqual(images);
    await s1.revert();
    expect((await dom.currentSnapshot()).name).toBe('s1');
  });

  it('refuses raw disks, bad XML, unknown disks, illegal combos and hostile names, changing nothing', async () => {
    const raw = makeDisks(world, ['vdc'], 'raw');
    const mixed = await conn.defineDomain(domainXml('mixed', [...disks, ...raw]));
    await dom.createSnapshot('<domainsnapshot><name>keep</name></domainsnapshot>');
    const before = { root: hashTree(world.root), images: hashTree(world.images) };
    const cases: [Domain, string, object, string | RegExp][] = [
      [mixed, '<domainsnapshot><name>r</name></domainsnapshot>', {}, 'CONFIG_UNSUPPORTED'],
      [dom, '<domainsnapshot><name>x</name>', {}, MALFORMED],
      [
        dom,
        '<domainsnapshot><name>x</name><disks><disk name="vdz"/></disks></domainsnapshot>',
        {},
        'CONFIG_UNSUPPORTED',
      ],
      [
        dom,
        "<domainsnapshot><name>x</name><disks><disk name='vda' snapshot='no'/></disks></domainsnapshot>",
        {},
        'CONFIG_UNSUPPORTED',
      ],
      [dom, "<domainsnapshot><name>x</name><memory snapshot='internal'/></domainsnapshot>", {}, 'XML_ERROR'],
      [dom, '<domainsnapshot><name>a/b</name></domainsnapshot>', {}, 'XML_DETAIL'],
      [dom, '<domainsnapshot><name>../../x</name></domainsnapshot>', { noMetadata: true }, 'XML_DETAIL'],
      [dom, '<domainsnapshot><name>.x</name></domainsnapshot>', {}, 'XML_DETAIL'],
      [dom, '<domainsnapshot><name>keep</name></domainsnapshot>', {}, 'OPERATION_FAILED'],
      [dom, '<domainsnapshot><name>x</name></domainsnapshot>', { current: true }, 'INVALID_ARG'],
      [dom, '<domainsnapshot><name>x</name></domainsnapshot>', { quiesce: true }, 'INVALID_ARG'],
      [dom, '<domainsnapshot><name>x</name></domainsnapshot>', { live: true, redefine: true }, 'INVALID_ARG'],
      [dom, '<domainsnapshot><name>x</name></domainsnapshot>', { live: true }, 'OPERATION_UNSUPPORTED'],
      [dom, '<domainsnapshot><name>x</name></domainsnapshot>', { bogus: true }, 'INVALID_ARG'],
    ];
    for (const [d, xml, options, code] of cases) {
      expect(await codeOf(d.createSnapshot(xml, options)), `${xml} ${JSON.stringify(options)}`).toMatch(
        exactly(code),
      );
    }
    const rawErr = await errorOf(mixed.createSnapshot('<domainsnapshot/>'));
    expect(rawErr.message).toBe('internal snapshot for disk vdc unsupported for storage type raw');
    expect({ root: hashTree(world.root), images: hashTree(world.images) }).toEqual(before);
  });

  it('is all-or-nothing across disks when qemu-img fails on the second disk', async () => {
    write(0);
    const before = { root: hashTree(world.root) };
    const calls: string[][] = [];
    const runner = async (file: string, args: readonly string[]) => {
      calls.push([...args]);
      if (args[0] === 'snapshot' && args[1] === '-c' && args[3] === disks[1]!.path) {
        throw new Error('injected failure on the second disk');
      }
      return realRunner(file, args);
    };
    const failing = await open(world, { driverOptions: { runner } });
    const d2 = await failing.lookupDomainByName('vm');
    const err = await errorOf(d2.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>'));
    await failing.close();
    expect(err.code).toBe('OPERATION_FAILED');
    expect(err.message).toMatch(/injected failure/);
    expect(calls.filter((c) => c[0] === 'snapshot')).toEqual([
      ['snapshot', '-c', 's1', disks[0]!.path],
      ['snapshot', '-c', 's1', disks[1]!.path],
      ['snapshot', '-d', 's1', disks[0]!.path],
    ]);
    expect(hashTree(world.root)).toEqual(before.root);
    expect(disks.map((d) => snapshotNames(d.path))).toEqual([[], []]);
    expect(current(0)).toBe(true);
    expect(await names()).toEqual([]);
  });

  it('is all-or-nothing when a revert fails on the second disk: the first gets its safety snapshot back', async () => {
    write(0);
    const s1 = await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
    write(1);
    const before = { root: hashTree(world.root) };
    const runner = async (file: string, args: readonly string[]) => {
      if (args[0] === 'snapshot' && args[1] === '-a' && args[2] === 's1' && args[3] === disks[1]!.path) {
        throw new Error('injected failure on the second disk');
      }
      return realRunner(file, args);
    };
    const failing = await open(world, { driverOptions: { runner } });
    const d2 = await failing.lookupDomainByName('vm');
    expect(await codeOf((await d2.lookupSnapshotByName('s1')).revert())).toBe('OPERATION_FAILED');
    await failing.close();
    expect(current(1)).toBe(true);
    expect(disks.map((d) => snapshotNames(d.path))).toEqual([['s1'], ['s1']]);
    expect(hashTree(world.root)).toEqual(before.root);
    await s1.revert();
    expect(current(0)).toBe(true);
  });

  it('undoes the first disk when the second refuses: a snapshot name already on one image', async () => {
    img(['snapshot', '-c', 'taken', disks[1]!.path]);
    const before = { root: hashTree(world.root), images: hashTree(world.images) };
    const err = await errorOf(dom.createSnapshot('<domainsnapshot><name>taken</name></domainsnapshot>'));
    expect(err.code).toBe('OPERATION_INVALID');
    expect({ root: hashTree(world.root), images: hashTree(world.images) }).toEqual(before);
  });

  it('refuses to revert while persistent bitmaps exist, naming the checkpoints, and changes nothing', async () => {
    write(0);
    const s1 = await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
    write(1);
    const c1 = await dom.createCheckpoint('<domaincheckpoint><name>c1</name></domaincheckpoint>');
    const before = { root: hashTree(world.root), images: hashTree(world.images) };
    const err = await errorOf(s1.revert());
    expect(err.code).toBe('OPERATION_UNSUPPORTED');
    expect(err.message).toMatch(/holds persistent dirty bitmaps \(checkpoints 'c1'\)/);
    expect({ root: hashTree(world.root), images: hashTree(world.images) }).toEqual(before);
    await c1.delete();
    await s1.revert();
    expect(current(0)).toBe(true);
  });

  it('refuses a snapshot name that qemu-img would resolve as another snapshot id', async () => {
    img(['snapshot', '-c', 'first', disks[0]!.path]);
    img(['snapshot', '-c', 'first', disks[1]!.path]);
    expect(await codeOf(dom.createSnapshot('<domainsnapshot><name>1</name></domainsnapshot>'))).toBe(
      'OPERATION_INVALID',
    );
  });

  it('reports a snapshot missing from an image and offers metadataOnly', async () => {
    const s1 = await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
    img(['snapshot', '-d', 's1', disks[1]!.path]);
    const before = { root: hashTree(world.root), images: hashTree(world.images) };
    const err = await errorOf(s1.delete());
    expect(err.code).toBe('OPERATION_INVALID');
    expect(err.message).toMatch(/does not contain internal snapshot 's1'; delete with metadataOnly/);
    expect(await codeOf(s1.revert())).toBe('OPERATION_INVALID');
    expect({ root: hashTree(world.root), images: hashTree(world.images) }).toEqual(before);
    await s1.delete({ metadataOnly: true });
    expect(await names()).toEqual([]);
  });

  it('a disk whose image is missing defines fine; snapshots, reverts, deletes and checkpoints name the disk and path', async () => {
    const s1 = await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
    rmSync(disks[1]!.path);
    const expected = `unable to stat image of disk 'vdb': '${disks[1]!.path}': No such file or directory`;
    const before = hashTree(world.root);
    for (const attempt of [
      () => dom.createSnapshot('<domainsnapshot><name>s2</name></domainsnapshot>'),
      () => dom.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', { diskOnly: true }),
      () => dom.createCheckpoint('<domaincheckpoint><name>c1</name></domaincheckpoint>'),
      () => s1.revert(),
      () => s1.delete(),
    ]) {
      const err = await errorOf(attempt());
      expect(err.code).toBe('SYSTEM_ERROR');
      expect(err.message).toBe(expected);
    }
    expect(hashTree(world.root)).toEqual(before);
    // libvirt does not open images at define time either
    const other = await conn.defineDomain(
      domainXml('other', [{ target: 'vda', path: `${world.images}/absent.qcow2`, format: 'qcow2' }]),
    );
    expect((await errorOf(other.createSnapshot('<domainsnapshot/>'))).message).toMatch(
      /^unable to stat image of disk 'vda': '.*\/absent\.qcow2': No such file or directory$/,
    );
  });

  it('refuses running/paused reverts and unknown snapshots', async () => {
    const s1 = await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
    expect(await codeOf(s1.revert({ running: true }))).toBe('OPERATION_UNSUPPORTED');
    expect(await codeOf(s1.revert({ running: true, paused: true }))).toBe('INVALID_ARG');
    expect(await codeOf(dom.lookupSnapshotByName('../s1'))).toBe('NO_DOMAIN_SNAPSHOT');
    expect((await errorOf(s1.getParent())).message).toBe("snapshot 's1' does not have a parent");
    expect(listTree(world.root).filter((f) => f.includes('journal') || f.endsWith('.tmp'))).toEqual([]);
  });
});
