import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'virtkit';
import { describe, it } from 'vitest';
import { findBinary } from '../../helpers/binaries.js';
import { describeDriverConformance } from './suite.js';

const QEMU_IMG = findBinary('qemu-img');
// With qemu-system-x86_64 the suite starts and stops the (guest-less, TCG) domain too.
const QEMU_SYSTEM = QEMU_IMG === undefined ? undefined : findBinary('qemu-system-x86_64');

/** Kills the QEMU a test left running, by the pid in the run directory. */
function killQemu(root: string): void {
  try {
    const pid = Number(readFileSync(join(root, 'run', 'conformance', 'pid'), 'utf8').trim());
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    // not running
  }
}

function domainXml(dir: string): string {
  const disk = (dev: string) =>
    `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>` +
    `<source file='${join(dir, `${dev}.qcow2`)}'/><target dev='${dev}' bus='virtio'/></disk>`;
  return `<domain type='qemu'><name>conformance</name><memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='q35'>hvm</type></os><devices>${disk('vda')}${disk('vdb')}</devices></domain>`;
}

/** Every file under `dir` (the images and the embedded root) with a digest of its content. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .map((p) => `${p.slice(dir.length)} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`)
    .sort();
}

// Every test gets a fresh embedded root with an inactive two-disk qcow2 domain.
if (QEMU_IMG === undefined) {
  describe('driver conformance: qemu:///embed', () => {
    it.skip('needs qemu-img', () => undefined);
  });
} else {
  describeDriverConformance(
    'qemu:///embed',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'virtkit-conformance-'));
      for (const dev of ['vda', 'vdb'])
        execFileSync(QEMU_IMG, ['create', '-q', '-f', 'qcow2', join(dir, `${dev}.qcow2`), '16M']);
      const connection = await connect(`qemu:///embed?root=${join(dir, 'root')}`);
      await connection.defineDomain(domainXml(dir));
      return {
        connection,
        domain: 'conformance',
        files: () => filesUnder(dir),
        dispose: async () => {
          killQemu(join(dir, 'root'));
          await connection.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
    {
      snapshots: true,
      checkpoints: true,
      backups: false,
      events: true,
      lifecycle: QEMU_SYSTEM !== undefined,
      checkpointsNeedActiveDomain: false,
      snapshotsWithCheckpoints: true,
    },
  );
}
