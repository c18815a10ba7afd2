import { describe, expect, it } from 'vitest';
import { VirtError } from '../errors.js';
import {
  domainDefFromElement,
  findDiskByName,
  formatDomainXml,
  isDiskEmpty,
  parseDomainXml,
  renameDomainDef,
  updateDomainDisk,
} from './domain-xml.js';
import { parseXml } from './xml/reader.js';

const DOMAIN = `<domain type='kvm'>
  <name>vm1</name>
  <uuid>C7A5FDBD-EDAF-9455-926A-D65C16DB1809</uuid>
  <devices>
    <disk type='file' device='disk' snapshot='external'>
      <driver name='qemu' type='qcow2'/>
      <source file='/img/vm1.qcow2'/>
      <backingStore type='file'>
        <format type='raw'/>
        <source file='/img/base.raw'/>
      </backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='block' device='disk'>
      <source dev='/dev/sdb'/>
      <target dev='sdb' bus='scsi'/>
      <readonly/>
    </disk>
    <disk type='file' device='cdrom'>
      <target dev='hdc' bus='ide'/>
    </disk>
    <disk type='network' device='disk'>
      <source protocol='rbd' name='pool/img'/>
      <target dev='vdc'/>
    </disk>
    <graphics type='vnc' port='-1' passwd='s3cret'/>
  </devices>
</domain>
`;

/** DOMAIN as libvirt prints it back: uuid in lower case. */
const PRINTED = DOMAIN.replace(
  'C7A5FDBD-EDAF-9455-926A-D65C16DB1809',
  'c7a5fdbd-edaf-9455-926a-d65c16db1809',
);

function thrown(fn: () => unknown): VirtError {
  try {
    fn();
  } catch (err) {
    if (err instanceof VirtError) return err;
    throw err;
  }
  throw new Error('expected a VirtError');
}

describe('parseDomainXml', () => {
  it('reads type, name, normalised uuid and disks', () => {
    const def = parseDomainXml(DOMAIN);
    expect(def.type).toBe('kvm');
    expect(def.name).toBe('vm1');
    expect(def.uuid).toBe('c7a5fdbd-edaf-9455-926a-d65c16db1809');
    expect(def.disks).toEqual([
      {
        target: 'vda',
        bus: 'virtio',
        type: 'file',
        device: 'disk',
        format: 'qcow2',
        source: '/img/vm1.qcow2',
        snapshot: 'external',
        readonly: false,
      },
      {
        target: 'sdb',
        bus: 'scsi',
        type: 'block',
        device: 'disk',
        format: undefined,
        source: '/dev/sdb',
        snapshot: 'no',
        readonly: true,
      },
      {
        target: 'hdc',
        bus: 'ide',
        type: 'file',
        device: 'cdrom',
        format: undefined,
        source: undefined,
        snapshot: 'no',
        readonly: true,
      },
      {
        target: 'vdc',
        bus: undefined,
        type: 'network',
        device: 'disk',
        format: undefined,
        source: undefined,
        snapshot: undefined,
        readonly: false,
      },
    ]);
  });

  it('defaults disk type to file and device to disk, and treats an empty path as no media', () => {
    const def = parseDomainXml(
      "<domain type='qemu'><name>d</name><devices><disk><source file=''/><target dev='vda'/></disk></devices></domain>",
    );
    expect(def.uuid).toBe('');
    expect(def.disks[0]).toMatchObject({ type: 'file', device: 'disk', source: undefined });
    expect(isDiskEmpty(def.disks[0] ?? fail())).toBe(true);
  });

  it.each([
    ['0123456789abcdef0123456789ABCDEF', '01234567-89ab-cdef-0123-456789abcdef'],
    [' 01-23-45-67-89ab cdef0123456789abcdef\n', '01234567-89ab-cdef-0123-456789abcdef'],
  ])('accepts the uuid %j', (text, uuid) => {
    expect(parseDomainXml(`<domain type='qemu'><name>d</name><uuid>${text}</uuid></domain>`).uuid).toBe(uuid);
  });

  it.each([
    ["<domain type='qemu'><name>d</name><uuid>0123-not-a-uuid</uuid></domain>", 'malformed uuid element'],
    [
      "<domain type='qemu'><name>d</name><uuid>0123456789abcdef0123456789abcdef00</uuid></domain>",
      'malformed uuid element',
    ],
    ['<domain><name>d</name></domain>', "missing required attribute 'type' in element 'domain'"],
    [
      "<domain type='qemu'><uuid>0123456789abcdef0123456789abcdef</uuid></domain>",
      'missing name information in domain definition',
    ],
    [
      "<domain type='qemu'><name>d</name><devices><disk><source file='/a'/></disk></devices></domain>",
      "missing target information for device '/a'",
    ],
    [
      "<domain type='qemu'><name>d</name><devices><disk snapshot='default'><target dev='vda'/></disk></devices></domain>",
      "Invalid value for attribute 'snapshot' in element 'disk': 'default'.",
    ],
    ['<domainsnapshot/>', "expecting root element of 'domain', not 'domainsnapshot'"],
  ])('rejects %j', (xml, message) => {
    const err = thrown(() => parseDomainXml(xml));
    expect(err.code).toBe('XML_ERROR');
    expect(err.message).toBe(message);
    expect(err.details.line).toBe(1);
  });

  it('accepts <inactiveDomain> through domainDefFromElement and prints it as <domain>', () => {
    const el = parseXml("<inactiveDomain type='kvm' id='4'><name>x</name></inactiveDomain>");
    const def = domainDefFromElement(el);
    expect(def.name).toBe('x');
    expect(formatDomainXml(def)).toBe("<domain type='kvm' id='4'>\n  <name>x</name>\n</domain>\n");
  });

  it('drops metadata entries without a namespace or with a repeated one, like libvirt', () => {
    const def = parseDomainXml(
      `<domain type='kvm' xmlns:top='urn:top'><name>d</name><metadata>` +
        `<a:x xmlns:a='urn:a'/><plain/><b:y xmlns:b='urn:a'/><top:z/><c:w xmlns:c='urn:c'/>` +
        `</metadata></domain>`,
    );
    expect(formatDomainXml(def)).toContain(
      '  <metadata>\n    <a:x xmlns:a="urn:a"/>\n    <top:z/>\n    <c:w xmlns:c="urn:c"/>\n  </metadata>\n',
    );
  });
});

describe('formatDomainXml', () => {
  it('gives back the document with a normalised uuid and drops graphics passwords unless secure', () => {
    const def = parseDomainXml(DOMAIN);
    expect(formatDomainXml(def, { secure: true })).toBe(PRINTED);
    expect(formatDomainXml(def)).toBe(PRINTED.replace(" passwd='s3cret'", ''));
  });
});

describe('updateDomainDisk', () => {
  it('changes source and format, drops the stale backing chain and keeps the rest', () => {
    const def = parseDomainXml(DOMAIN);
    const next = updateDomainDisk(def, 'vda', { source: '/img/vm1.snap1', format: 'qcow2' });
    expect(next.disks[0]).toMatchObject({ source: '/img/vm1.snap1', format: 'qcow2' });
    const xml = formatDomainXml(next, { secure: true });
    expect(xml).toContain(
      "    <disk type='file' device='disk' snapshot='external'>\n" +
        "      <driver name='qemu' type='qcow2'/>\n" +
        "      <source file='/img/vm1.snap1'/>\n" +
        "      <target dev='vda' bus='virtio'/>\n" +
        '    </disk>\n',
    );
    expect(formatDomainXml(def, { secure: true })).toBe(PRINTED);
  });

  it('switches a block disk to a file overlay and adds missing source and driver elements', () => {
    const def = parseDomainXml(DOMAIN);
    const block = updateDomainDisk(def, 'sdb', { type: 'file', source: '/img/sdb.snap', format: 'qcow2' });
    expect(block.disks[1]).toMatchObject({
      type: 'file',
      source: '/img/sdb.snap',
      format: 'qcow2',
      readonly: true,
    });
    expect(formatDomainXml(block)).toContain(
      "    <disk type='file' device='disk'>\n      <driver type='qcow2'/>\n      <source file='/img/sdb.snap'/>\n",
    );
    const cdrom = updateDomainDisk(def, 'hdc', { source: '/iso/new.iso' });
    expect(formatDomainXml(cdrom)).toContain(
      "<source file='/iso/new.iso'/>\n      <target dev='hdc' bus='ide'/>",
    );
  });

  it('refuses an unknown target', () => {
    const err = thrown(() => updateDomainDisk(parseDomainXml(DOMAIN), 'vdz', { source: '/x' }));
    expect([err.code, err.message]).toEqual(['INVALID_ARG', "no disk named 'vdz'"]);
  });
});

describe('renameDomainDef and findDiskByName', () => {
  it('renames in the definition and in the element tree', () => {
    const renamed = renameDomainDef(parseDomainXml(DOMAIN), 'vm2');
    expect(renamed.name).toBe('vm2');
    expect(formatDomainXml(renamed)).toContain('  <name>vm2</name>\n');
  });

  it('finds a disk by target or by unique source path', () => {
    const def = parseDomainXml(DOMAIN);
    expect(findDiskByName(def, 'sdb')?.target).toBe('sdb');
    expect(findDiskByName(def, '/img/vm1.qcow2')?.target).toBe('vda');
    expect(findDiskByName(def, '/nope')).toBeUndefined();
    const twice = parseDomainXml(
      "<domain type='qemu'><name>d</name><devices>" +
        "<disk><source file='/a'/><target dev='vda'/></disk><disk><source file='/a'/><target dev='vdb'/></disk>" +
        '</devices></domain>',
    );
    expect(findDiskByName(twice, '/a')).toBeUndefined();
  });
});

function fail(): never {
  throw new Error('unexpected undefined');
}
