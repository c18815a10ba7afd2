import { describe, expect, it, vi } from 'vitest';
import { connect } from './connect.js';
import { defineDriver } from './driver/define-driver.js';
import type {
  DomainIdentity,
  DomainOps,
  DriverConnection,
  DriverOpenOptions,
  SnapshotOps,
} from './driver/driver.js';
import { DriverRegistry } from './driver/registry.js';
import { isVirtError, VirtError } from './errors.js';

// A contract-level fake driver: it records what the core dispatched, so these tests can check
// the core's own validation, lifecycle and error handling (not any hypervisor behaviour).
const DOM: DomainIdentity = { name: 'd1', uuid: '00000000-0000-0000-0000-000000000001', id: 1 };

function makeDriver(withSnapshots: boolean) {
  const calls: string[] = [];
  let sink: DriverOpenOptions['events'] | undefined;
  const unexpected = (name: string) => () => Promise.reject(new Error(`unexpected call ${name}`));
  const domains: DomainOps = {
    define: async (xml) => (calls.push(`define ${xml}`), DOM),
    create: unexpected('create'),
    lookupByName: async (name) => {
      calls.push(`lookup ${name}`);
      if (name !== DOM.name) throw new VirtError('NO_DOMAIN', `no domain with matching name '${name}'`);
      return DOM;
    },
    lookupByUuid: async (uuid) => (calls.push(`uuid ${uuid}`), DOM),
    list: async () => [DOM],
    refresh: async () => DOM,
    getXml: async () => {
      throw new TypeError('driver bug');
    },
    getState: async () => ({ state: 'running', reason: 'BOOTED' }),
    isPersistent: async () => true,
    start: unexpected('start'),
    shutdown: unexpected('shutdown'),
    destroy: unexpected('destroy'),
    suspend: unexpected('suspend'),
    resume: unexpected('resume'),
    undefine: unexpected('undefine'),
  };
  const snapshots: SnapshotOps = {
    create: async (_d, xml, options) => (calls.push(`snapshot ${xml} ${JSON.stringify(options)}`), 's1'),
    list: async () => ['s1'],
    listChildren: async () => [],
    lookup: async () => undefined,
    getXml: async () => '<domainsnapshot/>',
    getParent: async () => 's0',
    current: async () => 's1',
    hasCurrent: async () => true,
    isCurrent: async () => true,
    hasMetadata: async () => true,
    revert: async (_d, name) => void calls.push(`revert ${name}`),
    delete: async (_d, name) => void calls.push(`delete ${name}`),
  };
  const driver = defineDriver({
    name: 'fake',
    uriSchemes: ['fake'],
    async open(uri, options) {
      if (uri.path === '/decline') return undefined;
      sink = options.events;
      const conn: DriverConnection = {
        domains,
        ...(withSnapshots ? { snapshots } : {}),
        close: async () => void calls.push('close'),
      };
      return conn;
    },
  });
  return { driver, calls, emit: () => sink };
}

async function open(opts: { readOnly?: boolean; snapshots?: boolean } = {}) {
  const fake = makeDriver(opts.snapshots ?? true);
  const registry = new DriverRegistry();
  registry.register(fake.driver);
  const conn = await connect('fake:///x', { registry, readOnly: opts.readOnly ?? false });
  return { conn, ...fake };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return isVirtError(err) ? `${err.code}: ${err.message}` : `foreign: ${String(err)}`;
  }
  return 'no error';
}

describe('connect', () => {
  it('names the scheme and the registered ones when nothing serves it', async () => {
    const registry = new DriverRegistry();
    registry.register(makeDriver(true).driver);
    expect(await codeOf(connect('nope:///x', { registry }))).toBe(
      "NO_CONNECT: no connection driver available for nope:///x (no driver serves scheme 'nope'; registered: fake)",
    );
  });

  it('reports a declining driver', async () => {
    const registry = new DriverRegistry();
    registry.register(makeDriver(true).driver);
    expect(await codeOf(connect('fake:///decline', { registry }))).toBe(
      "NO_CONNECT: no connection driver available for fake:///decline (driver 'fake' declined it)",
    );
  });

  it('reports recovery during open to onRecovery only, and later ones to the recovery event too', async () => {
    const fake = makeDriver(true);
    const registry = new DriverRegistry();
    const event = (stage: 'started' | 'finished') =>
      ({
        domain: 'vm',
        operation: 'snapshot-delete',
        journal: 'j1',
        direction: 'roll-forward',
        stage,
      }) as const;
    registry.register({
      ...fake.driver,
      async open(uri, options) {
        options.events.recovery(event('started'));
        options.events.recovery(event('finished'));
        return fake.driver.open(uri, options);
      },
    });
    const live: string[] = [];
    const conn = await connect('fake:///x', { registry, onRecovery: (e) => live.push(`live ${e.stage}`) });
    conn.on('recovery', (e) => live.push(`event ${e.stage}`));
    expect(live).toEqual(['live started', 'live finished']);
    fake.emit()?.recovery(event('started'));
    expect(live.slice(2)).toEqual(['live started', 'event started']);
    await conn.close();
    fake.emit()?.recovery(event('finished'));
    expect(live.length).toBe(5);
    expect(await codeOf(connect('fake:///x', { registry, onRecovery: 1 } as never))).toBe(
      "INVALID_ARG: invalid value for option 'onRecovery' in function connect",
    );
  });

  it('refuses unknown connect options', async () => {
    expect(await codeOf(connect('fake:///x', { bogus: true } as never))).toBe(
      'INVALID_ARG: unsupported flags (bogus) in function connect',
    );
  });

  it('rejects a second driver for a taken scheme', () => {
    const registry = new DriverRegistry();
    registry.register(makeDriver(true).driver);
    expect(() => registry.register({ ...makeDriver(true).driver, name: 'other' })).toThrow(
      "URI scheme 'fake' is already served by driver 'fake'",
    );
  });
});

describe('Connection', () => {
  it('dispatches and wraps results in handles', async () => {
    const { conn, calls } = await open();
    const d = await conn.lookupDomainByName('d1');
    expect([d.name, d.uuid, conn.driverName]).toEqual(['d1', DOM.uuid, 'fake']);
    expect(calls).toEqual(['lookup d1']);
    expect(await codeOf(conn.lookupDomainByName('zz'))).toBe("NO_DOMAIN: no domain with matching name 'zz'");
  });

  it('normalises uuids and refuses malformed ones', async () => {
    const { conn, calls } = await open();
    await conn.lookupDomainByUuid('00000000000000000000000000000001'.toUpperCase());
    expect(calls).toEqual([`uuid ${DOM.uuid}`]);
    expect(await codeOf(conn.lookupDomainByUuid('xyz'))).toMatch(/^INVALID_ARG: malformed uuid/);
  });

  it('refuses non-string arguments before dispatch', async () => {
    const { conn, calls } = await open();
    expect(await codeOf(conn.lookupDomainByName(undefined as never))).toBe(
      'INVALID_ARG: name in lookupDomainByName must be a non-empty string',
    );
    expect(await codeOf(conn.defineDomain(42 as never))).toMatch(/^INVALID_ARG/);
    expect(calls).toEqual([]);
  });

  it('turns foreign driver errors into INTERNAL_ERROR with the cause', async () => {
    const { conn } = await open();
    const d = await conn.lookupDomainByName('d1');
    let caught: unknown;
    try {
      await d.getXml();
    } catch (err) {
      caught = err;
    }
    expect(isVirtError(caught, 'INTERNAL_ERROR')).toBe(true);
    expect((caught as VirtError).cause).toBeInstanceOf(TypeError);
    expect((caught as VirtError).driver).toBe('fake');
  });

  it('refuses mutating calls and secure XML on a read-only connection', async () => {
    const { conn, calls } = await open({ readOnly: true });
    const d = await conn.lookupDomainByName('d1');
    expect(await codeOf(conn.defineDomain('<domain/>'))).toBe(
      'OPERATION_DENIED: read only access prevents defineDomain',
    );
    expect(await codeOf(d.createSnapshot())).toMatch(/^OPERATION_DENIED/);
    expect(await codeOf(d.getXml({ secure: true }))).toBe(
      'OPERATION_DENIED: read only access prevents getXml with secure flag',
    );
    const s = await d.lookupSnapshotByName('s1');
    expect(await codeOf(s.revert())).toMatch(/^OPERATION_DENIED/);
    expect(await codeOf(s.delete())).toMatch(/^OPERATION_DENIED/);
    expect(calls).toEqual(['lookup d1']);
  });

  it('checks options and libvirt wrapper rules before dispatch', async () => {
    const { conn, calls } = await open();
    const d = await conn.lookupDomainByName('d1');
    calls.length = 0;
    expect(await codeOf(d.createSnapshot('<domainsnapshot/>', { current: true }))).toBe(
      "INVALID_ARG: Flag 'redefine' is required by flag 'current'",
    );
    expect(await codeOf(d.createSnapshot('<domainsnapshot/>', { redefine: true, halt: true }))).toMatch(
      /Flags 'redefine' and 'halt' are mutually exclusive/,
    );
    expect(await codeOf(d.createSnapshot('<domainsnapshot/>', { redefine: true, noMetadata: true }))).toMatch(
      /mutually exclusive/,
    );
    expect(await codeOf(d.createSnapshot('<domainsnapshot/>', { bogus: true } as never))).toBe(
      'INVALID_ARG: unsupported flags (bogus) in function createSnapshot',
    );
    const s = await d.lookupSnapshotByName('s1');
    expect(await codeOf(s.revert({ running: true, paused: true }))).toMatch(/mutually exclusive/);
    expect(await codeOf(s.delete({ children: true, childrenOnly: true }))).toMatch(/mutually exclusive/);
    expect(await codeOf(d.listSnapshots({ descendants: true } as never))).toBe(
      'INVALID_ARG: unsupported flags (descendants) in function listSnapshots',
    );
    expect(await codeOf(s.listChildren({ roots: true } as never))).toMatch(/unsupported flags \(roots\)/);
    expect(calls).toEqual([]);
  });

  it('sends the default snapshot XML when none is given', async () => {
    const { conn, calls } = await open();
    const d = await conn.lookupDomainByName('d1');
    calls.length = 0;
    const s = await d.createSnapshot();
    expect(s.name).toBe('s1');
    expect(calls).toEqual(['snapshot <domainsnapshot/> {}']);
  });

  it('refuses an already aborted signal before dispatch', async () => {
    const { conn, calls } = await open();
    const d = await conn.lookupDomainByName('d1');
    calls.length = 0;
    const ac = new AbortController();
    ac.abort();
    expect(await codeOf(d.createSnapshot(undefined, { signal: ac.signal }))).toBe(
      'OPERATION_ABORTED: createSnapshot was cancelled before it started',
    );
    expect(calls).toEqual([]);
  });

  it('answers NO_SUPPORT when the driver lacks a capability', async () => {
    const { conn } = await open({ snapshots: false });
    const d = await conn.lookupDomainByName('d1');
    expect(await codeOf(d.listSnapshots())).toBe(
      "NO_SUPPORT: listSnapshots is not supported by driver 'fake'",
    );
    expect(await codeOf(d.createCheckpoint())).toMatch(/^NO_SUPPORT/);
    expect(await codeOf(d.backupGetXml())).toMatch(/^NO_SUPPORT/);
  });

  it('forwards driver events with handles and libvirt numbers', async () => {
    const { conn, emit } = await open();
    const seen = vi.fn();
    conn.on('domain-event', seen);
    emit()!.domainEvent({ domain: DOM, event: 'STARTED', detail: 'FROM_SNAPSHOT' });
    expect(seen).toHaveBeenCalledTimes(1);
    const e = seen.mock.calls[0]![0];
    expect([e.domain.name, e.event, e.detail, e.eventCode, e.detailCode]).toEqual([
      'd1',
      'STARTED',
      'FROM_SNAPSHOT',
      2,
      3,
    ]);
    conn.off('domain-event', seen);
    emit()!.domainEvent({ domain: DOM, event: 'STOPPED', detail: 'DESTROYED' });
    expect(seen).toHaveBeenCalledTimes(1);
  });

  it('forwards a driver reboot as domain-reboot with a handle, apart from domain-event', async () => {
    const { conn, emit } = await open();
    const reboots = vi.fn();
    const lifecycle = vi.fn();
    conn.on('domain-reboot', reboots);
    conn.on('domain-event', lifecycle);
    emit()!.domainReboot({ domain: DOM });
    expect(reboots).toHaveBeenCalledTimes(1);
    expect(reboots.mock.calls[0]![0].domain.name).toBe('d1');
    expect(lifecycle).not.toHaveBeenCalled();
    await conn.close();
    emit()!.domainReboot({ domain: DOM });
    expect(reboots).toHaveBeenCalledTimes(1);
  });

  it('closes once; later calls fail with INVALID_CONN', async () => {
    const { conn, calls } = await open();
    const d = await conn.lookupDomainByName('d1');
    const closed = vi.fn();
    conn.on('close', closed);
    await conn.close();
    await conn.close();
    expect(calls.filter((c) => c === 'close')).toHaveLength(1);
    expect(closed).toHaveBeenCalledTimes(1);
    expect(conn.closed).toBe(true);
    expect(await codeOf(conn.listDomains())).toBe(
      'INVALID_CONN: invalid connection pointer in listDomains: the connection is closed',
    );
    expect(await codeOf(d.getState())).toMatch(/^INVALID_CONN/);
    expect(await codeOf(d.listSnapshots())).toMatch(/^INVALID_CONN/);
  });

  it('supports await using', async () => {
    const fake = makeDriver(true);
    const registry = new DriverRegistry();
    registry.register(fake.driver);
    {
      await using conn = await connect('fake:///x', { registry });
      expect(conn.closed).toBe(false);
    }
    expect(fake.calls).toEqual(['close']);
  });
});
