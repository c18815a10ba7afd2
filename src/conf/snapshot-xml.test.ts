import { describe, expect, it } from 'vitest';
import { VirtError, type ErrorCode } from '../errors.js';
import type { DomainDef } from './domain-def.js';
import { parseDomainXml } from './domain-xml.js';
import type { SnapshotDef } from './snapshot-def.js';
import {
  alignSnapshotDisks,
  defaultExternalSnapshotPath,
  formatSnapshotXml,
  parseSnapshotXml,
  type SnapshotParseOptions,
} from './snapshot-xml.js';

function thrown(fn: () => unknown): VirtError {
  try {
    fn();
  } catch (err) {
    if (err instanceof VirtError) return err;
    throw err;
  }
  throw new Error('expected a VirtError');
}

function expectError(fn: () => unknown, code: ErrorCode, message: string): VirtError {
  const err = thrown(fn);
  expect([err.code, err.message]).toEqual([code, message]);
  return err;
}

const DOMAIN = `<domain type='kvm'>
  <name>vm</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/img/vm-a.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk' snapshot='no'>
      <source file='/img/scratch.raw'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <target dev='hdc' bus='ide'/>
    </disk>
  </devices>
</domain>`;

describe('parseSnapshotXml', () => {
  it('names the expected root element', () => {
    const err = expectError(
      () => parseSnapshotXml('<domaincheckpoint/>'),
      'XML_ERROR',
      "expecting root element of 'domainsnapshot', not 'domaincheckpoint'",
    );
    expect(err.details).toEqual({ line: 1, column: 1 });
  });

  it('ignores redefine-only elements when creating', () => {
    const def = parseSnapshotXml(`<domainsnapshot>
      <name>s1</name><state>running</state><parent><name>p</name></parent>
      <creationTime>5</creationTime><active>1</active><domain type='kvm'><name>x</name></domain>
      <revertDisks><disk name='vda'/></revertDisks>
      <disks><disk name='vda'><snapshotDeleteInProgress/></disk></disks>
    </domainsnapshot>`);
    expect(def).toEqual({ name: 's1', disks: [{ name: 'vda' }] });
  });

  it('applies the post-parse clock only for a non-zero now', () => {
    expect(parseSnapshotXml('<domainsnapshot/>', { now: 1700000000 })).toEqual({
      name: '1700000000',
      creationTime: 1700000000,
    });
    expect(parseSnapshotXml('<domainsnapshot><name>n</name></domainsnapshot>', { now: 9 })).toEqual({
      name: 'n',
      creationTime: 9,
    });
    expect(parseSnapshotXml('<domainsnapshot/>', { now: 0 })).toEqual({});
    expect(parseSnapshotXml('<domainsnapshot/>', { redefine: false })).toEqual({});
  });

  it('reads memory and disk locations with libvirt defaults', () => {
    const def = parseSnapshotXml(`<domainsnapshot>
      <memory file='/m/state'/>
      <disks>
        <disk name='vda'><source file='/img/new'/></disk>
        <disk name='vdb'><driver type='qcow2'/></disk>
        <disk name='vdc' snapshot='internal'/>
        <disk name='vdd' type='block'><source dev='/dev/x'/></disk>
        <other name='vde'/>
      </disks>
    </domainsnapshot>`);
    expect(def.memory).toEqual({ snapshot: 'external', file: '/m/state' });
    expect(def.disks).toEqual([
      { name: 'vda', snapshot: 'external', source: { file: '/img/new' } },
      { name: 'vdb', snapshot: 'external', driverType: 'qcow2' },
      { name: 'vdc', snapshot: 'internal' },
      { name: 'vdd', snapshot: 'external', type: 'block', source: { dev: '/dev/x' } },
      { name: 'vde' },
    ]);
  });

  it('scales metadata_cache/max_size to bytes', () => {
    const xml = (v: string, unit: string) =>
      `<domainsnapshot><disks><disk name='vda'><driver type='qcow2'><metadata_cache><max_size unit='${unit}'>${v}</max_size></metadata_cache></driver></disk></disks></domainsnapshot>`;
    expect(parseSnapshotXml(xml('2', 'KiB')).disks?.[0]?.metadataCacheMaxSize).toBe(2048);
    expect(parseSnapshotXml(xml('3', 'MB')).disks?.[0]?.metadataCacheMaxSize).toBe(3_000_000);
    expectError(
      () => parseSnapshotXml(xml('x', 'b')),
      'XML_ERROR',
      "invalid value 'x' for element 'max_size'",
    );
    expectError(() => parseSnapshotXml(xml('1', 'parsec')), 'XML_ERROR', "unknown suffix 'parsec'");
  });

  it.each<[string, string, SnapshotParseOptions, ErrorCode, string]>([
    [
      'no name on redefine',
      '<domainsnapshot/>',
      { redefine: true },
      'XML_ERROR',
      'a redefined snapshot must have a name',
    ],
    [
      'no creationTime on redefine',
      '<domainsnapshot><name>s</name><state>running</state></domainsnapshot>',
      { redefine: true },
      'INTERNAL_ERROR',
      'missing creationTime from existing snapshot',
    ],
    [
      'a bad creationTime on redefine',
      '<domainsnapshot><name>s</name><creationTime>12x</creationTime><state>running</state></domainsnapshot>',
      { redefine: true },
      'INTERNAL_ERROR',
      'missing creationTime from existing snapshot',
    ],
    [
      'no state on redefine',
      '<domainsnapshot><name>s</name><creationTime>1</creationTime></domainsnapshot>',
      { redefine: true },
      'XML_ERROR',
      'missing state from existing snapshot',
    ],
    [
      'nostate on redefine',
      '<domainsnapshot><name>s</name><creationTime>1</creationTime><state>nostate</state></domainsnapshot>',
      { redefine: true },
      'CONFIG_UNSUPPORTED',
      "Invalid state 'nostate' in domain snapshot XML",
    ],
    [
      'memory on an offline redefinition',
      "<domainsnapshot><name>s</name><creationTime>1</creationTime><state>shutoff</state><memory snapshot='internal'/></domainsnapshot>",
      { redefine: true },
      'XML_ERROR',
      'memory state cannot be saved with offline or disk-only snapshot',
    ],
    [
      'memory with the offline option',
      "<domainsnapshot><memory snapshot='internal'/></domainsnapshot>",
      { offline: true },
      'XML_ERROR',
      'memory state cannot be saved with offline or disk-only snapshot',
    ],
    [
      'manual memory',
      "<domainsnapshot><memory snapshot='manual'/></domainsnapshot>",
      {},
      'XML_ERROR',
      "'manual' memory snapshot mode not supported",
    ],
    [
      'a memory file with internal memory',
      "<domainsnapshot><memory snapshot='internal' file='/m'/></domainsnapshot>",
      {},
      'XML_ERROR',
      "memory filename '/m' requires external snapshot",
    ],
    [
      'external memory without file',
      "<domainsnapshot><memory snapshot='external'/></domainsnapshot>",
      {},
      'XML_ERROR',
      'external memory snapshots require a filename',
    ],
    [
      'a relative memory file',
      "<domainsnapshot><memory file='m.img'/></domainsnapshot>",
      {},
      'XML_ERROR',
      'memory snapshot file path (m.img) must be absolute',
    ],
    [
      'a default memory location',
      "<domainsnapshot><memory snapshot='default'/></domainsnapshot>",
      {},
      'XML_ERROR',
      "Invalid value for attribute 'snapshot' in element 'memory': 'default'.",
    ],
    [
      'a disk without name',
      "<domainsnapshot><disks><disk snapshot='no'/></disks></domainsnapshot>",
      {},
      'INTERNAL_ERROR',
      'missing name from disk snapshot element',
    ],
    [
      'a volume disk',
      "<domainsnapshot><disks><disk name='vda' type='volume'/></disks></domainsnapshot>",
      {},
      'XML_ERROR',
      "unsupported disk snapshot type 'volume'",
    ],
    [
      'an unknown disk type',
      "<domainsnapshot><disks><disk name='vda' type='floppy'/></disks></domainsnapshot>",
      {},
      'XML_ERROR',
      "Invalid value for attribute 'type' in element 'disk': 'floppy'.",
    ],
    [
      'an unknown driver',
      "<domainsnapshot><disks><disk name='vda'><driver type='qcow3'/></disk></disks></domainsnapshot>",
      {},
      'CONFIG_UNSUPPORTED',
      "unknown disk snapshot driver 'qcow3'",
    ],
    [
      'a relative image path',
      "<domainsnapshot><disks><disk name='vda'><source file='rel.qcow2'/></disk></disks></domainsnapshot>",
      {},
      'XML_ERROR',
      "disk snapshot image path 'rel.qcow2' must be absolute",
    ],
    [
      'an internal parse without active',
      '<domainsnapshot><name>s</name><creationTime>1</creationTime><state>running</state></domainsnapshot>',
      { redefine: true, internal: true },
      'INTERNAL_ERROR',
      "could not find 'active' element",
    ],
  ])('refuses %s', (_what, xml, options, code, message) => {
    expectError(() => parseSnapshotXml(xml, options), code, message);
  });

  it('reads every redefine field, the cookie and <active> on an internal parse', () => {
    const def = parseSnapshotXml(
      `<domainsnapshot>
        <name>s2</name><state>disk-snapshot</state><parent><name>s1</name></parent>
        <creationTime>1700000001</creationTime>
        <disks><disk name='vda' snapshot='external'><snapshotDeleteInProgress/><source file='/i/a.s2'/></disk></disks>
        <revertDisks><disk name='vda' snapshot='external'><source file='/i/a.r'/></disk></revertDisks>
        <domain type='kvm'><name>vm</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid></domain>
        <cookie><cpu/></cookie>
        <active>1</active>
      </domainsnapshot>`,
      { redefine: true, internal: true },
    );
    expect(def).toMatchObject({
      name: 's2',
      state: 'disk-snapshot',
      parent: 's1',
      creationTime: 1700000001,
      memory: { snapshot: 'no' },
      disks: [
        { name: 'vda', snapshot: 'external', snapshotDeleteInProgress: true, source: { file: '/i/a.s2' } },
      ],
      revertDisks: [{ name: 'vda', snapshot: 'external', source: { file: '/i/a.r' } }],
      active: true,
    });
    expect(def.domain?.uuid).toBe('c7a5fdbd-edaf-9455-926a-d65c16db1809');
    expect(def.cookie).toBeUndefined();
  });

  it('keeps the cookie of an online snapshot and ignores an uuid-only domain', () => {
    const def = parseSnapshotXml(
      `<domainsnapshot><name>s</name><creationTime>1</creationTime><state>running</state>
        <domain><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid></domain><cookie><cpu mode='custom'/></cookie></domainsnapshot>`,
      { redefine: true },
    );
    expect(def.domain).toBeUndefined();
    expect(def.memory).toEqual({ snapshot: 'internal' });
    expect(def.cookie?.name).toBe('cookie');
  });
});

describe('parseSnapshotXml with validate', () => {
  it.each([
    [
      '<domainsnapshot><bogus/></domainsnapshot>',
      "element 'bogus' is not allowed in 'domainsnapshot'",
      1,
      17,
    ],
    ["<domainsnapshot x='1'/>", "attribute 'x' is not allowed in element 'domainsnapshot'", 1, 1],
    [
      '<domainsnapshot><state>nostate</state></domainsnapshot>',
      "invalid value 'nostate' in element 'state'",
      1,
      17,
    ],
    [
      "<domainsnapshot><disks><disk name='vda' snapshot='no' type='file'/></disks></domainsnapshot>",
      "attribute 'type' is not allowed in element 'disk'",
      1,
      24,
    ],
    [
      "<domainsnapshot><disks>\n<disk name='vda'><source file='/a'><foo/></source></disk></disks></domainsnapshot>",
      "element 'foo' is not allowed in 'source'",
      2,
      36,
    ],
    [
      "<domainsnapshot><disks><disk name='disk0'/></disks></domainsnapshot>",
      "invalid value 'disk0' for attribute 'name' of element 'disk'",
      1,
      24,
    ],
    [
      "<domainsnapshot><memory snapshot='no' file='/m'/></domainsnapshot>",
      "attribute 'file' requires snapshot='external'",
      1,
      17,
    ],
    [
      '<domainsnapshot><name>a</name><name>b</name></domainsnapshot>',
      "element 'name' may appear only once in 'domainsnapshot'",
      1,
      31,
    ],
    [
      '<domainsnapshot><domain><name>x</name></domain></domainsnapshot>',
      "element 'name' is not allowed in 'domain'",
      1,
      25,
    ],
  ])('refuses %j', (xml, detail, line, column) => {
    const err = expectError(
      () => parseSnapshotXml(xml, { validate: true }),
      'XML_INVALID_SCHEMA',
      `unable to validate doc against domainsnapshot.rng: ${detail} (line ${line}, column ${column})`,
    );
    expect(err.details).toEqual({ line, column });
  });

  it('accepts what the schema accepts and ignores unknown elements without validate', () => {
    const xml = `<domainsnapshot><name>s</name><description>d</description>
      <memory snapshot='external' file='/m'/>
      <disks><disk name='/img/a.qcow2' snapshot='external' type='file'><driver type='qcow2'/>
        <source file='/img/b'><seclabel model='dac' relabel='no'/></source></disk>
        <disk name='vdb' type='network'><source protocol='rbd' name='p/i'><host name='h' port='1'/></source></disk></disks>
      <domain><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid></domain>
      <cookie><anything at='all'/></cookie></domainsnapshot>`;
    expect(parseSnapshotXml(xml, { validate: true }).name).toBe('s');
    expect(parseSnapshotXml('<domainsnapshot><bogus/><name>x</name></domainsnapshot>')).toEqual({
      name: 'x',
    });
  });
});

describe('formatSnapshotXml', () => {
  it('prints in libvirt order and leaves defaults out', () => {
    const def: SnapshotDef = {
      active: true,
      cookie: {
        name: 'cookie',
        attributes: {},
        children: [{ name: 'slirpHelper', attributes: {}, children: [] }],
      },
      disks: [
        {
          name: 'vda',
          snapshot: 'external',
          driverType: 'qcow2',
          source: { file: '/i/a' },
          snapshotDeleteInProgress: true,
        },
        { name: 'vdb' },
        { name: 'vdc', snapshot: 'external', type: 'block', source: {} },
      ],
      revertDisks: [{ name: 'vda', snapshot: 'external', source: { file: '/i/r' } }],
      memory: { snapshot: 'no' },
      creationTime: 7,
      parent: 'p',
      state: 'disk-snapshot',
      description: 'multi\nline & <tag>',
      name: `a'b"c`,
    };
    expect(
      formatSnapshotXml(def, {
        internal: true,
        current: true,
        domainUuid: 'c7a5fdbd-edaf-9455-926a-d65c16db1809',
      }),
    ).toBe(
      [
        '<domainsnapshot>',
        '  <name>a&apos;b&quot;c</name>',
        '  <description>multi\nline &amp; &lt;tag&gt;</description>',
        '  <state>disk-snapshot</state>',
        '  <parent>',
        '    <name>p</name>',
        '  </parent>',
        '  <creationTime>7</creationTime>',
        "  <memory snapshot='no'/>",
        '  <disks>',
        "    <disk name='vda' snapshot='external' type='file'>",
        '      <snapshotDeleteInProgress/>',
        "      <driver type='qcow2'/>",
        "      <source file='/i/a'/>",
        '    </disk>',
        "    <disk name='vdb'/>",
        "    <disk name='vdc' snapshot='external'/>",
        '  </disks>',
        '  <revertDisks>',
        "    <disk name='vda' snapshot='external' type='file'>",
        "      <source file='/i/r'/>",
        '    </disk>',
        '  </revertDisks>',
        '  <domain>',
        '    <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>',
        '  </domain>',
        '  <cookie>',
        '    <slirpHelper/>',
        '  </cookie>',
        '  <active>1</active>',
        '</domainsnapshot>',
        '',
      ].join('\n'),
    );
  });

  it('prints the embedded domains, without secrets unless secure', () => {
    const domain = parseDomainXml(
      "<domain type='kvm' id='3'><name>vm</name><devices><graphics type='vnc' passwd='pw'/></devices></domain>",
    );
    const def: SnapshotDef = { name: 's', domain, inactiveDomain: domain };
    const plain = formatSnapshotXml(def, { domainUuid: 'ignored-when-a-domain-exists' });
    expect(plain).toContain("  <domain type='kvm'>\n    <name>vm</name>\n");
    expect(plain).toContain("  <inactiveDomain type='kvm'>\n");
    expect(plain).not.toContain('passwd');
    expect(plain).not.toContain('ignored');
    expect(formatSnapshotXml(def, { secure: true })).toContain("<graphics type='vnc' passwd='pw'/>");
    expect(formatSnapshotXml({}, { internal: true })).toBe(
      '<domainsnapshot>\n  <active>0</active>\n</domainsnapshot>\n',
    );
  });

  it('round-trips its own redefine output', () => {
    const def = parseSnapshotXml(
      `<domainsnapshot><name>s</name><state>running</state><creationTime>3</creationTime>
        <memory snapshot='external' file='/m'/><disks><disk name='vda' snapshot='no'/></disks>
        <domain type='kvm'><name>vm</name></domain></domainsnapshot>`,
      { redefine: true },
    );
    const xml = formatSnapshotXml(def);
    expect(formatSnapshotXml(parseSnapshotXml(xml, { redefine: true }))).toBe(xml);
  });
});

describe('alignSnapshotDisks', () => {
  const domain: DomainDef = parseDomainXml(DOMAIN);
  const align = (
    def: SnapshotDef,
    defaultLocation: 'internal' | 'external' = 'external',
    uniformInternal = false,
  ) => alignSnapshotDisks(def, domain, { defaultLocation, uniformInternal });

  it('covers every domain disk in domain order with generated external names', () => {
    const def = align({ name: 's1', disks: [{ name: '/img/vm-a.qcow2' }] });
    expect(def.disks).toEqual([
      { name: 'vda', snapshot: 'external', source: { file: '/img/vm-a.s1' } },
      { name: 'vdb', snapshot: 'no' },
      { name: 'hdc', snapshot: 'no' },
    ]);
  });

  it('uses the domain disk attribute, then the default, for unspecified locations', () => {
    const def = align({ name: 's', disks: [{ name: 'vdb' }, { name: 'vda' }] }, 'internal');
    expect(def.disks?.map((d) => [d.name, d.snapshot])).toEqual([
      ['vda', 'internal'],
      ['vdb', 'no'],
      ['hdc', 'no'],
    ]);
  });

  it('keeps given external files and refuses colliding generated ones', () => {
    const def = align({
      name: 's',
      disks: [{ name: 'vda', snapshot: 'external', source: { file: '/x/new' } }],
    });
    expect(def.disks?.[0]?.source).toEqual({ file: '/x/new' });
    const clash = parseDomainXml(
      "<domain type='kvm'><name>vm</name><devices><disk><source file='/i/a.qcow2'/><target dev='vda'/></disk>" +
        "<disk><source file='/i/a.raw'/><target dev='vdb'/></disk></devices></domain>",
    );
    expectError(
      () => alignSnapshotDisks({ name: 's' }, clash, { defaultLocation: 'external', uniformInternal: false }),
      'CONFIG_UNSUPPORTED',
      "cannot generate external snapshot name for disk 'vdb': collision with disk 'vda'",
    );
  });

  it.each<[string, SnapshotDef, 'internal' | 'external', boolean, string]>([
    [
      'too many disks',
      { disks: [{ name: 'vda' }, { name: 'vdb' }, { name: 'hdc' }, { name: 'vdd' }] },
      'external',
      false,
      'too many disk snapshot requests for domain',
    ],
    ['an unknown disk', { disks: [{ name: 'vdz' }] }, 'external', false, "no disk named 'vdz'"],
    [
      'a disk given twice',
      { disks: [{ name: 'vda' }, { name: '/img/vm-a.qcow2' }] },
      'external',
      false,
      "disk '/img/vm-a.qcow2' specified twice",
    ],
    [
      'a non-internal disk with uniform internal snapshots',
      { disks: [{ name: 'vda', snapshot: 'external' }] },
      'internal',
      true,
      "disk 'vda' must use snapshot mode 'internal'",
    ],
    [
      'a file for an internal disk',
      { disks: [{ name: 'vda', snapshot: 'internal', source: { file: '/x' } }] },
      'internal',
      false,
      "file '/x' for disk 'vda' requires use of external snapshot mode",
    ],
    [
      'an external cdrom without media',
      { name: 's', disks: [{ name: 'hdc', snapshot: 'external' }] },
      'internal',
      false,
      "cannot generate external snapshot name for disk 'hdc' without source",
    ],
    [
      'an external block target without path',
      { name: 's', disks: [{ name: 'vda', snapshot: 'external', type: 'block' }] },
      'internal',
      false,
      "cannot generate external snapshot name for disk 'vda' on a 'block' device",
    ],
  ])('refuses %s', (_what, def, location, uniform, message) => {
    expectError(() => align(def, location, uniform), 'CONFIG_UNSUPPORTED', message);
  });

  it('allows no where the domain says no under the uniform-internal rule', () => {
    const def = align({ name: 's', disks: [{ name: 'vdb', snapshot: 'no' }] }, 'internal', true);
    expect(def.disks?.map((d) => d.snapshot)).toEqual(['internal', 'no', 'no']);
  });

  it('refuses to name files for block-device sources', () => {
    const blockDomain = parseDomainXml(
      "<domain type='kvm'><name>vm</name><devices><disk type='block'><source dev='/dev/sda'/><target dev='sda'/></disk></devices></domain>",
    );
    expectError(
      () =>
        alignSnapshotDisks({ name: 's' }, blockDomain, {
          defaultLocation: 'external',
          uniformInternal: false,
        }),
      'CONFIG_UNSUPPORTED',
      "source for disk 'sda' is not a regular file; refusing to generate external snapshot name",
    );
  });

  it('leaves a domain without disks alone', () => {
    const empty = parseDomainXml("<domain type='kvm'><name>vm</name></domain>");
    expect(
      alignSnapshotDisks({ name: 's' }, empty, { defaultLocation: 'internal', uniformInternal: true }),
    ).toEqual({ name: 's' });
  });
});

describe('defaultExternalSnapshotPath', () => {
  it.each([
    ['/img/vda.qcow2', '/img/vda.snap'],
    ['/img/vda', '/img/vda.snap'],
    ['/img.d/vda', '/img.d/vda.snap'],
    ['/img/a.b.c', '/img/a.b.snap'],
  ])('%s → %s', (path, expected) => {
    expect(defaultExternalSnapshotPath(path, 'snap')).toBe(expected);
  });
});
