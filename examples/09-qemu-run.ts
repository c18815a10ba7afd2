// Run a domain with the qemu driver: start a guest-less VM (no disks, TCG) from libvirt XML,
// watch its lifecycle events, suspend and resume it, ask QEMU directly, and destroy it.
// Needs qemu-img and qemu-system-x86_64 (Debian: apt-get install qemu-utils qemu-system-x86).
// Run: npx tsx examples/09-qemu-run.ts
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'virtkit';

const XML = `<domain type='qemu'>
  <name>demo</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices/>
</domain>`;

export async function main(): Promise<void> {
  if (!has('qemu-system-x86_64') || !has('qemu-img')) {
    console.log('qemu-system-x86_64 not found: install qemu-system-x86 and qemu-utils to run this example');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-run-example-'));
  try {
    await using conn = await connect(`qemu:///embed?root=${join(dir, 'root')}`);
    conn.on('domain-event', ({ domain, event, detail }) =>
      console.log(`event ${domain.name}: ${event}/${detail}`),
    );

    const vm = await conn.defineDomain(XML);
    try {
      await vm.start(); // QEMU runs detached; its pid file, QMP socket and log are in root/run/demo/
      const { state, reason } = await vm.getState();
      console.log(`state ${state}/${reason}; live XML starts with ${(await vm.getXml()).split('\n')[0]}`);

      await vm.suspend();
      console.log(`after suspend: ${(await vm.getState()).state}`);
      await vm.resume();

      // libvirt-qemu's virDomainQemuMonitorCommand: QMP as JSON, or an HMP line
      console.log(`QMP: ${await vm.qemuMonitorCommand('{"execute":"query-status"}')}`);
      console.log(`HMP: ${(await vm.qemuMonitorCommand('info status', { hmp: true })).trim()}`);

      // snapshots of a running domain are not supported yet: refused, nothing changes
      await vm.createSnapshot({ name: 'live' }).catch((err: Error) => console.log(`refused: ${err.message}`));
    } finally {
      if (await vm.isActive()) await vm.destroy(); // SIGTERM, then SIGKILL after a grace period
    }
    console.log(`after destroy: ${JSON.stringify(await vm.getState())}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function has(binary: string): boolean {
  try {
    execFileSync(binary, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
