import {
  alignBackupDisks,
  assertOptions,
  KNOWN_OPTIONS,
  formatBackupXml,
  parseBackupXml,
  VirtError,
  type BackupBeginOptions,
  type BackupDef,
  type BackupDiskDef,
  type BackupOps,
  type DomainIdentity,
  type JobInfo,
  type JobInfoOptions,
} from 'virtkit';
import {
  finishJob,
  observeJob,
  runningJobInfo,
  SIMULATED_DIRTY_BYTES,
  SIMULATED_DISK_BYTES,
  startJob,
} from './backup-job.js';
import { commitCheckpoint, prepareNew } from './checkpoint-ops.js';
import { reportDone } from './progress.js';
import { isActive, type TestDomain, type TestWorld } from './state.js';

/**
 * The test driver's simulated {@link BackupOps}: push and pull jobs with libvirt's XML
 * defaults (semantics §e.3, §d.5), progress on the connection clock and JOB_COMPLETED events.
 *
 * @internal
 */
export function testBackupOps(world: TestWorld): BackupOps {
  const observed = (domain: DomainIdentity): TestDomain => {
    const dom = world.require(domain);
    observeJob(world, dom);
    return dom;
  };
  return {
    begin: async (domain, backupXml, checkpointXml, options) =>
      beginBackup(world, domain, backupXml, checkpointXml, options),
    getXml: async (domain) => {
      const job = observed(domain).backup;
      if (job === undefined) throw new VirtError('NO_DOMAIN_BACKUP', 'no domain backup job present');
      return job.xml;
    },
    getJobInfo: async (domain, options) => jobInfo(world, observed(domain), options),
    abortJob: async (domain) => {
      const dom = observed(domain);
      const job = dom.backup;
      if (job === undefined) throw new VirtError('OPERATION_INVALID', 'no job is active on the domain');
      finishJob(world, dom, job.mode === 'pull' ? 'completed' : 'cancelled');
    },
  };
}

/**
 * `virDomainBackupBegin`: validates and completes the backup definition, creates the optional
 * checkpoint at the same instant, and starts the simulated job.
 *
 * @throws `OPERATION_UNSUPPORTED` "cannot perform disk backup for inactive domain" or "<domainbackup>
 * must specify TCP port for now", `OPERATION_INVALID` "another backup job is already running",
 * `XML_ERROR`, `XML_INVALID_SCHEMA`, `CONFIG_UNSUPPORTED`, `NO_DOMAIN_CHECKPOINT`,
 * `CHECKPOINT_INCONSISTENT`, and the checkpoint creation errors.
 * @internal
 */
export function beginBackup(
  world: TestWorld,
  domain: DomainIdentity,
  backupXml: string,
  checkpointXml: string | undefined,
  options: BackupBeginOptions,
): void {
  assertOptions(options, KNOWN_OPTIONS.backupBegin, 'backupBegin');
  const dom = world.require(domain);
  observeJob(world, dom);
  if (!isActive(dom)) {
    throw new VirtError('OPERATION_UNSUPPORTED', 'cannot perform disk backup for inactive domain');
  }
  if (dom.backup !== undefined)
    throw new VirtError('OPERATION_INVALID', 'another backup job is already running');
  const parsed = withServerDefaults(parseBackupXml(backupXml));
  const checkpoint = checkpointXml === undefined ? undefined : prepareNew(world, dom, checkpointXml);
  const suffix = checkpoint?.name ?? String(world.nowSeconds());
  const def = fillDiskDefaults(alignBackupDisks(parsed, dom.def, suffix));
  const selected = (def.disks ?? []).filter(isBackedUp);
  if (selected.length === 0) throw new VirtError('CONFIG_UNSUPPORTED', 'no disks selected for backup');
  for (const disk of selected) checkDisk(dom, def, disk);
  if (checkpoint !== undefined) commitCheckpoint(dom, checkpoint, false);
  const totalBytes = selected.reduce((n, d) => n + diskBytes(d), 0);
  startJob(world, dom, {
    mode: def.mode ?? 'push',
    xml: formatBackupXml(def),
    startMs: world.clock(),
    totalBytes,
    preserveShutdownDomain: options.preserveShutdownDomain === true,
    ticker: undefined,
  });
  reportDone(options, 'start backup');
}

function jobInfo(world: TestWorld, dom: TestDomain, options: JobInfoOptions): JobInfo {
  assertOptions(options, KNOWN_OPTIONS.getJobInfo, 'getJobInfo');
  if (options.completed !== true) {
    return dom.backup === undefined ? { type: 'none' } : runningJobInfo(world, dom.backup);
  }
  const info = dom.completedJob ?? { type: 'none' };
  if (options.keepCompleted !== true) dom.completedJob = undefined;
  return info;
}

/** qemu's pull defaults: a TCP server on `localhost`, which needs an explicit port. */
function withServerDefaults(def: BackupDef): BackupDef {
  if ((def.mode ?? 'push') !== 'pull') return def;
  const server = def.server ?? { transport: 'tcp' };
  if ((server.transport ?? 'tcp') !== 'tcp') return def;
  if (server.port === undefined) {
    throw new VirtError('OPERATION_UNSUPPORTED', '<domainbackup> must specify TCP port for now');
  }
  return { ...def, server: { ...server, name: server.name ?? 'localhost' } };
}

/** What libvirt's backup XML reports once the job runs: image format and export names. */
function fillDiskDefaults(def: BackupDef): BackupDef {
  const pull = def.mode === 'pull';
  const disks = (def.disks ?? []).map((d): BackupDiskDef => {
    if (!isBackedUp(d)) return d;
    const filled: BackupDiskDef = { ...d, driverType: d.driverType ?? 'qcow2' };
    if (!pull) return filled;
    const exportbitmap =
      d.backupmode === 'incremental' ? (d.exportbitmap ?? `backup-${d.name}`) : d.exportbitmap;
    return {
      ...filled,
      exportname: d.exportname ?? d.name,
      ...(exportbitmap === undefined ? {} : { exportbitmap }),
    };
  });
  return { ...def, disks };
}

function checkDisk(dom: TestDomain, def: BackupDef, disk: BackupDiskDef): void {
  if (def.mode === 'pull' && disk.driverType !== 'qcow2') {
    throw new VirtError(
      'CONFIG_UNSUPPORTED',
      `pull mode backup for disk '${disk.name}' requires qcow2 driver`,
    );
  }
  if (disk.backupmode !== 'incremental') return;
  const name = disk.incremental ?? def.incremental ?? '';
  const checkpoint = dom.checkpoints.require(name);
  const bitmap = checkpoint.disks?.find((d) => d.name === disk.name);
  if (bitmap === undefined || (bitmap.checkpoint ?? 'bitmap') !== 'bitmap') {
    throw new VirtError(
      'CHECKPOINT_INCONSISTENT',
      `missing or broken bitmap '${bitmap?.bitmap ?? name}' for disk '${disk.name}'`,
    );
  }
}

function isBackedUp(disk: BackupDiskDef): boolean {
  return (disk.backup ?? 'yes') === 'yes';
}

function diskBytes(disk: BackupDiskDef): number {
  return disk.backupmode === 'incremental' ? SIMULATED_DIRTY_BYTES : SIMULATED_DISK_BYTES;
}
