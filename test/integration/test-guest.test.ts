// The tiny Linux test guest (test/helpers/test-guest.ts) booted from the qemu driver's own
// argv (parseQemuDomain + buildQemuArgv) under TCG: qemu-ga answers guest-ping, the guest
// workload writes to vda, and ACPI system_powerdown makes QEMU exit by itself. QEMU is killed by
// its pid in afterEach, also when the test fails.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QmpClient } from 'virtkit/qmp';
import { buildQemuArgv, runPaths } from '../../drivers/qemu/command-line.js';
import { parseQemuDomain } from '../../drivers/qemu/domain-model.js';
import { findBinary } from '../helpers/binaries.js';
import { GuestAgentClient } from '../helpers/guest-agent.js';
import { findTestGuest, testGuestAgentSocket, testGuestDomainXml } from '../helpers/test-guest.js';

const QEMU = findBinary('qemu-system-x86_64');
const QEMU_IMG = findBinary('qemu-img');
const GUEST = QEMU === undefined || QEMU_IMG === undefined ? undefined : await findTestGuest();

interface Vm {
  readonly child: ChildProcess;
  readonly runDir: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: string;
}

const started: Vm[] = [];
const clients: { close(): unknown }[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const vm of started.splice(0)) {
    if (vm.child.exitCode === null && vm.child.signalCode === null) {
      process.kill(vm.child.pid!, 'SIGKILL');
      await vm.exited;
    }
    rmSync(vm.runDir, { recursive: true, force: true });
  }
});

function runDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-guest-'));
  chmodSync(dir, 0o700); // QMP and agent sockets: owner only
  return dir;
}

function start(dir: string, xml: string): Vm {
  const argv = buildQemuArgv(parseQemuDomain(xml), { runDir: dir });
  const child = spawn(QEMU!, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const vm: Vm = { child, runDir: dir, exited, stderr: '' };
  child.stderr!.on('data', (b: Buffer) => (vm.stderr += b.toString()));
  started.push(vm);
  return vm;
}

/** Resolves with the exit, or rejects after `ms` (the timer does not hold the process). */
function exitWithin(vm: Vm, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`QEMU did not exit within ${ms} ms`)), ms);
    timer.unref();
    void vm.exited.then((r) => {
      clearTimeout(timer);
      resolve(r);
    });
  });
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-2000);
  } catch {
    return '(no serial log)';
  }
}

describe('test guest domain XML', () => {
  it('is accepted by parseQemuDomain and becomes a direct-kernel-boot argv with the agent port', () => {
    const xml = testGuestDomainXml({
      name: 'tg',
      kernel: '/k/vmlinuz',
      initrd: '/k/initrd.cpio',
      disks: [{ target: 'vda', path: '/d/vda.qcow2' }],
      serialLog: '/r/serial.log',
      writer: 'vda',
    });
    const def = parseQemuDomain(xml);
    expect(def).toMatchObject({ type: 'qemu', features: { acpi: true }, memballoon: false });
    expect(def.os).toMatchObject({ family: 'q35', kernel: '/k/vmlinuz', initrd: '/k/initrd.cpio' });
    expect(def.os.cmdline).toBe('console=ttyS0 quiet virtkit.writer=vda');
    const argv = buildQemuArgv(def, { runDir: '/r' });
    const after = (flag: string): string | undefined => argv[argv.indexOf(flag) + 1];
    expect(after('-accel')).toBe('tcg');
    expect(after('-machine')).toBe('q35,usb=off,dump-guest-core=off'); // no acpi=off
    expect(after('-kernel')).toBe('/k/vmlinuz');
    expect(after('-initrd')).toBe('/k/initrd.cpio');
    expect(after('-append')).toBe('console=ttyS0 quiet virtkit.writer=vda');
    expect(argv).toContain(`socket,id=charchannel0,path=${testGuestAgentSocket('/r')},server=on,wait=off`);
    expect(argv.some((a) => a.includes('"name":"org.qemu.guest_agent.0"'))).toBe(true);
    expect(argv).toContain('file,id=charserial0,path=/r/serial.log');
    expect(argv.some((a) => a.includes('"driver":"virtio-blk-pci"'))).toBe(true);
  });
});

describe.runIf(GUEST !== undefined)('test guest under TCG', () => {
  it('boots to guest-ping, writes to vda, and powers off on ACPI system_powerdown', async () => {
    const dir = runDir();
    const vda = join(dir, 'vda.qcow2');
    execFileSync(QEMU_IMG!, ['create', '-q', '-f', 'qcow2', vda, '64M'], { stdio: 'pipe' });
    const serialLog = join(dir, 'serial.log');
    const xml = testGuestDomainXml({
      name: 'test-guest',
      kernel: GUEST!.kernel,
      initrd: GUEST!.initrd,
      disks: [{ target: 'vda', path: vda }],
      serialLog,
      writer: 'vda',
    });
    const paths = runPaths({ runDir: dir });
    expect(paths.agent).toBe(testGuestAgentSocket(dir));

    const t0 = performance.now();
    const vm = start(dir, xml);
    const diagnose = (err: unknown): never => {
      throw new Error(
        `${String(err)}\n--- qemu stderr:\n${vm.stderr}\n--- serial log (tail):\n${tail(serialLog)}`,
      );
    };
    const qmp = await QmpClient.connect(paths.qmp, { waitForSocket: true, timeoutMs: 10_000 }).catch(
      diagnose,
    );
    clients.push(qmp);
    const agent = await GuestAgentClient.connect(paths.agent, { timeoutMs: 10_000 }).catch(diagnose);
    clients.push(agent);
    await agent.sync(20_000).catch(diagnose);
    expect(await agent.execute('guest-ping')).toEqual({});
    const bootMs = performance.now() - t0;
    expect(readFileSync(paths.pid, 'utf8').trim()).toBe(String(vm.child.pid));
    expect(statSync(dir).mode & 0o777).toBe(0o700);

    // The workload started by /init (virtkit.writer=vda) reaches the disk.
    let written = 0;
    for (let i = 0; i < 100 && written === 0; i++) {
      const stats = (await qmp.execute('query-blockstats')) as {
        qdev?: string;
        stats: { wr_bytes: number };
      }[];
      const vdaStats = stats.find((s) => s.qdev === '/machine/peripheral/vda/virtio-backend');
      written = vdaStats?.stats.wr_bytes ?? 0;
      if (written === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(written).toBeGreaterThan(0);

    const shutdown = qmp.waitForEvent('SHUTDOWN', undefined, { timeoutMs: 15_000 });
    const t1 = performance.now();
    await qmp.execute('system_powerdown');
    const exit = await exitWithin(vm, 15_000).catch(diagnose);
    const powerdownMs = performance.now() - t1;
    expect(await shutdown).toMatchObject({ data: { guest: true, reason: 'guest-shutdown' } });
    expect(exit).toEqual({ code: 0, signal: null });
    expect(tail(serialLog)).toContain('GUEST-READY');
    console.log(
      `test guest: prepare ${GUEST!.prepareMs.toFixed(0)} ms (${GUEST!.cached ? 'cached' : 'built'}), ` +
        `spawn → guest-ping ${bootMs.toFixed(0)} ms, system_powerdown → exit ${powerdownMs.toFixed(0)} ms`,
    );
  }, 30_000);
});
