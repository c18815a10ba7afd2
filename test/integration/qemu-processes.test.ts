// Running domains of the qemu driver (guest-less, TCG): start, pause, stop and their events;
// re-attach from another process and after a SIGKILL; QEMU killed under the SDK; refusals.
// Every QEMU a test starts is killed by pid in afterEach, also when the test failed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isVirtError, type Connection, type DomainEvent } from 'virtkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findBinary } from '../helpers/binaries.js';
import { HAVE_QEMU, newWorld, domainXml, hashTree, makeDisks, open, type World } from './qemu-fixture.js';

const QEMU = HAVE_QEMU ? findBinary('qemu-system-x86_64') : undefined;
const CHILD = fileURLToPath(new URL('./qemu-process-child.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

const guestXml = (name: string, devices = '') =>
  `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>` +
  `<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>${devices}</devices></domain>`;

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (isVirtError(err)) return err.code;
    throw err;
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.runIf(QEMU !== undefined)('qemu driver: running domains (guest-less, TCG)', () => {
  let world: World;
  let conns: Connection[] = [];
  const pids = new Set<number>();
  let events: string[] = [];

  /** Records the pid of the QEMU now running for `name` (for teardown). */
  const recordPid = (name: string): number => {
    const pid = Number(readFileSync(join(world.root, 'run', name, 'pid'), 'utf8').trim());
    pids.add(pid);
    return pid;
  };
  const connection = async (): Promise<Connection> => {
    const c = await open(world);
    conns.push(c);
    c.on('domain-event', (e: DomainEvent) => events.push(`${e.domain.name}:${e.event}/${e.detail}`));
    return c;
  };

  beforeEach(() => {
    world = newWorld('vk-proc-');
    events = [];
  });

  afterEach(async () => {
    for (const c of conns) await c.close().catch(() => undefined);
    conns = [];
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    pids.clear();
    world.cleanup();
  });

  it('starts, suspends, resumes and destroys with libvirt states, events, ids and a private run dir', async () => {
    const conn = await connection();
    const dom = await conn.defineDomain(guestXml('g1'));
    const shutoffXml = await dom.getXml();
    const t0 = Date.now();
    await dom.start();
    const startMs = Date.now() - t0;
    recordPid('g1');
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'BOOTED' });
    expect(await dom.isActive()).toBe(true);
    expect(await codeOf(dom.start())).toBe('OPERATION_INVALID');
    expect((await dom.getXml()).split('\n')[0]).toMatch(/^<domain type='qemu' id='\d+'>$/);
    expect(await dom.getXml({ inactive: true })).toBe(shutoffXml);
    const runDir = join(world.root, 'run', 'g1');
    expect(statSync(runDir).mode & 0o777).toBe(0o700);
    for (const f of ['pid', 'qmp.sock', 'qemu.log', 'status.json'])
      expect(existsSync(join(runDir, f))).toBe(true);
    expect(statSync(join(runDir, 'status.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(runDir, 'qemu.log')).mode & 0o777).toBe(0o600);
    expect((await conn.listDomains({ running: true })).map((d) => d.name)).toEqual(['g1']);

    await dom.suspend();
    expect(await dom.getState()).toEqual({ state: 'paused', reason: 'USER' });
    expect(await codeOf(dom.suspend())).toBe('OPERATION_INVALID');
    await dom.resume();
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'UNPAUSED' });
    expect(await codeOf(dom.resume())).toBe('OPERATION_INVALID');

    const t1 = Date.now();
    await dom.destroy();
    const destroyMs = Date.now() - t1;
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'DESTROYED' });
    expect(await dom.isActive()).toBe(false);
    expect(await dom.getXml()).toBe(shutoffXml);
    expect(await codeOf(dom.destroy())).toBe('OPERATION_INVALID');
    expect(existsSync(join(runDir, 'pid'))).toBe(false);
    expect(existsSync(join(runDir, 'qmp.sock'))).toBe(false);
    expect(events).toEqual([
      'g1:DEFINED/ADDED',
      'g1:STARTED/BOOTED',
      'g1:SUSPENDED/PAUSED',
      'g1:RESUMED/UNPAUSED',
      'g1:STOPPED/DESTROYED',
    ]);
    console.log(`timings: start → running ${startMs} ms, destroy ${destroyMs} ms`);
  });

  it('starts paused, and a transient domain (createDomain) disappears when it stops', async () => {
    const conn = await connection();
    const dom = await conn.defineDomain(guestXml('p1'));
    await dom.start({ paused: true });
    recordPid('p1');
    expect(await dom.getState()).toEqual({ state: 'paused', reason: 'USER' });
    await dom.resume();
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'UNPAUSED' });

    const t = await conn.createDomain(guestXml('t1'), { paused: true });
    recordPid('t1');
    expect(await t.isPersistent()).toBe(false);
    expect(await t.getState()).toEqual({ state: 'paused', reason: 'USER' });
    expect((await conn.listDomains({ transient: true })).map((d) => d.name)).toEqual(['t1']);
    expect(await codeOf(t.undefine())).toBe('OPERATION_INVALID');
    await t.destroy();
    expect(await codeOf(conn.lookupDomainByName('t1'))).toBe('NO_DOMAIN');
    expect(existsSync(join(world.root, 'run', 't1'))).toBe(false);
    expect(events).toEqual([
      'p1:DEFINED/ADDED',
      'p1:STARTED/BOOTED',
      'p1:SUSPENDED/PAUSED',
      'p1:RESUMED/UNPAUSED',
      't1:STARTED/BOOTED',
      't1:SUSPENDED/PAUSED',
      't1:STOPPED/DESTROYED',
    ]);
  });

  it('qemuMonitorCommand passes QMP and HMP to the running QEMU; QEMU quitting is a shutdown', async () => {
    const conn = await connection();
    const dom = await conn.defineDomain(guestXml('m1'));
    expect(await codeOf(dom.qemuMonitorCommand('{"execute":"query-status"}'))).toBe('OPERATION_INVALID');
    await dom.start();
    recordPid('m1');
    expect(JSON.parse(await dom.qemuMonitorCommand('{"execute":"query-status"}'))).toMatchObject({
      return: { status: 'running', running: true },
    });
    expect(await dom.qemuMonitorCommand('info status', { hmp: true })).toMatch(/VM status: running/);
    expect(JSON.parse(await dom.qemuMonitorCommand('{"execute":"no-such-command"}'))).toMatchObject({
      error: { class: 'CommandNotFound' },
    });
    expect(await codeOf(dom.qemuMonitorCommand('not json'))).toBe('INTERNAL_ERROR');
    expect(await codeOf(dom.qemuMonitorCommand('x', { bogus: true } as never))).toBe('INVALID_ARG');
    // a guest-less VM ignores the ACPI power button: shutdown returns once it is sent (libvirt)
    await dom.shutdown();
    expect((await dom.getState()).state).toBe('running');
    await dom.qemuMonitorCommand('{"execute":"quit"}').catch(() => undefined);
    await until('shutoff', async () => (await dom.getState()).state === 'shutoff');
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'SHUTDOWN' });
    await until('STOPPED event', () => events.includes('m1:STOPPED/SHUTDOWN'));
    expect(events).toEqual([
      'm1:DEFINED/ADDED',
      'm1:STARTED/BOOTED',
      'm1:SHUTDOWN/HOST',
      'm1:STOPPED/SHUTDOWN',
    ]);
  });

  it('shutdown({ waitMs }): a guest-less domain ignores ACPI, OPERATION_TIMEOUT leaves it running', async () => {
    const conn = await connection();
    const dom = await conn.defineDomain(guestXml('w1'));
    await dom.start();
    recordPid('w1');
    expect(await codeOf(dom.shutdown({ waitMs: -1 }))).toBe('INVALID_ARG');
    expect(await codeOf(dom.shutdown({ waitMs: '5' } as never))).toBe('INVALID_ARG');
    expect(await codeOf(dom.shutdown({ bogus: true } as never))).toBe('INVALID_ARG');
    const t0 = Date.now();
    const err = await dom.shutdown({ waitMs: 800 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const waited = Date.now() - t0;
    expect(isVirtError(err) && err.code).toBe('OPERATION_TIMEOUT');
    expect((err as Error).message).toBe(
      "domain 'w1' did not shut down within 800 ms (the guest ignored the ACPI power button?)",
    );
    expect(waited).toBeGreaterThanOrEqual(790);
    expect(waited).toBeLessThan(5000);
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'BOOTED' });
    // the wait can be cancelled; the request stays sent, the domain keeps running
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    expect(await codeOf(dom.shutdown({ waitMs: 60_000, signal: ac.signal }))).toBe('OPERATION_ABORTED');
    expect(await codeOf(dom.shutdown({ signal: AbortSignal.abort() }))).toBe('OPERATION_ABORTED');
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'BOOTED' });
    expect(events).toEqual(['w1:DEFINED/ADDED', 'w1:STARTED/BOOTED']);
    await dom.destroy();
    expect(await codeOf(dom.shutdown({ waitMs: 100 }))).toBe('OPERATION_INVALID');
  });

  it('QMP RESET (system_reset) is domain-reboot, not a lifecycle event; the domain keeps running', async () => {
    const conn = await connection();
    const reboots: string[] = [];
    conn.on('domain-reboot', (e) => reboots.push(`${e.domain.name}#${e.domain.uuid.length}`));
    const dom = await conn.defineDomain(guestXml('b1'));
    await dom.start();
    recordPid('b1');
    expect(reboots).toEqual([]);
    expect(JSON.parse(await dom.qemuMonitorCommand('{"execute":"system_reset"}'))).toEqual({ return: {} });
    await until('domain-reboot', () => reboots.length === 1);
    expect(reboots).toEqual(['b1#36']);
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'BOOTED' });
    await dom.qemuMonitorCommand('system_reset', { hmp: true });
    await until('second domain-reboot', () => reboots.length === 2);
    expect(events).toEqual(['b1:DEFINED/ADDED', 'b1:STARTED/BOOTED']);
    await dom.destroy();
  });

  it('QEMU killed under the SDK: state shutoff/CRASHED and STOPPED/FAILED', async () => {
    const conn = await connection();
    const dom = await conn.defineDomain(guestXml('k1'));
    await dom.start();
    const pid = recordPid('k1');
    process.kill(pid, 'SIGKILL');
    await until('STOPPED event', () => events.includes('k1:STOPPED/FAILED'));
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'CRASHED' });
    expect(existsSync(join(world.root, 'run', 'k1', 'pid'))).toBe(false);
    // it starts again
    await dom.start();
    recordPid('k1');
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'BOOTED' });
  });

  it('re-attaches: a second process sees it running, and after the starting process was SIGKILLed', async () => {
    const conn = await connection();
    await conn.defineDomain(guestXml('r1'));
    await conn.close();
    conns = [];
    // a child starts the domain and is killed
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, world.uri, 'start-and-wait', 'r1'], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await until('child start', () => out.includes('started') || child.exitCode !== null, 60_000);
      expect(out).toContain('started');
      const pid = recordPid('r1');
      // another process re-attaches while the first one holds the monitor
      const peek = spawnSync(process.execPath, ['--import', 'tsx', CHILD, world.uri, 'state', 'r1'], {
        cwd: REPO,
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(peek.status, peek.stderr).toBe(0);
      const seen = JSON.parse(peek.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
      expect(seen).toMatchObject({
        state: { state: 'running', reason: 'BOOTED' },
        active: true,
        status: { return: { status: 'running' } },
      });
      expect(seen['xml']).toMatch(/id='\d+'/);
      child.kill('SIGKILL');
      await until('child exit', () => child.exitCode !== null || child.signalCode !== null);
      // a new connection in this process takes over the monitor
      const again = await connection();
      const dom = await again.lookupDomainByName('r1');
      expect(await dom.getState()).toEqual({ state: 'running', reason: 'BOOTED' });
      await dom.suspend();
      expect(events).toContain('r1:SUSPENDED/PAUSED');
      process.kill(pid, 'SIGKILL');
      await until('STOPPED event', () => events.includes('r1:STOPPED/FAILED'));
      expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'CRASHED' });
    } finally {
      child.kill('SIGKILL');
    }
  });

  /** Pids of the QEMUs whose command line names `root`'s run directory of `name`. */
  const qemusOf = (name: string): number[] =>
    readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(
            join(world.root, 'run', name, 'qmp.sock'),
          );
        } catch {
          return false;
        }
      })
      .map(Number);

  /** Two child processes run `mode` at the same instant; their outcomes, sorted ok first. */
  const raceChildren = async (mode: string, name: string, xml = ''): Promise<Record<string, unknown>[]> => {
    const goAt = String(Date.now() + 5000);
    const run = () =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', CHILD, world.uri, mode, name, goAt, xml], {
          cwd: REPO,
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.once('error', reject);
        child.once('exit', (code) => {
          for (const pid of qemusOf(name)) pids.add(pid);
          if (code !== 0) reject(new Error(`child exited ${code}: ${out}`));
          else resolve(JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>);
        });
      });
    const outcomes = await Promise.all([run(), run()]);
    return outcomes.sort((a, b) => (a['ok'] === true ? -1 : b['ok'] === true ? 1 : 0));
  };

  it('two processes racing start(): one QEMU, the other OPERATION_INVALID "domain is already running"', async () => {
    const conn = await connection();
    const dom = await conn.defineDomain(guestXml('race1'));
    const xmlBefore = await dom.getXml({ inactive: true });
    const outcomes = await raceChildren('race-start', 'race1');
    for (const pid of qemusOf('race1')) pids.add(pid);
    expect(outcomes).toEqual([
      { ok: true },
      { code: 'OPERATION_INVALID', message: 'domain is already running' },
    ]);
    expect(qemusOf('race1')).toHaveLength(1);
    expect(recordPid('race1')).toBe(qemusOf('race1')[0]);
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'BOOTED' });
    expect(await dom.getXml({ inactive: true })).toBe(xmlBefore);
    expect((await conn.listDomains()).map((d) => d.name)).toEqual(['race1']);
    await dom.destroy();
    expect(qemusOf('race1')).toEqual([]);
  });

  it('two processes racing createDomain() of one transient domain: one QEMU, the other "already active"', async () => {
    const conn = await connection();
    // one uuid for both (without it each would get its own: "already exists with uuid …")
    const xml = guestXml('race2').replace(
      '</name>',
      '</name><uuid>5a1e0c2d-7b44-4f0e-9d1a-3c2b1a0f9e8d</uuid>',
    );
    const outcomes = await raceChildren('race-create', 'race2', xml);
    for (const pid of qemusOf('race2')) pids.add(pid);
    expect(outcomes).toEqual([
      { ok: true },
      { code: 'OPERATION_INVALID', message: "domain 'race2' is already active" },
    ]);
    expect(qemusOf('race2')).toHaveLength(1);
    const dom = await conn.lookupDomainByName('race2');
    expect(await dom.isPersistent()).toBe(false);
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'BOOTED' });
    await dom.destroy();
    expect(qemusOf('race2')).toEqual([]);
    expect(await codeOf(conn.lookupDomainByName('race2'))).toBe('NO_DOMAIN');
  });

  it('a new connection notices a QEMU that died while nobody was attached', async () => {
    let conn = await connection();
    const dom0 = await conn.defineDomain(guestXml('d1'));
    await dom0.start();
    const pid = recordPid('d1');
    await conn.close();
    conns = [];
    process.kill(pid, 'SIGKILL');
    events = [];
    await until(
      'QEMU gone',
      () => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'),
    );
    conn = await connection();
    const dom = await conn.lookupDomainByName('d1');
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'CRASHED' });
    expect(events).toEqual(['d1:STOPPED/FAILED']);
  });

  // KVM is opt-in (VIRTKIT_TEST_KVM=1): hosts with a /dev/kvm that cannot run guests exist.
  it.runIf(process.env['VIRTKIT_TEST_KVM'] === '1')('starts a kvm domain under KVM', async () => {
    const conn = await connection();
    const dom = await conn.defineDomain(guestXml('kvm1').replace("type='qemu'", "type='kvm'"));
    await dom.start();
    recordPid('kvm1');
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'BOOTED' });
    expect(await dom.qemuMonitorCommand('info kvm', { hmp: true })).toMatch(/kvm support: enabled/);
    await dom.destroy();
  });

  it('refuses a missing emulator with nothing written', async () => {
    world.cleanup();
    world = newWorld('vk-proc-');
    const conn = await open(world, { driverOptions: { qemuSystem: join(world.dir, 'no-such-qemu') } });
    conns.push(conn);
    const dom = await conn.defineDomain(guestXml('n1'));
    const before = hashTree(world.root);
    const err = await dom.start().catch((e: unknown) => e);
    expect(isVirtError(err, 'OPERATION_UNSUPPORTED')).toBe(true);
    expect((err as Error).message).toMatch(/no-such-qemu not found: install/);
    expect(hashTree(world.root)).toEqual(before);
  });

  it('refuses unrunnable or hostile XML at start and snapshot work on a running domain, with nothing written', async () => {
    const conn = await connection();
    // defines (offline snapshots keep working), but cannot run: nothing may change on start
    const bad = await conn.defineDomain(guestXml('bad', "<hostdev mode='subsystem' type='pci'/>"));
    const before = hashTree(world.root);
    expect(await codeOf(bad.start())).toBe('CONFIG_UNSUPPORTED');
    expect(hashTree(world.root)).toEqual(before);
    expect(readdirSync(join(world.root, 'run')).filter((e) => e !== 'bad')).toEqual([]);
    expect(await codeOf(conn.createDomain(guestXml('../evil')))).toBe('XML_DETAIL');
    expect(await codeOf(conn.createDomain(guestXml('t2', "<hostdev mode='subsystem' type='pci'/>")))).toBe(
      'CONFIG_UNSUPPORTED',
    );
    expect(hashTree(world.root)).toEqual(before);

    // one small qcow2 disk: QEMU runs it, and offline snapshots had something to snapshot
    const dom = await conn.defineDomain(domainXml('s1', makeDisks(world, ['vda'])));
    await dom.createSnapshot('<domainsnapshot><name>off</name></domainsnapshot>');
    await dom.start();
    recordPid('s1');
    const snapshotsBefore = hashTree(join(world.root, 'snapshots'));
    const refused = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (err) {
        if (isVirtError(err, 'OPERATION_UNSUPPORTED')) return err.message;
        throw err;
      }
      throw new Error('not refused');
    };
    expect(await refused(dom.createSnapshot('<domainsnapshot><name>x</name></domainsnapshot>'))).toMatch(
      /of a running domain is not supported yet by the qemu driver/,
    );
    expect(await refused((await dom.lookupSnapshotByName('off')).revert())).toMatch(/running domain/);
    expect(await refused((await dom.lookupSnapshotByName('off')).delete())).toMatch(/running domain/);
    expect(await refused(dom.createCheckpoint())).toMatch(/running domain/);
    expect(hashTree(join(world.root, 'snapshots'))).toEqual(snapshotsBefore);
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'BOOTED' });
    // undefine of a running persistent domain: it becomes transient and keeps running
    await dom.undefine({ snapshotsMetadata: true });
    expect(await dom.isPersistent()).toBe(false);
    expect((await dom.getState()).state).toBe('running');
    await dom.destroy();
    expect(await codeOf(conn.lookupDomainByName('s1'))).toBe('NO_DOMAIN');
  });
});
