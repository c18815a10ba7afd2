import { describe, expect, it } from 'vitest';
import { VirtError, type ErrorCode } from '../errors.js';
import type { CheckpointDef } from './checkpoint-def.js';
import {
  alignCheckpointDisks,
  defaultCheckpointBitmapNames,
  formatCheckpointXml,
  parseCheckpointXml,
} from './checkpoint-xml.js';
import { parseDomainXml } from './domain-xml.js';

function expectError(fn: () => unknown, code: ErrorCode, message: string): VirtError {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof VirtError)) throw err;
    expect([err.code, err.message]).toEqual([code, message]);
    return err;
  }
  throw new Error('expected a VirtError');
}

const DOMAIN = parseDomainXml(`<domain type='kvm'>
  <name>vm</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <devices>
    <disk type='file' device='disk'><source file='/i/a.qcow2'/><target dev='vda'/></disk>
    <disk type='file' device='disk'><source file='/i/b.qcow2'/><target dev='vdb'/></disk>
    <disk type='file' device='disk'><source file='/i/ro.qcow2'/><target dev='vdc'/><readonly/></disk>
    <disk type='file' device='cdrom'><target dev='hdc'/></disk>
  </devices>
</domain>`);

describe('parseCheckpointXml', () => {
  it('names the expected root element', () => {
    expectError(
      () => parseCheckpointXml('<domainsnapshot/>'),
      'XML_ERROR',
      "expecting root element of 'domaincheckpoint', not 'domainsnapshot'",
    );
  });

  it('defaults disks to bitmap and ignores size and redefine-only data when creating', () => {
    const def = parseCheckpointXml(
      `<domaincheckpoint><description>d</description><creationTime>5</creationTime><parent><name>p</name></parent>
        <disks><disk name='vda' size='99'/><disk name='vdb' checkpoint='no'/><disk name='vdc' bitmap='b1'/></disks>
      </domaincheckpoint>`,
      { now: 1700000000 },
    );
    expect(def).toEqual({
      name: '1700000000',
      description: 'd',
      creationTime: 1700000000,
      disks: [
        { name: 'vda', checkpoint: 'bitmap' },
        { name: 'vdb', checkpoint: 'no' },
        { name: 'vdc', checkpoint: 'bitmap', bitmap: 'b1' },
      ],
    });
  });

  it('reads name, creation time, parent and domain on redefine', () => {
    const def = parseCheckpointXml(
      `<domaincheckpoint><name>c2</name><parent><name>c1</name></parent><creationTime>1700000002</creationTime>
        <domain type='kvm'><name>vm</name></domain></domaincheckpoint>`,
      { redefine: true },
    );
    expect(def).toMatchObject({ name: 'c2', parent: 'c1', creationTime: 1700000002 });
    expect(def.domain?.name).toBe('vm');
  });

  it.each([
    ['<domaincheckpoint/>', 'XML_ERROR', 'a redefined checkpoint must have a name'],
    [
      '<domaincheckpoint><name>c</name></domaincheckpoint>',
      'INTERNAL_ERROR',
      'missing creationTime from existing checkpoint',
    ],
  ] as const)('refuses the redefinition %j', (xml, code, message) => {
    expectError(() => parseCheckpointXml(xml, { redefine: true }), code, message);
  });

  it.each([
    [
      '<domaincheckpoint><name>../escape</name></domaincheckpoint>',
      "invalid value '../escape' in element 'name'",
    ],
    [
      '<domaincheckpoint><name>.hidden</name></domaincheckpoint>',
      "invalid value '.hidden' in element 'name'",
    ],
    ['<domaincheckpoint><name>a/b</name></domaincheckpoint>', "invalid value 'a/b' in element 'name'"],
    [
      '<domaincheckpoint><disks><disk/></disks></domaincheckpoint>',
      "missing attribute 'name' in element 'disk'",
    ],
    ['<domaincheckpoint><disks/></domaincheckpoint>', "missing element 'disk' in 'disks'"],
    [
      "<domaincheckpoint><disks><disk name='vda' checkpoint='maybe'/></disks></domaincheckpoint>",
      "invalid value 'maybe' for attribute 'checkpoint' of element 'disk'",
    ],
    [
      "<domaincheckpoint><disks><disk name='vda' checkpoint='no' bitmap='x'/></disks></domaincheckpoint>",
      "checkpoint='no' does not allow 'bitmap' or 'size'",
    ],
    [
      "<domaincheckpoint><disks><disk name='vda' size='1k'/></disks></domaincheckpoint>",
      "invalid value '1k' for attribute 'size' of element 'disk'",
    ],
    [
      '<domaincheckpoint><creationTime>-1</creationTime></domaincheckpoint>',
      "invalid value '-1' in element 'creationTime'",
    ],
    [
      '<domaincheckpoint><active>1</active></domaincheckpoint>',
      "element 'active' is not allowed in 'domaincheckpoint'",
    ],
    [
      '<domaincheckpoint><domain><uuid>x</uuid></domain></domaincheckpoint>',
      "element 'domain' lacks the 'type' attribute",
    ],
  ])('always validates the schema: %j', (xml, detail) => {
    const err = expectError(
      () => parseCheckpointXml(xml),
      'XML_INVALID_SCHEMA',
      expect.stringContaining(
        `unable to validate doc against domaincheckpoint.rng: ${detail} (line 1, column `,
      ) as never,
    );
    expect(err.details.line).toBe(1);
  });
});

describe('formatCheckpointXml', () => {
  const def: CheckpointDef = {
    name: 'c1',
    description: `a "quoted" & 'odd' <desc>`,
    parent: 'c0',
    creationTime: 1700000000,
    disks: [
      { name: 'vda', checkpoint: 'bitmap', bitmap: 'c1', size: 1048576 },
      { name: 'vdb', checkpoint: 'no', size: 5 },
    ],
    domain: parseDomainXml(
      "<domain type='kvm'><name>vm</name><devices><graphics type='spice' passwd='x'/></devices></domain>",
    ),
  };

  it('prints the fixed order, size only on request and only for bitmaps', () => {
    expect(formatCheckpointXml(def, { size: true, noDomain: true })).toBe(
      [
        '<domaincheckpoint>',
        '  <name>c1</name>',
        '  <description>a &quot;quoted&quot; &amp; &apos;odd&apos; &lt;desc&gt;</description>',
        '  <parent>',
        '    <name>c0</name>',
        '  </parent>',
        '  <creationTime>1700000000</creationTime>',
        '  <disks>',
        "    <disk name='vda' checkpoint='bitmap' bitmap='c1' size='1048576'/>",
        "    <disk name='vdb' checkpoint='no'/>",
        '  </disks>',
        '</domaincheckpoint>',
        '',
      ].join('\n'),
    );
    expect(formatCheckpointXml(def, { noDomain: true })).not.toContain('size=');
  });

  it('prints the domain unless noDomain, with secrets only when secure', () => {
    expect(formatCheckpointXml(def)).toContain(
      "  <domain type='kvm'>\n    <name>vm</name>\n    <devices>\n      <graphics type='spice'/>",
    );
    expect(formatCheckpointXml(def, { secure: true })).toContain("<graphics type='spice' passwd='x'/>");
    expect(formatCheckpointXml({ name: 'x' }, { domainUuid: 'c7a5fdbd-edaf-9455-926a-d65c16db1809' })).toBe(
      '<domaincheckpoint>\n  <name>x</name>\n</domaincheckpoint>\n',
    );
  });

  it('round-trips a redefinition', () => {
    const xml = formatCheckpointXml(def);
    expect(formatCheckpointXml(parseCheckpointXml(xml, { redefine: true }))).toBe(xml);
  });
});

describe('alignCheckpointDisks', () => {
  it('gives every writable disk a bitmap when no disks are listed', () => {
    expect(alignCheckpointDisks({ name: 'c1' }, DOMAIN).disks).toEqual([
      { name: 'vda', checkpoint: 'bitmap', bitmap: 'c1' },
      { name: 'vdb', checkpoint: 'bitmap', bitmap: 'c1' },
      { name: 'vdc', checkpoint: 'no' },
      { name: 'hdc', checkpoint: 'no' },
    ]);
  });

  it('gives unlisted disks no bitmap when disks are listed, and maps paths to targets', () => {
    const def = alignCheckpointDisks({ name: 'c1', disks: [{ name: '/i/b.qcow2', bitmap: 'own' }] }, DOMAIN);
    expect(def.disks).toEqual([
      { name: 'vda', checkpoint: 'no' },
      { name: 'vdb', checkpoint: 'bitmap', bitmap: 'own' },
      { name: 'vdc', checkpoint: 'no' },
      { name: 'hdc', checkpoint: 'no' },
    ]);
    expect(def.domain).toBeUndefined();
  });

  it.each<[string, CheckpointDef, string]>([
    [
      'too many disks',
      { disks: ['vda', 'vdb', 'vdc', 'hdc', 'vde'].map((name) => ({ name })) },
      'too many disk checkpoint requests for domain',
    ],
    ['an unknown disk', { disks: [{ name: 'vdz' }] }, "no disk named 'vdz'"],
    [
      'a disk twice',
      { disks: [{ name: 'vda' }, { name: '/i/a.qcow2' }] },
      "disk '/i/a.qcow2' specified twice",
    ],
    [
      'a bitmap on a read-only disk',
      { disks: [{ name: 'vdc', checkpoint: 'bitmap' }] },
      "disk 'vdc' is empty or readonly",
    ],
    ['a bitmap on an empty drive', { disks: [{ name: 'hdc' }] }, "disk 'hdc' is empty or readonly"],
  ])('refuses %s', (_what, def, message) => {
    expectError(() => alignCheckpointDisks({ name: 'c', ...def }, DOMAIN), 'CONFIG_UNSUPPORTED', message);
  });

  it("lists disks in libvirt's order, not as written", () => {
    const written = parseDomainXml(
      "<domain type='kvm'><name>vm</name><devices>" +
        ['hdc', 'vdb', 'hda', 'vda']
          .map((t) => `<disk type='file'><source file='/i/${t}'/><target dev='${t}'/></disk>`)
          .join('') +
        '</devices></domain>',
    );
    expect(alignCheckpointDisks({ name: 'c1' }, written).disks?.map((d) => d.name)).toEqual([
      'hda',
      'hdc',
      'vda',
      'vdb',
    ]);
  });

  it('gives a vhost-user disk a bitmap (its snapshot mode does not matter)', () => {
    const vhost = parseDomainXml(
      "<domain type='kvm'><name>vm</name><devices><disk type='vhostuser'><source type='unix' path='/s'/>" +
        "<target dev='vda' bus='virtio'/></disk></devices></domain>",
    );
    expect(alignCheckpointDisks({ name: 'c1' }, vhost).disks).toEqual([
      { name: 'vda', checkpoint: 'bitmap', bitmap: 'c1' },
    ]);
  });

  it('refuses a domain without disks', () => {
    expectError(
      () =>
        alignCheckpointDisks({ name: 'c' }, parseDomainXml("<domain type='kvm'><name>vm</name></domain>")),
      'CONFIG_UNSUPPORTED',
      'domain must have at least one disk to perform checkpoints',
    );
  });

  it('defaultCheckpointBitmapNames fills only missing bitmap names', () => {
    const def = defaultCheckpointBitmapNames({
      name: 'c9',
      disks: [{ name: 'vda' }, { name: 'vdb', checkpoint: 'no' }, { name: 'vdc', bitmap: 'keep' }],
    });
    expect(def.disks).toEqual([
      { name: 'vda', bitmap: 'c9' },
      { name: 'vdb', checkpoint: 'no' },
      { name: 'vdc', bitmap: 'keep' },
    ]);
  });
});
