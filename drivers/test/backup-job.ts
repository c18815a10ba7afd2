import type { JobInfo, JobType } from 'virtkit';
import type { TestDomain, TestWorld } from './state.js';

/**
 * Size the test driver pretends every backed-up disk has for a full backup.
 *
 * @internal
 */
export const SIMULATED_DISK_BYTES = 1024 * 1024 * 1024;

/**
 * Bytes the test driver pretends were written since any checkpoint (also what a checkpoint's
 * `size` reports).
 *
 * @internal
 */
export const SIMULATED_DIRTY_BYTES = 1024;

/** How often a running push job looks at the clock to finish by itself. */
const TICK_MS = 20;

/**
 * A simulated backup job. A push job copies `totalBytes` in `backupDurationMs` of connection
 * clock time and finishes at the first observation after that (a `getJobInfo` call or the
 * background tick); a pull job runs until `abortJob`.
 *
 * @internal
 */
export interface BackupJob {
  readonly mode: 'push' | 'pull';
  /** `backupGetXml()` answer: the aligned definition. */
  readonly xml: string;
  readonly startMs: number;
  readonly totalBytes: number;
  readonly preserveShutdownDomain: boolean;
  ticker: ReturnType<typeof setInterval> | undefined;
}

/**
 * Starts `job` on `dom`; a push job also gets its background tick, which keeps the process
 * alive until the job ends (a pull job only ends by `abortJob`, so it needs none).
 *
 * @internal
 */
export function startJob(world: TestWorld, dom: TestDomain, job: BackupJob): void {
  dom.backup = job;
  if (job.mode !== 'push') return;
  // Kept referenced: a running push job is pending work that a program may await (the
  // job-completed event), like I/O. It ends by itself; close() clears it too.
  job.ticker = setInterval(() => observeJob(world, dom), TICK_MS);
}

/**
 * Finishes a push job whose simulated duration has elapsed on the connection clock.
 *
 * @internal
 */
export function observeJob(world: TestWorld, dom: TestDomain): void {
  const job = dom.backup;
  if (job?.mode === 'push' && progress(world, job) >= 1) finishJob(world, dom, 'completed');
}

/**
 * Statistics of the running job.
 *
 * @internal
 */
export function runningJobInfo(world: TestWorld, job: BackupJob): JobInfo {
  return jobStats(world, job, 'unbounded');
}

/**
 * Ends the running job with `type`, remembers its statistics for `getJobInfo({ completed })`,
 * reports JOB_COMPLETED, and stops a domain whose shutdown the job was holding back.
 *
 * @internal
 */
export function finishJob(
  world: TestWorld,
  dom: TestDomain,
  type: 'completed' | 'cancelled' | 'failed',
  errorMessage?: string,
): void {
  const job = dom.backup;
  if (job === undefined) return;
  const info = jobStats(world, job, type, errorMessage);
  clearTicker(job);
  dom.backup = undefined;
  dom.completedJob = info;
  world.events.jobCompleted({ domain: world.identity(dom), info });
  if (dom.state === 'paused' && dom.reason === 'SHUTTING_DOWN') {
    world.shutoffState(dom, 'SHUTDOWN');
    world.emit(dom, 'STOPPED', 'SHUTDOWN');
    world.dropIfTransient(dom);
  }
}

/**
 * A domain that stops under a running job makes the job fail.
 *
 * @internal
 */
export function abortJobForStop(world: TestWorld, dom: TestDomain): void {
  if (dom.backup !== undefined) finishJob(world, dom, 'failed', 'domain is not running');
}

/**
 * Stops every background tick (the connection is closing).
 *
 * @internal
 */
export function disposeJobs(world: TestWorld): void {
  for (const dom of world.all()) if (dom.backup !== undefined) clearTicker(dom.backup);
}

function clearTicker(job: BackupJob): void {
  if (job.ticker !== undefined) clearInterval(job.ticker);
  job.ticker = undefined;
}

function progress(world: TestWorld, job: BackupJob): number {
  const duration = world.settings.backupDurationMs;
  if (duration <= 0) return 1;
  return Math.min(1, Math.max(0, (world.clock() - job.startMs) / duration));
}

function jobStats(world: TestWorld, job: BackupJob, type: JobType, errorMessage?: string): JobInfo {
  const timeElapsed = Math.max(0, world.clock() - job.startMs);
  const base = { type, operation: 'backup' as const, timeElapsed };
  const extra = errorMessage === undefined ? {} : { errorMessage };
  if (job.mode === 'pull') return { ...base, tempTotal: job.totalBytes, tempUsed: 0, ...extra };
  const dataProcessed =
    type === 'completed' ? job.totalBytes : Math.floor(job.totalBytes * progress(world, job));
  return {
    ...base,
    dataTotal: job.totalBytes,
    dataProcessed,
    dataRemaining: job.totalBytes - dataProcessed,
    ...extra,
  };
}
