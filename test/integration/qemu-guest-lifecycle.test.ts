// The tiny Linux test guest (test/helpers/test-guest.ts) run through the qemu driver's public
// API: define on qemu:///embed, start, the guest agent answers guest-ping on the driver's agent
// socket (ROOT/run/<name>/qga.sock), then ACPI shutdown to shutoff/SHUTDOWN with libvirt's
// events; suspend/resume silence and revive the agent; destroy; qemuMonitorCommand. Every QEMU a
// test starts is killed by pid in afterEach (the driver's pid file), also when the test failed.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Connection, type Domain, type DomainEvent } from 'virtkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findBinary } from '../helpers/binaries.js';
import { GuestAgentClient } from '../helpers/guest-agent.js';
import { findTestGuest, testGuestAgentSocket, testGuestDomainXml } from '../helpers/test-guest.js';
import { newWorld, type World } from './qemu-fixture.js';

const QEMU = findBinary('qemu-system-x86_64');
const QEMU_IMG = findBinary('qemu-img');
const GUEST = QEMU === undefined || QEMU_IMG === undefined ? undefined : await findTestGuest();

/** How long a booted guest may take to power off after the ACPI button (measured ~0.3 s). */
const SHUTDOWN_TIMEOUT_MS = 20_000;
/** spawn → guest-ping is 2–3 s on 2 TCG cores; a loaded machine gets more. */
const BOOT_TIMEOUT_MS = 20_000;

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-2000);
  } catch {
    return '(none)';
  }
}

describe.runIf(GUEST !== undefined)('qemu driver: the Linux test guest through the public API (TCG)', () => {
  let world: World;
  let conn: Connection | undefined;
  let agent: GuestAgentClient | undefined;
  let events: { name: string; event: string }[] = [];
  const pids = new Set<number>();

  const runDir = (name: string) => join(world.root, 'run', name);
  const serialLog = (name: string) => join(world.dir, `${name}.serial.log`);
  const eventsOf = (name: string) => events.filter((e) => e.name === name).map((e) => e.event);

  /** The pid the driver recorded for `name`'s QEMU (ROOT/run/<name>/pid), kept for teardown. */
  const recordPid = (name: string): number => {
    const pid = Number(readFileSync(join(runDir(name), 'pid'), 'utf8').trim());
    expect(Number.isInteger(pid) && pid > 0).toBe(true);
    pids.add(pid);
    return pid;
  };

  /** Resolves with the first event of `name` that `match` takes, or rejects after `ms`. */
  const nextEvent = (name: string, match: string, ms: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const c = conn!;
      const timer = setTimeout(() => {
        c.off('domain-event', on);
        reject(new Error(`no ${match} event for ${name} within ${ms} ms (saw ${eventsOf(name).join(', ')})`));
      }, ms);
      const on = (e: DomainEvent) => {
        if (e.domain.name !== name || `${e.event}/${e.detail}` !== match) return;
        clearTimeout(timer);
        c.off('domain-event', on);
        resolve();
      };
      c.on('domain-event', on);
    });

  /** Adds the QEMU log and the serial console to a failure. */
  const diagnose =
    (name: string) =>
    (err: unknown): never => {
      throw new Error(
        `${String(err)}\n--- qemu.log:\n${tail(join(runDir(name), 'qemu.log'))}\n` +
          `--- serial log (tail):\n${tail(serialLog(name))}`,
      );
    };

  /** Defines and starts the guest, then waits for guest-ping on the driver's agent socket. */
  const boot = async (name: string): Promise<{ dom: Domain; pid: number; bootMs: number }> => {
    const dom = await conn!.defineDomain(
      testGuestDomainXml({ name, kernel: GUEST!.kernel, initrd: GUEST!.initrd, serialLog: serialLog(name) }),
    );
    const t0 = performance.now();
    await dom.start();
    const pid = recordPid(name);
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'BOOTED' });
    agent = await GuestAgentClient.connect(testGuestAgentSocket(runDir(name)), { timeoutMs: 10_000 }).catch(
      diagnose(name),
    );
    await agent.sync(BOOT_TIMEOUT_MS).catch(diagnose(name));
    expect(await agent.execute('guest-ping')).toEqual({});
    return { dom, pid, bootMs: performance.now() - t0 };
  };

  beforeEach(async () => {
    world = newWorld('vk-gl-');
    events = [];
    conn = await connect(world.uri);
    conn.on('domain-event', (e: DomainEvent) =>
      events.push({ name: e.domain.name, event: `${e.event}/${e.detail}` }),
    );
  });

  afterEach(async () => {
    agent?.close();
    agent = undefined;
    await conn?.close().catch(() => undefined);
    conn = undefined;
    // Also any QEMU whose pid file a failed step did not get to record.
    const run = join(world.root, 'run');
    for (const name of existsSync(run) ? readdirSync(run) : []) {
      const text = existsSync(join(run, name, 'pid')) ? readFileSync(join(run, name, 'pid'), 'utf8') : '';
      if (/^\d+\s*$/.test(text)) pids.add(Number(text));
    }
    for (const pid of pids) {
      // Only a QEMU of this world: a recycled pid belongs to someone else.
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue; // already gone
      }
      if (!cmdline.includes(world.root)) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    pids.clear();
    world.cleanup();
  });

  it('boots to guest-ping, and ACPI shutdown() ends in shutoff/SHUTDOWN with STOPPED/SHUTDOWN', async () => {
    const { dom, pid, bootMs } = await boot('acpi');
    agent!.close(); // the guest goes away; nothing more to ask it
    agent = undefined;

    const stopped = nextEvent('acpi', 'STOPPED/SHUTDOWN', SHUTDOWN_TIMEOUT_MS);
    const t1 = performance.now();
    await dom.shutdown(); // system_powerdown, returns at once (libvirt's virDomainShutdown)
    await stopped.catch(diagnose('acpi'));
    const shutdownMs = performance.now() - t1;

    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'SHUTDOWN' });
    expect(await dom.isActive()).toBe(false);
    expect(eventsOf('acpi')).toEqual([
      'DEFINED/ADDED',
      'STARTED/BOOTED',
      'SHUTDOWN/GUEST',
      'STOPPED/SHUTDOWN',
    ]);
    await until(`QEMU pid ${pid} gone`, () => !existsSync(`/proc/${pid}`), 2000);
    expect(existsSync(join(runDir('acpi'), 'pid'))).toBe(false);
    expect(tail(serialLog('acpi'))).toContain('GUEST-READY');
    console.log(
      `guest lifecycle: start → guest-ping ${bootMs.toFixed(0)} ms, shutdown() → STOPPED/SHUTDOWN ${shutdownMs.toFixed(0)} ms`,
    );
  });

  it('shutdown({ waitMs }) returns once the guest is shut off, its STOPPED already reported', async () => {
    const { dom } = await boot('wait');
    agent!.close();
    agent = undefined;
    const t1 = performance.now();
    await dom.shutdown({ waitMs: SHUTDOWN_TIMEOUT_MS }).catch(diagnose('wait'));
    const waitedMs = performance.now() - t1;
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'SHUTDOWN' });
    expect(eventsOf('wait')).toEqual([
      'DEFINED/ADDED',
      'STARTED/BOOTED',
      'SHUTDOWN/GUEST',
      'STOPPED/SHUTDOWN',
    ]);
    console.log(`guest lifecycle: shutdown({ waitMs }) → shut off ${waitedMs.toFixed(0)} ms`);
  });

  it('suspend() silences the agent and resume() brings it back', async () => {
    const { dom } = await boot('pause');
    await dom.suspend();
    expect(await dom.getState()).toEqual({ state: 'paused', reason: 'USER' });
    // The vCPU is stopped: the request waits in the chardev, qemu-ga cannot answer it.
    await expect(agent!.execute('guest-ping', undefined, { timeoutMs: 1000 })).rejects.toThrow(
      /no reply within/,
    );
    await dom.resume();
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'UNPAUSED' });
    await agent!.sync(10_000); // drops the late answer to the ping sent while paused
    expect(await agent!.execute('guest-ping', undefined, { timeoutMs: 5000 })).toEqual({});
    expect(eventsOf('pause')).toEqual([
      'DEFINED/ADDED',
      'STARTED/BOOTED',
      'SUSPENDED/PAUSED',
      'RESUMED/UNPAUSED',
    ]);
  });

  it('qemuMonitorCommand query-status says running; destroy() stops it with STOPPED/DESTROYED', async () => {
    const { dom, pid } = await boot('kill');
    expect(JSON.parse(await dom.qemuMonitorCommand('{"execute":"query-status"}'))).toMatchObject({
      return: { status: 'running', running: true },
    });
    agent!.close();
    agent = undefined;

    await dom.destroy();
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'DESTROYED' });
    // destroy waits until the pid is no longer a live QEMU; the zombie is reaped right after.
    await until(`QEMU pid ${pid} gone`, () => !existsSync(`/proc/${pid}`), 2000);
    expect(existsSync(join(runDir('kill'), 'pid'))).toBe(false);
    expect(eventsOf('kill')).toEqual(['DEFINED/ADDED', 'STARTED/BOOTED', 'STOPPED/DESTROYED']);
  });
});
