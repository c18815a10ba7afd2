import { connect, type Domain } from 'virtkit';
import { describe, expect, it } from 'vitest';
import { codeOf, MALFORMED, domainXml, openWorld, outcome, snapXml } from './test-helpers.js';

const TEST_UUID = '6695eb01-f6a4-8304-79aa-97f2502e193f';
const A_UUID = '11111111-2222-3333-4444-555555555555';
const B_UUID = '11111111-2222-3333-4444-666666666666';

// What libvirt 9.0 prints for `virsh -c test:///default dumpxml test` (without the id line).
const LIBVIRT_TEST_XML_BODY = `  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default'/>
      <target dev='testnet0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </memballoon>
  </devices>
</domain>
`;

async function runtimeId(domain: Domain): Promise<string | undefined> {
  return /<domain type='test' id='(\d+)'>/.exec(await domain.getXml())?.[1];
}

describe('test:///default', () => {
  it('holds libvirt default domain, running and persistent', async () => {
    await using w = await openWorld();
    const domains = await w.conn.listDomains();
    expect(domains.map((d) => [d.name, d.uuid])).toEqual([['test', TEST_UUID]]);
    expect(await w.domain.getState()).toEqual({ state: 'running', reason: 'UNKNOWN' });
    expect(await w.domain.isPersistent()).toBe(true);
    expect(await w.domain.isActive()).toBe(true);
    expect(await w.domain.getXml()).toBe(`<domain type='test' id='1'>\n${LIBVIRT_TEST_XML_BODY}`);
    expect(await w.domain.getXml({ inactive: true })).toBe(`<domain type='test'>\n${LIBVIRT_TEST_XML_BODY}`);
    expect(await w.domain.getXml({ secure: true, migratable: true, updateCpu: true })).toContain("id='1'");
  });

  it('starts fresh for every connection', async () => {
    await using a = await openWorld();
    await a.domain.createSnapshot(snapXml('s1'));
    await a.domain.destroy();
    await using b = await openWorld();
    expect(await b.domain.listSnapshots()).toEqual([]);
    expect(await b.domain.getState()).toEqual({ state: 'running', reason: 'UNKNOWN' });
    expect(await runtimeId(b.domain)).toBe('1');
    expect(await a.domain.isActive()).toBe(false);
  });

  it('refuses a URI without path, a remote host and unknown driver options', async () => {
    expect(await outcome(connect('test:///'))).toBe(
      'INVALID_ARG: testOpen: supply a path or use test:///default',
    );
    expect(await codeOf(connect('test://host/default'))).toBe('NO_CONNECT');
    // @ts-expect-error -- an unknown driver option is a compile error too
    expect(await codeOf(connect('test:///default', { driverOptions: { nope: 1 } }))).toBe('INVALID_ARG');
    expect(await codeOf(connect('test:///default', { driverOptions: { backupDurationMs: -1 } }))).toBe(
      'INVALID_ARG',
    );
  });
});

describe('lookups', () => {
  it('finds domains by name and uuid and refuses unknown ones', async () => {
    await using w = await openWorld();
    expect((await w.conn.lookupDomainByName('test')).uuid).toBe(TEST_UUID);
    expect((await w.conn.lookupDomainByUuid(TEST_UUID.toUpperCase())).name).toBe('test');
    expect(await outcome(w.conn.lookupDomainByName('nope'))).toBe(
      "NO_DOMAIN: no domain with matching name 'nope'",
    );
    expect(await codeOf(w.conn.lookupDomainByUuid(A_UUID))).toBe('NO_DOMAIN');
  });

  it('answers NO_DOMAIN through a handle whose domain is gone', async () => {
    await using w = await openWorld();
    const a = await w.conn.defineDomain(domainXml('a', A_UUID));
    await a.undefine();
    expect(await codeOf(a.getState())).toBe('NO_DOMAIN');
    expect(await codeOf(a.start())).toBe('NO_DOMAIN');
  });
});

describe('lifecycle', () => {
  it('moves through libvirt states with libvirt events and fresh runtime ids', async () => {
    await using w = await openWorld();
    const d = w.domain;
    await d.suspend();
    expect(await d.getState()).toEqual({ state: 'paused', reason: 'USER' });
    await d.resume();
    expect(await d.getState()).toEqual({ state: 'running', reason: 'UNPAUSED' });
    await d.shutdown();
    expect(await d.getState()).toEqual({ state: 'shutoff', reason: 'SHUTDOWN' });
    expect(await runtimeId(d)).toBeUndefined();
    await d.start();
    expect(await d.getState()).toEqual({ state: 'running', reason: 'BOOTED' });
    expect(await runtimeId(d)).toBe('2');
    await d.destroy();
    expect(await d.getState()).toEqual({ state: 'shutoff', reason: 'DESTROYED' });
    await d.start({ paused: true });
    expect(await d.getState()).toEqual({ state: 'paused', reason: 'USER' });
    expect(await runtimeId(d)).toBe('3');
    await d.shutdown();
    expect(w.events).toEqual([
      'test SUSPENDED/PAUSED',
      'test RESUMED/UNPAUSED',
      'test STOPPED/SHUTDOWN',
      'test STARTED/BOOTED',
      'test STOPPED/DESTROYED',
      'test STARTED/BOOTED',
      'test SUSPENDED/PAUSED',
      'test STOPPED/SHUTDOWN',
    ]);
  });

  it('refuses transitions from the wrong state and changes nothing', async () => {
    await using w = await openWorld();
    const d = w.domain;
    expect(await outcome(d.start())).toBe('OPERATION_INVALID: domain is already running');
    expect(await outcome(d.resume())).toBe('OPERATION_INVALID: domain is not paused');
    await d.suspend();
    expect(await outcome(d.suspend())).toBe('OPERATION_INVALID: domain is not running');
    await d.destroy();
    w.events.length = 0;
    for (const call of [() => d.shutdown(), () => d.destroy(), () => d.suspend(), () => d.resume()]) {
      expect(await codeOf(call())).toBe('OPERATION_INVALID');
    }
    expect(await outcome(d.start({ autodestroy: true }))).toBe(
      'INVALID_ARG: unsupported flags (autodestroy) in function start',
    );
    expect(await d.getState()).toEqual({ state: 'shutoff', reason: 'DESTROYED' });
    expect(w.events).toEqual([]);
  });

  it('keeps a domain whose on_poweroff is restart running after shutdown', async () => {
    await using w = await openWorld();
    const d = await w.conn.createDomain(domainXml('r', A_UUID, '\n  <on_poweroff>restart</on_poweroff>'));
    w.events.length = 0;
    await d.shutdown();
    expect(await d.getState()).toEqual({ state: 'running', reason: 'BOOTED' });
    expect(w.events).toEqual([]);
    // it never shuts off by itself: waiting for it fails at once, and it keeps running
    expect(await outcome(d.shutdown({ waitMs: 5000 }))).toBe(
      "OPERATION_TIMEOUT: domain 'r' did not shut down within 5000 ms (the guest ignored the ACPI power button?)",
    );
    expect(await d.getState()).toEqual({ state: 'running', reason: 'BOOTED' });
  });

  it('shutdown({ waitMs }) returns shut off; bad options are INVALID_ARG before anything changes', async () => {
    await using w = await openWorld();
    const d = w.domain;
    expect(await outcome(d.shutdown({ waitMs: Number.NaN }))).toBe(
      "INVALID_ARG: invalid value for option 'waitMs' in function shutdown",
    );
    expect(await outcome(d.shutdown({ force: true } as never))).toBe(
      'INVALID_ARG: unsupported flags (force) in function shutdown',
    );
    expect(await d.getState()).toEqual({ state: 'running', reason: 'UNKNOWN' });
    await d.shutdown({ waitMs: 0 });
    expect(await d.getState()).toEqual({ state: 'shutoff', reason: 'SHUTDOWN' });
    expect(w.events).toEqual(['test STOPPED/SHUTDOWN']);
  });
});

describe('define and create', () => {
  it('defines, redefines and refuses clashes like libvirt', async () => {
    await using w = await openWorld();
    const a = await w.conn.defineDomain(domainXml('a', A_UUID));
    expect(await a.getState()).toEqual({ state: 'shutoff', reason: 'UNKNOWN' });
    expect(await a.isPersistent()).toBe(true);
    await w.conn.defineDomain(domainXml('a', A_UUID, '\n  <description>v2</description>'));
    expect(await a.getXml()).toContain('<description>v2</description>');
    expect(await outcome(w.conn.defineDomain(domainXml('a', B_UUID)))).toBe(
      `OPERATION_FAILED: domain 'a' already exists with uuid ${A_UUID}`,
    );
    expect(await outcome(w.conn.defineDomain(domainXml('other', TEST_UUID)))).toBe(
      `OPERATION_FAILED: domain 'test' is already defined with uuid ${TEST_UUID}`,
    );
    expect(await codeOf(w.conn.defineDomain('<domain'))).toMatch(MALFORMED);
    expect(await codeOf(w.conn.defineDomain(domainXml('v', B_UUID), { validate: true }))).toBe('ok');
    expect(w.events).toEqual(['a DEFINED/ADDED', 'a DEFINED/UPDATED', 'v DEFINED/ADDED']);
    expect((await w.conn.listDomains()).map((d) => d.name).sort()).toEqual(['a', 'test', 'v']);
  });

  it('refuses two disks with one target on define and create, like libvirt', async () => {
    await using w = await openWorld();
    const twice = domainXml('d', A_UUID).replace(
      '</devices>',
      "<disk type='file'><source file='/img/other.qcow2'/><target dev='vda' bus='virtio'/></disk></devices>",
    );
    const message =
      "XML_ERROR: target 'vda' duplicated for disk sources '/img/d.qcow2' and '/img/other.qcow2'";
    expect(await outcome(w.conn.defineDomain(twice))).toBe(message);
    expect(await outcome(w.conn.createDomain(twice))).toBe(message);
    expect((await w.conn.listDomains()).map((d) => d.name)).toEqual(['test']);
    expect(w.events).toEqual([]);
  });

  it('generates a uuid when the XML has none and drops a runtime id', async () => {
    await using w = await openWorld();
    const xml = domainXml('n', A_UUID)
      .replace(`<uuid>${A_UUID}</uuid>`, '')
      .replace("type='test'", "type='test' id='7'");
    const d = await w.conn.defineDomain(xml);
    expect(d.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await d.getXml()).toContain(`<uuid>${d.uuid}</uuid>`);
    expect(await d.getXml()).toMatch(/^<domain type='test'>/);
  });

  it('keeps the live definition of a running domain until it stops', async () => {
    await using w = await openWorld();
    const xml = (await w.domain.getXml({ inactive: true })).replace(
      "<vcpu placement='static'>2</vcpu>",
      '<vcpu>4</vcpu>',
    );
    await w.conn.defineDomain(xml);
    expect(await w.domain.getXml()).toContain("<vcpu placement='static'>2</vcpu>");
    expect(await w.domain.getXml({ inactive: true })).toContain('<vcpu>4</vcpu>');
    await w.domain.destroy();
    expect(await w.domain.getXml()).toContain('<vcpu>4</vcpu>');
    expect(w.events).toEqual(['test DEFINED/UPDATED', 'test STOPPED/DESTROYED']);
  });

  it('creates transient domains that vanish with their metadata when they stop', async () => {
    await using w = await openWorld();
    const t = await w.conn.createDomain(domainXml('t', A_UUID));
    expect(await t.isPersistent()).toBe(false);
    expect(await runtimeId(t)).toBe('2');
    await t.createSnapshot(snapXml('s1'));
    expect(await outcome(w.conn.createDomain(domainXml('t', A_UUID)))).toBe(
      "OPERATION_INVALID: domain 't' is already active",
    );
    await t.destroy();
    expect(await codeOf(w.conn.lookupDomainByName('t'))).toBe('NO_DOMAIN');
    const again = await w.conn.createDomain(domainXml('t', A_UUID), { paused: true });
    expect(await again.listSnapshots()).toEqual([]);
    expect(await again.getState()).toEqual({ state: 'paused', reason: 'USER' });
    expect(w.events).toEqual([
      't STARTED/BOOTED',
      't STOPPED/DESTROYED',
      't STARTED/BOOTED',
      't SUSPENDED/PAUSED',
    ]);
  });

  it('starts an inactive persistent domain from createDomain with the given definition', async () => {
    await using w = await openWorld();
    const a = await w.conn.defineDomain(domainXml('a', A_UUID));
    await w.conn.createDomain(domainXml('a', A_UUID, '\n  <description>live</description>'));
    expect(await a.getXml()).toContain('live');
    expect(await a.getXml({ inactive: true })).not.toContain('live');
    await a.destroy();
    expect(await a.getXml()).not.toContain('live');
    expect(await a.isPersistent()).toBe(true);
  });

  it('makes a running transient domain persistent on define', async () => {
    await using w = await openWorld();
    const t = await w.conn.createDomain(domainXml('t', A_UUID));
    await w.conn.defineDomain(domainXml('t', A_UUID));
    expect(await t.isPersistent()).toBe(true);
    await t.destroy();
    expect(await t.getState()).toEqual({ state: 'shutoff', reason: 'DESTROYED' });
    expect(w.events).toEqual(['t STARTED/BOOTED', 't DEFINED/ADDED', 't STOPPED/DESTROYED']);
  });
});

describe('undefine', () => {
  it('removes an inactive domain only when its metadata may go', async () => {
    await using w = await openWorld();
    const d = w.domain;
    await d.createSnapshot(snapXml('s1'));
    await d.createCheckpoint('<domaincheckpoint><name>c1</name></domaincheckpoint>');
    await d.createCheckpoint('<domaincheckpoint><name>c2</name></domaincheckpoint>');
    await d.destroy();
    w.events.length = 0;
    expect(await outcome(d.undefine())).toBe(
      'OPERATION_INVALID: cannot delete inactive domain with 1 snapshots',
    );
    expect(await outcome(d.undefine({ snapshotsMetadata: true }))).toBe(
      'OPERATION_INVALID: cannot delete inactive domain with 2 checkpoints',
    );
    expect(await outcome(d.undefine({ nvram: true }))).toBe(
      'INVALID_ARG: unsupported flags (nvram) in function undefine',
    );
    expect((await d.listSnapshots()).length).toBe(1);
    expect(w.events).toEqual([]);
    await d.undefine({ snapshotsMetadata: true, checkpointsMetadata: true });
    expect(w.events).toEqual(['test UNDEFINED/REMOVED']);
    expect(await w.conn.listDomains()).toEqual([]);
  });

  it('turns an active domain transient; its metadata goes when it stops', async () => {
    await using w = await openWorld();
    const d = w.domain;
    await d.createSnapshot(snapXml('s1'));
    await d.undefine();
    expect(await d.isPersistent()).toBe(false);
    expect((await d.listSnapshots()).map((s) => s.name)).toEqual(['s1']);
    expect(await outcome(d.undefine())).toBe('OPERATION_INVALID: cannot undefine transient domain');
    await d.shutdown();
    expect(await w.conn.listDomains()).toEqual([]);
    expect(w.events).toEqual(['test UNDEFINED/REMOVED', 'test STOPPED/SHUTDOWN']);
  });
  it('reports UPDATED when a running domain is defined again after undefine, like libvirt', async () => {
    await using w = await openWorld();
    const xml = await w.domain.getXml({ inactive: true });
    await w.domain.undefine();
    await w.conn.defineDomain(xml);
    expect(await w.domain.isPersistent()).toBe(true);
    const t = await w.conn.createDomain(domainXml('t', A_UUID));
    await w.conn.defineDomain(domainXml('t', A_UUID));
    await t.undefine();
    await w.conn.defineDomain(domainXml('t', A_UUID));
    expect(w.events).toEqual([
      'test UNDEFINED/REMOVED',
      'test DEFINED/UPDATED',
      't STARTED/BOOTED',
      't DEFINED/ADDED',
      't UNDEFINED/REMOVED',
      't DEFINED/UPDATED',
    ]);
  });
});

describe('listDomains filters', () => {
  it('applies each group as libvirt does: any key of a group, all groups together', async () => {
    await using w = await openWorld();
    await w.conn.defineDomain(domainXml('a', A_UUID));
    const p = await w.conn.createDomain(domainXml('p', B_UUID), { paused: true });
    await p.createCheckpoint();
    await w.domain.createSnapshot(snapXml('s1'));
    const names = async (o: Parameters<typeof w.conn.listDomains>[0]) =>
      (await w.conn.listDomains(o)).map((d) => d.name).sort();
    expect(await names({})).toEqual(['a', 'p', 'test']);
    expect(await names({ active: true })).toEqual(['p', 'test']);
    expect(await names({ inactive: true })).toEqual(['a']);
    expect(await names({ active: true, inactive: true })).toEqual(['a', 'p', 'test']);
    expect(await names({ persistent: true })).toEqual(['a', 'test']);
    expect(await names({ transient: true })).toEqual(['p']);
    expect(await names({ running: true })).toEqual(['test']);
    expect(await names({ paused: true, shutoff: true })).toEqual(['a', 'p']);
    expect(await names({ other: true })).toEqual([]);
    expect(await names({ hasSnapshot: true })).toEqual(['test']);
    expect(await names({ noSnapshot: true })).toEqual(['a', 'p']);
    expect(await names({ hasCheckpoint: true })).toEqual(['p']);
    expect(await names({ noCheckpoint: true, active: true })).toEqual(['test']);
    expect(await names({ persistent: true, active: true, noSnapshot: true })).toEqual([]);
  });
});
