// The argv of buildQemuArgv, run by the real qemu-system-x86_64 with -S (no guest): QEMU must
// accept every option, create the sockets in the run dir and show the -blockdev node names.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildQemuArgv } from '../../drivers/qemu/command-line.js';
import { parseQemuDomain } from '../../drivers/qemu/domain-model.js';
import { findBinary } from '../helpers/binaries.js';

const QEMU = findBinary('qemu-system-x86_64');
const QEMU_IMG = QEMU === undefined ? undefined : findBinary('qemu-img');

function domainXml(machine: string, devices: string, features = ''): string {
  return (
    `<domain type='qemu'><name>argv,test</name><uuid>6c0ba1e4-43a5-4f8c-9a0e-0d7b3f3e0a01</uuid>` +
    `<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='${machine}'>hvm</type></os>` +
    `${features}<devices>${devices}</devices></domain>`
  );
}

/** Reads newline-delimited JSON from a QMP socket: the greeting, then one reply per command. */
async function qmp(path: string, commands: readonly object[]): Promise<unknown[]> {
  const sock = createConnection(path);
  const lines: unknown[] = [];
  let buffer = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no QMP answer on ${path}`)), 20_000);
    timer.unref();
    sock.on('error', reject);
    sock.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const msg = JSON.parse(buffer.slice(0, nl)) as { event?: string };
        buffer = buffer.slice(nl + 1);
        if (msg.event !== undefined) continue;
        lines.push(msg);
        const sent = lines.length - 1;
        if (sent < commands.length) sock.write(`${JSON.stringify(commands[sent])}\n`);
        else {
          clearTimeout(timer);
          sock.destroy();
          resolve(lines);
        }
      }
    });
  });
}

async function waitFor(path: string, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (existsSync(path)) return;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`qemu exited (${child.exitCode ?? child.signalCode}): ${stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no ${path} after 10 s: ${stderr()}`);
}

describe.runIf(QEMU !== undefined && QEMU_IMG !== undefined)(
  'buildQemuArgv: accepted by qemu-system-x86_64',
  () => {
    let dir = '';
    let child: ChildProcess | undefined;

    afterEach(() => {
      // Kill by pid, also when the test failed half-way.
      if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      child = undefined;
      if (dir !== '') rmSync(dir, { recursive: true, force: true });
      dir = '';
    });

    const cases: [string, (dir: string) => string][] = [
      [
        'q35: qcow2 disk with a comma in its path, sata cdrom, user nic, serial file, agent channel, vnc socket',
        (d) => {
          const image = join(d, 'disk,1.qcow2');
          execFileSync(QEMU_IMG!, ['create', '-q', '-f', 'qcow2', image, '16M']);
          return domainXml(
            'q35',
            `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${image}'/><target dev='vda' bus='virtio'/></disk>` +
              `<disk type='file' device='cdrom'><target dev='sda' bus='sata'/></disk>` +
              `<interface type='user'><model type='virtio'/></interface>` +
              `<serial type='file'><source path='${join(d, 'serial,log')}'/></serial>` +
              `<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>` +
              `<graphics type='vnc'><listen type='socket'/></graphics><controller type='usb' model='qemu-xhci'/>`,
            '<features><acpi/></features>',
          );
        },
      ],
      [
        'pc: no disks, acpi off, no balloon',
        () => domainXml('pc', "<memballoon model='none'/><controller type='usb' model='none'/>"),
      ],
    ];

    it.each(cases)('%s', async (_what, makeXml) => {
      dir = mkdtempSync(join(tmpdir(), 'vk-argv-'));
      const runDir = join(dir, 'run');
      mkdirSync(runDir, { mode: 0o700 });
      const def = parseQemuDomain(makeXml(dir));
      const argv = buildQemuArgv(def, { runDir, paused: true });
      let stderr = '';
      child = spawn(QEMU!, argv, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      const qmpSocket = join(runDir, 'qmp.sock');
      await waitFor(qmpSocket, child, () => stderr);
      const [greeting, caps, status, nodes] = (await qmp(qmpSocket, [
        { execute: 'qmp_capabilities' },
        { execute: 'query-status' },
        { execute: 'query-named-block-nodes', arguments: { flat: true } },
      ])) as [
        { QMP: { version: { qemu: { major: number } } } },
        object,
        { return: { status: string } },
        { return: { 'node-name': string }[] },
      ];
      expect(greeting.QMP.version.qemu.major).toBeGreaterThanOrEqual(7);
      expect(caps).toEqual({ return: {} });
      expect(status.return.status).toBe('prelaunch');
      const names = nodes.return.map((n) => n['node-name']).sort();
      expect(names).toEqual(
        def.disks
          .filter((d) => d.source !== undefined)
          .flatMap((d) => [`vk-${d.target}-format`, `vk-${d.target}-storage`]),
      );
      expect(Number(readFileSync(join(runDir, 'pid'), 'utf8').trim())).toBe(child.pid);
      if (def.guestAgent !== undefined) expect(statSync(join(runDir, 'qga.sock')).isSocket()).toBe(true);
      for (const serial of def.serials) {
        if (serial.source.type === 'file') expect(existsSync(serial.source.path)).toBe(true);
      }
      if (def.graphics !== undefined) expect(statSync(join(runDir, 'vnc.sock')).isSocket()).toBe(true);
      expect(stderr).toBe('');
    });
  },
);
