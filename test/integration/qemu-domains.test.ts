import { statSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, isVirtError, type Connection, type DomainEvent } from 'virtkit';
import {
  codeOf,
  exactly,
  MALFORMED,
  domainXml,
  errorOf,
  HAVE_QEMU,
  hashTree,
  listTree,
  makeDisks,
  newWorld,
  open,
  QEMU_IMG,
  type TestDisk,
  type World,
} from './qemu-fixture.js';

describe.runIf(HAVE_QEMU)('qemu driver: connection and domains', () => {
  let world: World;
  let conn: Connection;
  let disks: TestDisk[];

  beforeEach(async () => {
    world = newWorld();
    conn = await open(world);
    disks = makeDisks(world, ['vda', 'vdb']);
  });

  afterEach(async () => {
    await conn.close();
    world.cleanup();
  });

  describe('URIs', () => {
    it('refuses embed without root, with a relative root, and unknown paths, naming the problem', async () => {
      expect((await errorOf(connect('qemu:///embed'))).message).toMatch(/needs a 'root' parameter/);
      expect((await errorOf(connect('qemu:///embed?root=rel/dir'))).message).toMatch(
        /must be an absolute path/,
      );
      expect((await errorOf(connect('qemu:///system'))).message).toMatch(
        /unsupported qemu URI path '\/system'/,
      );
      expect(await codeOf(connect('qemu:///embed'))).toBe('NO_CONNECT');
    });

    it('rejects unknown driver options', async () => {
      expect(await codeOf(connect(world.uri, { driverOptions: { bogus: 1 } }))).toBe('INVALID_ARG');
      expect(await codeOf(connect(world.uri, { driverOptions: { lockTimeoutMs: -1 } }))).toBe('INVALID_ARG');
    });

    it("has no fault-injection option, only the crash tests' internal symbol key", async () => {
      const byName = await errorOf(
        connect(world.uri, { driverOptions: { faultInjection: { killAtStep: 0 } } }),
      );
      expect(isVirtError(byName, 'INVALID_ARG')).toBe(true);
      expect(byName.message).toMatch(
        /faultInjection unknown \(known: qemuImg, qemuSystem, lockTimeoutMs, runner\)/,
      );
      const key = Symbol.for('virtkit.qemu.faultInjection');
      expect(await codeOf(connect(world.uri, { driverOptions: { [key]: { killAtStep: 1.5 } } }))).toBe(
        'INVALID_ARG',
      );
      // a step no operation reaches: accepted, and nothing is killed
      const conn = await connect(world.uri, { driverOptions: { [key]: { killAtStep: 1e6 } } });
      await conn.close();
    });

    it('refuses to connect without qemu-img, saying how to get it (NO_CONNECT)', async () => {
      const missing = join(world.dir, 'no-such-qemu-img');
      const err = await errorOf(connect(world.uri, { driverOptions: { qemuImg: missing } }));
      expect(err.code).toBe('NO_CONNECT');
      expect(err.message).toContain(
        "qemu-img not found: install Debian's qemu-utils or set driverOptions.qemuImg",
      );
      expect(err.message).toContain(missing);
      const saved = process.env['PATH'];
      process.env['PATH'] = join(world.dir, 'empty-bin');
      try {
        const onPath = await errorOf(connect(world.uri));
        expect(onPath.code).toBe('NO_CONNECT');
        expect(onPath.message).toMatch(/^qemu-img not found: .* \(looked on PATH\)$/);
      } finally {
        process.env['PATH'] = saved;
      }
    });

    it('a qemu-img that disappears after connect is named as missing (INTERNAL_ERROR), not ENOENT', async () => {
      const link = join(world.dir, 'qemu-img-link');
      symlinkSync(QEMU_IMG ?? 'qemu-img', link);
      const c = await connect(world.uri, { driverOptions: { qemuImg: link } });
      try {
        const dom = await c.defineDomain(domainXml('vm', disks));
        unlinkSync(link);
        const err = await errorOf(dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>'));
        expect(err.code).toBe('INTERNAL_ERROR');
        expect(err.message).toContain("qemu-img not found: install Debian's qemu-utils");
        expect(await dom.listSnapshots()).toEqual([]);
      } finally {
        await c.close();
      }
    });

    it('session lives under XDG_DATA_HOME/virtkit/qemu', async () => {
      const saved = process.env['XDG_DATA_HOME'];
      process.env['XDG_DATA_HOME'] = join(world.dir, 'xdg');
      try {
        const session = await connect('qemu:///session');
        await session.defineDomain(domainXml('s', disks));
        await session.close();
        expect(listTree(join(world.dir, 'xdg'))).toContain('virtkit/qemu/domains/s.xml');
      } finally {
        if (saved === undefined) delete process.env['XDG_DATA_HOME'];
        else process.env['XDG_DATA_HOME'] = saved;
      }
    });

    it('creates the root and everything in it owner-only', async () => {
      const dom = await conn.defineDomain(domainXml('vm', disks));
      await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
      for (const rel of [
        '',
        'domains',
        'snapshots',
        'snapshots/vm',
        'journal',
        'locks',
        'run',
        'checkpoints',
      ]) {
        expect(statSync(join(world.root, rel)).mode & 0o777, rel).toBe(0o700);
      }
      for (const rel of listTree(world.root))
        expect(statSync(join(world.root, rel)).mode & 0o777, rel).toBe(0o600);
    });
  });

  describe('define and lookup', () => {
    it('defines a domain, generating a uuid, and keeps it across connections and processes', async () => {
      const events: DomainEvent[] = [];
      conn.on('domain-event', (e) => events.push(e));
      const dom = await conn.defineDomain(domainXml('vm', disks));
      expect(dom.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(events.map((e) => `${e.event}/${e.detail}`)).toEqual(['DEFINED/ADDED']);
      const xml = await dom.getXml();
      expect(xml).toContain(`<uuid>${dom.uuid}</uuid>`);
      expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'UNKNOWN' });
      expect(await dom.isPersistent()).toBe(true);
      expect(await dom.isActive()).toBe(false);

      const other = await open(world);
      const again = await other.lookupDomainByName('vm');
      expect(again.uuid).toBe(dom.uuid);
      expect((await other.lookupDomainByUuid(dom.uuid.toUpperCase())).name).toBe('vm');
      expect(await again.getXml()).toBe(xml);
      await other.close();
    });

    it('updates a domain of the same name and uuid, refuses clashes', async () => {
      const dom = await conn.defineDomain(domainXml('vm', disks));
      const withUuid = domainXml('vm', disks).replace('</name>', `</name>\n  <uuid>${dom.uuid}</uuid>`);
      const events: string[] = [];
      conn.on('domain-event', (e) => events.push(`${e.event}/${e.detail}`));
      await conn.defineDomain(withUuid.replace('65536', '131072'));
      expect(await dom.getXml()).toContain('131072');
      expect(events).toEqual(['DEFINED/UPDATED']);
      const err = await errorOf(conn.defineDomain(domainXml('vm', disks)));
      expect(err.code).toBe('OPERATION_FAILED');
      expect(err.message).toBe(`domain 'vm' already exists with uuid ${dom.uuid}`);
      const err2 = await errorOf(conn.defineDomain(withUuid.replace('<name>vm</name>', '<name>vm2</name>')));
      expect(err2.message).toBe(`domain 'vm' is already defined with uuid ${dom.uuid}`);
    });

    it('lists domains with libvirt filter groups', async () => {
      await conn.defineDomain(domainXml('a', disks));
      const b = await conn.defineDomain(domainXml('b', disks));
      await b.createSnapshot('<domainsnapshot><name>s</name></domainsnapshot>');
      const names = async (o: object): Promise<string[]> =>
        (await conn.listDomains(o)).map((d) => d.name).sort();
      expect(await names({})).toEqual(['a', 'b']);
      expect(await names({ inactive: true })).toEqual(['a', 'b']);
      expect(await names({ active: true })).toEqual([]);
      expect(await names({ hasSnapshot: true })).toEqual(['b']);
      expect(await names({ noSnapshot: true })).toEqual(['a']);
      expect(await names({ running: true })).toEqual([]);
      expect(await names({ transient: true, persistent: true })).toEqual(['a', 'b']);
    });

    it('answers NO_DOMAIN for unknown and hostile names without touching the file system', async () => {
      for (const name of ['nope', '../domains/x', '.', '..', 'a/b', 'a\0b']) {
        expect(await codeOf(conn.lookupDomainByName(name)), name).toBe('NO_DOMAIN');
      }
      expect(await codeOf(conn.lookupDomainByUuid('00000000-0000-0000-0000-000000000000'))).toBe('NO_DOMAIN');
    });

    it('refuses hostile domain names, foreign types and unsupported disks, leaving the root unchanged', async () => {
      await conn.defineDomain(domainXml('keep', disks));
      const before = hashTree(world.root);
      const cases: [string, string | RegExp][] = [
        [domainXml('a/b', disks), 'XML_DETAIL'],
        [domainXml('..', disks), 'XML_DETAIL'],
        [domainXml('.hidden', disks), 'XML_DETAIL'],
        [domainXml('x'.repeat(300), disks), 'XML_DETAIL'],
        [domainXml('xen', disks).replace("type='qemu'", "type='xen'"), 'CONFIG_UNSUPPORTED'],
        [domainXml('vmdk', disks).replace("type='qcow2'", "type='vmdk'"), 'CONFIG_UNSUPPORTED'],
        [domainXml('rel', [{ target: 'vda', path: 'rel.qcow2', format: 'qcow2' }]), 'CONFIG_UNSUPPORTED'],
        [
          domainXml('blk', disks).replace("<disk type='file'", "<disk type='block'").replace('file=', 'dev='),
          'CONFIG_UNSUPPORTED',
        ],
        [domainXml('dup', [disks[0]!, { ...disks[1]!, target: 'vda' }]), 'XML_ERROR'],
        [domainXml('same', [disks[0]!, { ...disks[0]!, target: 'vdb' }]), 'CONFIG_UNSUPPORTED'],
        ['<domain type="qemu"><name>broken', MALFORMED],
        ['<notadomain/>', 'XML_ERROR'],
      ];
      for (const [xml, code] of cases)
        expect(await codeOf(conn.defineDomain(xml)), xml.slice(0, 60)).toMatch(exactly(code));
      expect(hashTree(world.root)).toEqual(before);
    });

    it("refuses two disks with one target with libvirt's message", async () => {
      const err = await errorOf(
        conn.defineDomain(domainXml('dup', [disks[1]!, { ...disks[0]!, target: 'vdb' }])),
      );
      expect([err.code, err.message]).toEqual([
        'XML_ERROR',
        `target 'vdb' duplicated for disk sources '${disks[1]!.path}' and '${disks[0]!.path}'`,
      ]);
    });

    it('treats a disk without format as raw, as libvirt does', async () => {
      const raw = makeDisks(world, ['vdc'], 'raw');
      const dom = await conn.defineDomain(domainXml('r', raw).replace(" type='raw'", ''));
      expect(await dom.getXml()).toContain("<driver name='qemu' type='raw'/>");
      expect(await codeOf(dom.createSnapshot('<domainsnapshot/>'))).toBe('CONFIG_UNSUPPORTED');
    });
  });

  describe('read-only connections', () => {
    it('read everything and change nothing', async () => {
      const dom = await conn.defineDomain(domainXml('vm', disks));
      await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
      const ro = await open(world, { readOnly: true });
      const d = await ro.lookupDomainByName('vm');
      expect((await d.listSnapshots()).map((s) => s.name)).toEqual(['s1']);
      expect(await codeOf(d.createSnapshot('<domainsnapshot><name>s2</name></domainsnapshot>'))).toBe(
        'OPERATION_DENIED',
      );
      expect(await codeOf((await d.lookupSnapshotByName('s1')).revert())).toBe('OPERATION_DENIED');
      await ro.close();
    });
  });

  describe('lifecycle of shut-off domains', () => {
    it('says the domain is not running (running domains: qemu-processes.test.ts)', async () => {
      const dom = await conn.defineDomain(domainXml('vm', disks));
      for (const op of [() => dom.shutdown(), () => dom.destroy(), () => dom.suspend(), () => dom.resume()]) {
        const err = await errorOf(op());
        expect(err.code).toBe('OPERATION_INVALID');
      }
      expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'UNKNOWN' });
      expect(await codeOf(dom.start({ autodestroy: true }))).toBe('INVALID_ARG');
    });
  });

  describe('undefine', () => {
    it("follows libvirt's metadata rules and removes every file of the domain", async () => {
      const keep = listTree(world.root);
      const dom = await conn.defineDomain(domainXml('vm', disks));
      await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>');
      await dom.createCheckpoint('<domaincheckpoint><name>c1</name></domaincheckpoint>');
      const err = await errorOf(dom.undefine());
      expect(err.code).toBe('OPERATION_INVALID');
      expect(err.message).toBe('cannot delete inactive domain with 1 snapshots');
      expect((await errorOf(dom.undefine({ snapshotsMetadata: true }))).message).toBe(
        'cannot delete inactive domain with 1 checkpoints',
      );
      const events: string[] = [];
      conn.on('domain-event', (e) => events.push(`${e.event}/${e.detail}`));
      await dom.undefine({ snapshotsMetadata: true, checkpointsMetadata: true });
      expect(events).toEqual(['UNDEFINED/REMOVED']);
      expect(await codeOf(conn.lookupDomainByName('vm'))).toBe('NO_DOMAIN');
      expect(await codeOf(dom.getXml())).toBe('NO_DOMAIN');
      expect(listTree(world.root)).toEqual(keep);
      // images are left alone: the internal snapshot and the bitmap are still there
      expect(statSync(disks[0]!.path).size).toBeGreaterThan(0);
    });

    it('a handle to a redefined domain of another uuid is stale', async () => {
      const dom = await conn.defineDomain(domainXml('vm', disks));
      await dom.undefine();
      await conn.defineDomain(domainXml('vm', disks));
      expect(await codeOf(dom.getXml())).toBe('NO_DOMAIN');
    });
  });
});
