// The qemu driver on a shut-off VM with two qcow2 disks, everything kept in a temporary
// embedded root: internal snapshots with a branch, revert, delete, a checkpoint, and external
// (overlay) snapshots with a branch, a revert and merging deletes. Needs qemu-img (Debian:
// apt-get install qemu-utils).
// Run: npx tsx examples/04-qemu-offline.ts
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, formatCheckpointTree, formatSnapshotTree } from 'virtkit';

export async function main(): Promise<void> {
  if (!hasQemuImg()) {
    console.log('qemu-img not found: install qemu-utils to run this example');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'virtkit-example-'));
  try {
    const disks = ['vda', 'vdb'].map((dev) => ({ dev, path: join(dir, `${dev}.qcow2`) }));
    for (const d of disks) execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', d.path, '64M']);

    // onRecovery reports a crashed operation being finished (nothing to do in a new root).
    await using conn = await connect(`qemu:///embed?root=${join(dir, 'root')}`, {
      onRecovery: (e) => console.log(`recovery of ${e.operation} on ${e.domain}: ${e.stage}`),
    });
    const domain = await conn.defineDomain(`
      <domain type='qemu'>
        <name>demo</name>
        <memory unit='MiB'>64</memory>
        <os><type arch='x86_64' machine='q35'>hvm</type></os>
        <devices>
          ${disks
            .map(
              (d) => `<disk type='file' device='disk'>
            <driver name='qemu' type='qcow2'/>
            <source file='${d.path}'/>
            <target dev='${d.dev}' bus='virtio'/>
          </disk>`,
            )
            .join('\n')}
        </devices>
      </domain>`);
    console.log(`defined ${domain.name} (${domain.uuid}), state ${(await domain.getState()).state}`);

    // Internal snapshots: qemu-img snapshot -c on both disks, all or nothing.
    const base = await domain.createSnapshot({ name: 'base', description: 'fresh install' });
    await domain.createSnapshot({ name: 'upgrade' });
    await base.revert(); // back to base: the next snapshot starts a branch
    await domain.createSnapshot({ name: 'experiment' });
    console.log('snapshot tree:');
    console.log(await formatSnapshotTree(domain, { trim: true }));

    await (await domain.lookupSnapshotByName('upgrade')).delete();
    console.log(`after deleting 'upgrade', current is '${(await domain.currentSnapshot()).name}'`);

    // A checkpoint is a persistent dirty bitmap in every qcow2 disk (beyond libvirt: offline too).
    await domain.createCheckpoint({ name: 'backup-1' });
    console.log('checkpoints:');
    console.log(await formatCheckpointTree(domain, { trim: true }));

    // An internal revert is refused while bitmaps exist (qemu-img cannot apply it then).
    try {
      await base.revert();
    } catch (err) {
      console.log(`revert refused as expected: ${(err as Error).message.slice(0, 80)}…`);
    }

    // External, disk-only snapshot: new overlays vda.ext1 / vdb.ext1; the domain now uses them
    // and the checkpoint's bitmap is carried into the overlays.
    await domain.createSnapshot({ name: 'ext1' }, { diskOnly: true });
    // listDisks() is `virsh domblklist`: each disk's target and the image it uses now.
    for (const disk of await domain.listDisks()) console.log(`disk ${disk.target}: ${disk.source}`);

    const names = (await domain.listSnapshots({ topological: true })).map((s) => s.name);
    console.log(`snapshots, parents first: ${names.join(', ')}`);

    // External branches: reverting to ext1 puts fresh overlays on ext1's frozen images (ext2's
    // overlays are dropped: nothing needs them), and the next snapshot starts a second branch.
    await domain.createSnapshot({ name: 'ext2' }, { diskOnly: true });
    const ext1 = await domain.lookupSnapshotByName('ext1');
    await ext1.revert();
    await domain.createSnapshot({ name: 'ext3' }, { diskOnly: true });
    console.log('snapshot tree with an external branch:');
    console.log(await formatSnapshotTree(domain, { trim: true }));

    // Deleting external snapshots merges their images (beyond libvirt, which refuses most of
    // these): ext1 has two children, so its frozen image stays as their shared backing file;
    // ext2 is a leaf the domain left, so its frozen image goes; ext3 is the current leaf, so
    // its overlay is committed into the image it froze, which the domain uses again.
    await ext1.delete();
    await (await domain.lookupSnapshotByName('ext2')).delete();
    await (
      await domain.lookupSnapshotByName('ext3')
    ).delete({
      // Steps, and while qemu-img commit copies, bytes: live, not only after each step.
      onProgress: (p) => console.log(`  delete ext3: ${p.phase} (${p.completed}/${p.total} ${p.unit})`),
    });
    const after = (await domain.listDisks()).map((d) => `${d.target} ${d.source} (${d.format})`);
    console.log(`after deleting the external snapshots, disks: ${after.join(', ')}`);
    console.log(await formatSnapshotTree(domain, { trim: true }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function hasQemuImg(): boolean {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
