// virtkit/qmp on its own: start a paused QEMU with a QMP socket in a private directory,
// query it, follow events, run a job that creates a qcow2 image, see a typed QEMU error,
// and quit. Needs qemu-system-x86_64 (Debian: apt-get install qemu-system-x86).
// Run: npx tsx examples/08-qmp.ts
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVirtError } from 'virtkit';
import { QmpClient } from 'virtkit/qmp';

export async function main(): Promise<void> {
  if (!hasQemu()) {
    console.log('qemu-system-x86_64 not found: install qemu-system-x86 to run this example');
    return;
  }
  // mkdtemp creates the directory with mode 0700: only we can reach the socket inside.
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-qmp-example-'));
  const socket = join(dir, 'qmp.sock');
  const qemu = spawn(
    'qemu-system-x86_64',
    ['-machine', 'none', '-nodefaults', '-display', 'none', '-accel', 'tcg', '-S'].concat([
      '-qmp',
      `unix:${socket},server=on,wait=off`,
    ]),
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => qemu.once('exit', resolve));
  try {
    await using qmp = await QmpClient.connect(socket, { waitForSocket: true, commandTimeoutMs: 30_000 });
    const { major, minor, micro } = qmp.greeting.version.qemu;
    console.log(
      `connected to QEMU ${major}.${minor}.${micro}, status ${(await qmp.execute('query-status')).status}`,
    );

    // Start waiting before the command that causes the event.
    qmp.on('event', (e) => console.log(`event ${e.event} ${JSON.stringify(e.data)}`));
    const resumed = qmp.waitForEvent('RESUME');
    await qmp.execute('cont');
    await resumed;
    await qmp.execute('stop');

    // A job: format a new qcow2 image on a file node, wait for it, dismiss it.
    const image = join(dir, 'disk.qcow2');
    writeFileSync(image, '', { mode: 0o600 });
    await qmp.execute('blockdev-add', { driver: 'file', filename: image, 'node-name': 'disk-file' });
    await qmp.execute('blockdev-create', {
      'job-id': 'create-disk',
      options: { driver: 'qcow2', file: 'disk-file', size: 64 * 1024 * 1024 },
    });
    const job = await qmp.waitJob('create-disk', {
      onProgress: (j) => console.log(`job ${j.id}: ${j.status}`),
    });
    console.log(`job ${job.id} (${job.type}) concluded`);

    // QEMU's errors are VirtErrors carrying QEMU's class and description.
    try {
      await qmp.execute('blockdev-del', { 'node-name': 'no-such-node' });
    } catch (err) {
      if (!isVirtError(err, 'INTERNAL_ERROR')) throw err;
      console.log(`QEMU refused: ${String(err.details.qmpClass)}: ${String(err.details.desc)}`);
    }

    await qmp.execute('quit');
    const reason = await qmp.closed;
    console.log(`connection closed: ${reason?.message ?? 'by us'}`);
  } finally {
    if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

function hasQemu(): boolean {
  try {
    execFileSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
