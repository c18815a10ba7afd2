import type { Domain } from 'virtkit';
import { describe, expect, it } from 'vitest';
import { codeOf, MALFORMED, openWorld, outcome, sortedNames } from './test-helpers.js';

const A_UUID = '11111111-2222-3333-4444-555555555555';

const cpXml = (name: string, extra = '') =>
  `<domaincheckpoint><name>${name}</name>${extra}</domaincheckpoint>`;

async function create(domain: Domain, ...names: string[]): Promise<void> {
  for (const name of names) await domain.createCheckpoint(cpXml(name));
}

/** The current checkpoint, seen as the parent libvirt gives the next one. */
async function currentCheckpoint(domain: Domain): Promise<string | undefined> {
  const probe = await domain.createCheckpoint(cpXml('probe'));
  try {
    return (await probe.getParent()).name;
  } catch {
    return undefined;
  } finally {
    await probe.delete();
  }
}

const TWO_DISKS = `<domain type='test'>
  <name>two</name>
  <uuid>${A_UUID}</uuid>
  <memory>1024</memory>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/img/a.qcow2'/><target dev='vda'/></disk>
    <disk type='file' device='disk'><source file='/img/b.qcow2'/><target dev='vdb'/></disk>
    <disk type='file' device='cdrom'><target dev='hdc'/><readonly/></disk>
  </devices>
</domain>`;

describe('checkpoint creation', () => {
  it('checkpoints every writable disk by default, named after the clock', async () => {
    await using w = await openWorld();
    const c = await w.domain.createCheckpoint();
    expect(c.name).toBe('1700000000');
    expect(await c.getXml({ noDomain: true })).toBe(
      `<domaincheckpoint>
  <name>1700000000</name>
  <creationTime>1700000000</creationTime>
  <disks>
    <disk name='vda' checkpoint='bitmap' bitmap='1700000000'/>
  </disks>
</domaincheckpoint>
`,
    );
    expect(await c.getXml()).toContain("  <domain type='test'>\n    <name>test</name>");
  });

  it('gives unlisted disks no bitmap when disks are listed, and never checkpoints read-only ones', async () => {
    await using w = await openWorld();
    const d = await w.conn.createDomain(TWO_DISKS);
    const all = await d.createCheckpoint(cpXml('all'));
    expect(await all.getXml({ noDomain: true })).toContain(
      "<disk name='vda' checkpoint='bitmap' bitmap='all'/>\n    <disk name='vdb' checkpoint='bitmap' bitmap='all'/>\n    <disk name='hdc' checkpoint='no'/>",
    );
    const one = await d.createCheckpoint(cpXml('one', "<disks><disk name='vdb'/></disks>"));
    expect(await one.getXml({ noDomain: true })).toContain(
      "<disk name='vda' checkpoint='no'/>\n    <disk name='vdb' checkpoint='bitmap' bitmap='one'/>\n    <disk name='hdc' checkpoint='no'/>",
    );
    expect(await outcome(d.createCheckpoint(cpXml('ro', "<disks><disk name='hdc'/></disks>")))).toBe(
      "CONFIG_UNSUPPORTED: disk 'hdc' is empty or readonly",
    );
    expect(await codeOf(d.createCheckpoint(cpXml('x', "<disks><disk name='vdz'/></disks>")))).toBe(
      'CONFIG_UNSUPPORTED',
    );
  });

  it('chains under the current checkpoint and refuses duplicates, bad names and inactive domains', async () => {
    await using w = await openWorld();
    await create(w.domain, 'c1', 'c2');
    expect((await (await w.domain.lookupCheckpointByName('c2')).getParent()).name).toBe('c1');
    expect(await outcome(w.domain.createCheckpoint(cpXml('c1')))).toBe(
      'OPERATION_FAILED: domain moment c1 already exists',
    );
    expect(await codeOf(w.domain.createCheckpoint(cpXml('.bad')))).toBe('XML_INVALID_SCHEMA');
    expect(await codeOf(w.domain.createCheckpoint('<domaincheckpoint'))).toMatch(MALFORMED);
    const xml = await (await w.domain.lookupCheckpointByName('c2')).getXml();
    await w.domain.destroy();
    expect(await outcome(w.domain.createCheckpoint(cpXml('c3')))).toBe(
      'OPERATION_UNSUPPORTED: cannot create checkpoint for inactive domain',
    );
    expect(await codeOf(w.domain.createCheckpoint(xml, { redefine: true }))).toBe('OPERATION_UNSUPPORTED');
    expect(sortedNames(await w.domain.listCheckpoints())).toEqual(['c1', 'c2']);
  });

  it('accepts quiesce and reports one finished step', async () => {
    await using w = await openWorld();
    const steps: string[] = [];
    await w.domain.createCheckpoint(cpXml('q'), { quiesce: true, onProgress: (p) => steps.push(p.phase) });
    expect(steps).toEqual(['create checkpoint']);
  });
});

describe('checkpoint redefinition', () => {
  it('needs the parent first and makes the checkpoint current by libvirt rule', async () => {
    await using src = await openWorld();
    await create(src.domain, 'c1', 'c2');
    const x1 = await (await src.domain.lookupCheckpointByName('c1')).getXml();
    const x2 = await (await src.domain.lookupCheckpointByName('c2')).getXml();
    await using w = await openWorld();
    expect(await outcome(w.domain.createCheckpoint(x2, { redefine: true }))).toBe(
      'INVALID_ARG: parent c1 for moment c2 not found',
    );
    await w.domain.createCheckpoint(x1, { redefine: true });
    expect(await currentCheckpoint(w.domain)).toBe('c1');
    await w.domain.createCheckpoint(x2, { redefine: true, redefineValidate: true });
    expect(await currentCheckpoint(w.domain)).toBe('c2');
    await w.domain.createCheckpoint(x2.replace('<name>c2</name>', '<name>side</name>'), { redefine: true });
    expect(await currentCheckpoint(w.domain)).toBe('c2');
    expect(sortedNames(await (await w.domain.lookupCheckpointByName('c1')).listChildren())).toEqual([
      'c2',
      'side',
    ]);
  });

  it('checks the domain uuid and, with redefineValidate, that every bitmap disk exists', async () => {
    await using w = await openWorld();
    await create(w.domain, 'c1');
    const xml = await (await w.domain.lookupCheckpointByName('c1')).getXml();
    expect(
      await outcome(
        w.domain.createCheckpoint(xml.replace('6695eb01-f6a4-8304-79aa-97f2502e193f', A_UUID), {
          redefine: true,
        }),
      ),
    ).toBe('INVALID_ARG: definition for checkpoint c1 must use uuid 6695eb01-f6a4-8304-79aa-97f2502e193f');
    const foreign =
      "<domaincheckpoint><name>f</name><creationTime>1</creationTime><disks><disk name='vdb' checkpoint='bitmap'/></disks></domaincheckpoint>";
    expect(
      await outcome(w.domain.createCheckpoint(foreign, { redefine: true, redefineValidate: true })),
    ).toBe("CHECKPOINT_INCONSISTENT: missing or broken bitmap 'f' for disk 'vdb'");
    await w.domain.createCheckpoint(foreign, { redefine: true });
    expect(await (await w.domain.lookupCheckpointByName('f')).getXml()).toContain(
      "<disk name='vdb' checkpoint='bitmap' bitmap='f'/>",
    );
    expect(await codeOf(w.domain.createCheckpoint(foreign, { redefine: true, quiesce: true }))).toBe(
      'INVALID_ARG',
    );
  });
});

describe('checkpoint queries and delete', () => {
  it('prints a simulated dirty size only for an active domain', async () => {
    await using w = await openWorld();
    const c = await w.domain.createCheckpoint(cpXml('c1'));
    expect(await c.getXml({ size: true, noDomain: true, secure: true })).toContain(
      "<disk name='vda' checkpoint='bitmap' bitmap='c1' size='1024'/>",
    );
    await w.domain.destroy();
    expect(await outcome(c.getXml({ size: true }))).toBe('OPERATION_INVALID: domain is not running');
    expect(await c.getXml()).not.toContain('size=');
  });

  it('lists with roots, leaves, descendants and topological order', async () => {
    await using w = await openWorld();
    await create(w.domain, 'a', 'b', 'c');
    await (await w.domain.lookupCheckpointByName('c')).delete();
    await create(w.domain, 'd');
    await (await w.domain.lookupCheckpointByName('b')).delete({ metadataOnly: true });
    const names = async (o: Parameters<Domain['listCheckpoints']>[0]) =>
      (await w.domain.listCheckpoints(o)).map((c) => c.name);
    expect(await names({ topological: true })).toEqual(['a', 'd']);
    await create(w.domain, 'e');
    expect(await names({ roots: true })).toEqual(['a']);
    expect(await names({ leaves: true })).toEqual(['e']);
    expect((await names({ noLeaves: true })).sort()).toEqual(['a', 'd']);
    const a = await w.domain.lookupCheckpointByName('a');
    expect((await a.listChildren()).map((c) => c.name)).toEqual(['d']);
    expect((await a.listChildren({ descendants: true, topological: true })).map((c) => c.name)).toEqual([
      'd',
      'e',
    ]);
    expect(await outcome(a.getParent())).toBe("NO_DOMAIN_CHECKPOINT: checkpoint 'a' does not have a parent");
    expect(await outcome(w.domain.lookupCheckpointByName('zz'))).toBe(
      "NO_DOMAIN_CHECKPOINT: no domain checkpoint with matching name 'zz'",
    );
  });

  it('deletes with children and childrenOnly, moving current like libvirt', async () => {
    await using w = await openWorld();
    await create(w.domain, 'a', 'b', 'c');
    await (await w.domain.lookupCheckpointByName('a')).delete({ childrenOnly: true });
    expect(await currentCheckpoint(w.domain)).toBe('a');
    await create(w.domain, 'x');
    await (await w.domain.lookupCheckpointByName('a')).delete({ children: true });
    expect(await w.domain.listCheckpoints()).toEqual([]);
    expect(await currentCheckpoint(w.domain)).toBeUndefined();
  });
});
