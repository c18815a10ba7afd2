import { describe, expect, it } from 'vitest';
import { VirtError, type ErrorCode } from '../errors.js';
import type { BackupDef } from './backup-def.js';
import { alignBackupDisks, formatBackupXml, parseBackupXml } from './backup-xml.js';
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
  <devices>
    <disk type='file' device='disk'><source file='/i/a.qcow2'/><target dev='vda'/></disk>
    <disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='sdb'/></disk>
    <disk type='file' device='disk'><source file='/i/ro.img'/><target dev='vdc'/><readonly/></disk>
    <disk type='file' device='cdrom'><target dev='hdc'/></disk>
  </devices>
</domain>`);

describe('parseBackupXml', () => {
  it('names the expected root element', () => {
    expectError(
      () => parseBackupXml('<domaincheckpoint/>'),
      'XML_ERROR',
      "expecting root element of 'domainbackup', not 'domaincheckpoint'",
    );
  });

  it('reads a pull backup with libvirt defaults', () => {
    const def = parseBackupXml(`<domainbackup mode='pull'>
      <incremental>c1</incremental>
      <server name='localhost' port='010809' tls='yes'/>
      <disks>
        <disk name='vda' exportname='e' exportbitmap='b' backupmode='incremental' incremental='c0'>
          <driver type='qcow2'/><scratch file='/s/vda'><seclabel model='dac' relabel='no'/></scratch>
        </disk>
        <disk name='sdb' backup='no' exportname='ignored'/>
      </disks>
    </domainbackup>`);
    expect(def).toEqual({
      mode: 'pull',
      incremental: 'c1',
      server: { transport: 'tcp', tls: 'yes', name: 'localhost', port: '10809' },
      disks: [
        {
          name: 'vda',
          backup: 'yes',
          type: 'file',
          backupmode: 'incremental',
          incremental: 'c0',
          exportname: 'e',
          exportbitmap: 'b',
          driverType: 'qcow2',
          store: {
            file: '/s/vda',
            extra: [
              expect.objectContaining({ name: 'seclabel', attributes: { model: 'dac', relabel: 'no' } }),
            ],
          },
        },
        { name: 'sdb', backup: 'no' },
      ],
    });
  });

  it.each([
    [
      "<domainbackup mode='push'><server name='h'/></domainbackup>",
      "element 'server' is not allowed in 'domainbackup'",
    ],
    ["<domainbackup mode='pull'/>", "missing element 'server' in 'domainbackup'"],
    [
      "<domainbackup mode='sideways'/>",
      "invalid value 'sideways' for attribute 'mode' of element 'domainbackup'",
    ],
    [
      "<domainbackup mode='pull'><server transport='unix' socket='rel'/></domainbackup>",
      "invalid value 'rel' for attribute 'socket' of element 'server'",
    ],
    [
      "<domainbackup><disks><disk type='file'/></disks></domainbackup>",
      "missing attribute 'name' in element 'disk'",
    ],
    [
      "<domainbackup><disks><disk name='vda' type='volume'/></disks></domainbackup>",
      "invalid value 'volume' for attribute 'type' of element 'disk'",
    ],
    [
      "<domainbackup><disks><disk name='vda' backupmode='full' incremental='c'/></disks></domainbackup>",
      "backupmode='full' does not allow 'incremental'",
    ],
    [
      "<domainbackup><disks><disk name='vda'><target file='/t'/></disk></disks></domainbackup>",
      "element 'disk' needs a 'type' attribute",
    ],
    [
      "<domainbackup mode='pull'><server name='h'/><disks><disk name='vda' type='file'><driver type='raw'/></disk></disks></domainbackup>",
      "invalid value 'raw' for attribute 'type' of element 'driver'",
    ],
    [
      "<domainbackup><disks><disk name='vda' state='running'/></disks></domainbackup>",
      "attribute 'state' is not allowed in element 'disk'",
    ],
  ])('validates the public form: %j', (xml, detail) => {
    expectError(
      () => parseBackupXml(xml),
      'XML_INVALID_SCHEMA',
      expect.stringContaining(
        `unable to validate doc against domainbackup.rng: ${detail} (line 1, column `,
      ) as never,
    );
  });

  it.each<[string, ErrorCode, string]>([
    ["<domainbackup mode='sideways'/>", 'CONFIG_UNSUPPORTED', "unknown backup mode 'sideways'"],
    [
      "<domainbackup><server name='h'/></domainbackup>",
      'CONFIG_UNSUPPORTED',
      'use of <server> requires pull mode backup',
    ],
    [
      "<domainbackup mode='pull'><server transport='rdma' name='h'/></domainbackup>",
      'CONFIG_UNSUPPORTED',
      'transport rdma is not supported for <server>',
    ],
    [
      "<domainbackup mode='pull'><server transport='unix' socket='rel'/></domainbackup>",
      'XML_ERROR',
      "backup socket path 'rel' must be absolute",
    ],
    [
      "<domainbackup mode='pull'><server transport='unix'/></domainbackup>",
      'XML_ERROR',
      'missing socket for unix transport',
    ],
    ["<domainbackup mode='pull'><server port='1'/></domainbackup>", 'XML_ERROR', 'missing name for host'],
    [
      "<domainbackup mode='pull'><server name='h' port='70000'/></domainbackup>",
      'XML_ERROR',
      "failed to parse port number '70000'",
    ],
    [
      "<domainbackup mode='pull'><server transport='fd'/></domainbackup>",
      'XML_ERROR',
      "missing 'fdgroup' for fd transport",
    ],
    [
      '<domainbackup><disks><disk/></disks></domainbackup>',
      'XML_ERROR',
      'missing name from disk backup element',
    ],
    [
      "<domainbackup><disks><disk name='vda'/></disks></domainbackup>",
      'XML_ERROR',
      "missing required attribute 'state' in element 'disk'",
    ],
    [
      "<domainbackup><disks><disk name='vda' state='done'/></disks></domainbackup>",
      'XML_ERROR',
      "Invalid value for attribute 'state' in element 'disk': 'done'.",
    ],
    [
      "<domainbackup><disks><disk name='vda' state='running' index='x'/></disks></domainbackup>",
      'XML_ERROR',
      "invalid storage source index 'x'",
    ],
    [
      "<domainbackup><disks><disk name='vda' state='running' type='dir'/></disks></domainbackup>",
      'XML_ERROR',
      "unsupported disk backup type 'dir'",
    ],
    [
      "<domainbackup><disks><disk name='vda' state='running'><driver type='qcow9'/></disk></disks></domainbackup>",
      'XML_ERROR',
      "unknown storage source format 'qcow9'",
    ],
  ])('checks the status form (internal) too: %j', (xml, code, message) => {
    expectError(() => parseBackupXml(xml, { internal: true }), code, message);
  });

  it('reads the status form: state, index and private data', () => {
    const def = parseBackupXml(
      `<domainbackup mode='pull'><server transport='unix' socket='/run/nbd.sock'/>
        <disks><disk name='vda' state='complete' index='7' type='file'><scratch file='/s/a'/></disk></disks>
        <privateData><objects><secret type='other' alias='no'/><secret type='tlskey' alias='k1'/><TLSx509 alias='o1'/></objects></privateData>
      </domainbackup>`,
      { internal: true },
    );
    expect(def).toEqual({
      mode: 'pull',
      server: { transport: 'unix', socket: '/run/nbd.sock' },
      disks: [
        { name: 'vda', backup: 'yes', state: 'complete', index: 7, type: 'file', store: { file: '/s/a' } },
      ],
      privateData: { tlsKeyAlias: 'k1', tlsObjAlias: 'o1' },
    });
  });
});

describe('formatBackupXml', () => {
  const def: BackupDef = {
    mode: 'pull',
    incremental: 'c&1',
    server: { transport: 'fd', fdgroup: 'grp' },
    disks: [
      {
        name: 'vda',
        state: 'running',
        backupmode: 'full',
        index: 3,
        driverType: 'qcow2',
        store: { file: "/s/it's" },
      },
      { name: 'vdb', backup: 'no', state: 'cancelled', backupmode: 'full' },
    ],
    privateData: { tlsObjAlias: 'obj' },
  };

  it('prints the public form', () => {
    expect(formatBackupXml(def)).toBe(
      [
        "<domainbackup mode='pull'>",
        '  <incremental>c&amp;1</incremental>',
        "  <server transport='fd' fdgroup='grp'/>",
        '  <disks>',
        "    <disk name='vda' backup='yes' type='file' backupmode='full' index='3'>",
        "      <driver type='qcow2'/>",
        "      <scratch file='/s/it&apos;s'/>",
        '    </disk>',
        "    <disk name='vdb' backup='no'/>",
        '  </disks>',
        '</domainbackup>',
        '',
      ].join('\n'),
    );
  });

  it('adds state and private data in the status form', () => {
    const xml = formatBackupXml(def, { internal: true });
    expect(xml).toContain("<disk name='vda' backup='yes' state='running' type='file'");
    expect(xml).toContain("<disk name='vdb' backup='no' state='cancelled'/>");
    expect(xml).toContain(
      "  <privateData>\n    <objects>\n      <TLSx509 alias='obj'/>\n    </objects>\n  </privateData>\n",
    );
  });

  it('prints a default push backup with mode', () => {
    expect(formatBackupXml({})).toBe("<domainbackup mode='push'/>\n");
  });
});

describe('alignBackupDisks', () => {
  it('backs up every writable disk with media when no disks are listed', () => {
    const files = parseDomainXml(`<domain type='kvm'><name>vm</name><devices>
        <disk type='file' device='disk'><source file='/i/a.qcow2'/><target dev='vda'/></disk>
        <disk type='file' device='disk'><source file='/i/b.raw'/><target dev='vdb'/></disk>
        <disk type='file' device='disk'><source file='/i/ro.img'/><target dev='vdc'/><readonly/></disk>
        <disk type='file' device='cdrom'><target dev='hdc'/></disk></devices></domain>`);
    const def = alignBackupDisks({ mode: 'push', incremental: 'c0' }, files, '1700000000');
    expect(formatBackupXml(def)).toBe(
      [
        "<domainbackup mode='push'>",
        '  <incremental>c0</incremental>',
        '  <disks>',
        "    <disk name='vda' backup='yes' type='file' backupmode='incremental' incremental='c0'>",
        "      <target file='/i/a.qcow2.1700000000'/>",
        '    </disk>',
        "    <disk name='vdb' backup='yes' type='file' backupmode='incremental' incremental='c0'>",
        "      <target file='/i/b.raw.1700000000'/>",
        '    </disk>',
        "    <disk name='vdc' backup='no'/>",
        "    <disk name='hdc' backup='no'/>",
        '  </disks>',
        '</domainbackup>',
        '',
      ].join('\n'),
    );
  });

  it('refuses to invent a file name for a block disk that is backed up by default', () => {
    const fileOnly = parseDomainXml(
      "<domain type='kvm'><name>vm</name><devices><disk type='block'><source dev='/dev/sdb'/><target dev='sdb'/></disk></devices></domain>",
    );
    expectError(
      () => alignBackupDisks({}, fileOnly, 's'),
      'CONFIG_UNSUPPORTED',
      "refusing to generate file name for disk 'sdb'",
    );
  });

  it('keeps given stores, skips unlisted disks and inherits the global checkpoint', () => {
    const def = alignBackupDisks(
      {
        mode: 'push',
        incremental: 'c1',
        disks: [
          { name: 'sdb', type: 'block', driverType: 'raw', store: { dev: '/dev/backup' } },
          { name: 'vda', backupmode: 'full', type: 'block' },
        ],
      },
      DOMAIN,
      'SFX',
    );
    expect(def.disks).toEqual([
      {
        name: 'sdb',
        type: 'block',
        driverType: 'raw',
        store: { dev: '/dev/backup' },
        backupmode: 'incremental',
        incremental: 'c1',
      },
      { name: 'vda', backupmode: 'full', type: 'file', store: { file: '/i/a.qcow2.SFX' } },
      { name: 'vdc', backup: 'no' },
      { name: 'hdc', backup: 'no' },
    ]);
  });

  it.each<[string, BackupDef, string]>([
    ['an unknown disk', { disks: [{ name: 'vdz' }] }, "no disk named 'vdz'"],
    [
      'a disk twice',
      { disks: [{ name: 'vda' }, { name: 'vda', backup: 'no' }] },
      "disk 'vda' specified twice",
    ],
    [
      'incremental without checkpoint',
      { disks: [{ name: 'vda', backupmode: 'incremental' }] },
      "'incremental' backup mode of disk 'vda' requires setting 'incremental' field for disk or backup",
    ],
    ['a disk without media', { disks: [{ name: 'hdc' }] }, "disk 'hdc' has no media"],
    [
      'a generated name for a block disk',
      { disks: [{ name: 'sdb' }] },
      "refusing to generate file name for disk 'sdb'",
    ],
  ])('refuses %s', (_what, def, message) => {
    expectError(() => alignBackupDisks(def, DOMAIN, 's'), 'CONFIG_UNSUPPORTED', message);
  });

  it('refuses a domain without disks', () => {
    expectError(
      () => alignBackupDisks({}, parseDomainXml("<domain type='kvm'><name>vm</name></domain>"), 's'),
      'CONFIG_UNSUPPORTED',
      'domain must have at least one disk to perform backup',
    );
  });
});
