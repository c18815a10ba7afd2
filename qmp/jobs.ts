import type { QmpClient } from './client.js';
import { guard, qmpError } from './errors.js';
import type { QmpEvent, QmpJobInfo, QmpJobStatus } from './types.js';

/**
 * Options of {@link QmpClient.waitJob}.
 *
 * @public
 */
export interface QmpWaitJobOptions {
  /** Fail with `OPERATION_TIMEOUT` after this many milliseconds (the job keeps running). */
  readonly timeoutMs?: number;
  /** Fail with `OPERATION_ABORTED` when it aborts (the job keeps running). */
  readonly signal?: AbortSignal;
  /** Called with the job's `query-jobs` entry at the start and after each state change. */
  readonly onProgress?: (job: QmpJobInfo) => void;
  /**
   * Dismiss the concluded job (`job-dismiss`).
   * @defaultValue true
   */
  readonly dismiss?: boolean;
}

/** {@link QmpClient.waitJob}. */
export function waitJob(client: QmpClient, id: string, options: QmpWaitJobOptions): Promise<QmpJobInfo> {
  // Subscribe before the first query-jobs so no state change falls between the two.
  const events = client.events({ names: ['JOB_STATUS_CHANGE'] });
  return guard<QmpJobInfo>(`waiting for QEMU job '${id}'`, options, { jobId: id }, (resolve, reject) => {
    follow(client, id, events, options).then(resolve, reject);
    return () => void events.return?.();
  });
}

async function follow(
  client: QmpClient,
  id: string,
  events: AsyncIterator<QmpEvent>,
  options: QmpWaitJobOptions,
): Promise<QmpJobInfo> {
  const { onProgress } = options;
  let info = await findJob(client, id);
  if (info === undefined) {
    throw qmpError('OPERATION_INVALID', `operation invalid: no QEMU job with id '${id}'`, { jobId: id });
  }
  onProgress?.(info);
  while (info.status !== 'concluded') {
    const status = await nextStatus(client, events, id);
    if (status === 'null') throw vanished(id);
    if (status !== 'concluded' && onProgress === undefined) continue;
    info = (await findJob(client, id)) ?? vanished(id);
    onProgress?.(info);
  }
  if (options.dismiss !== false) await client.execute('job-dismiss', { id });
  if (info.error !== undefined) {
    const details = { jobId: id, jobType: info.type, error: info.error };
    throw qmpError('OPERATION_FAILED', `operation failed: QEMU job '${id}' failed: ${info.error}`, details);
  }
  return info;
}

async function findJob(client: QmpClient, id: string): Promise<QmpJobInfo | undefined> {
  return (await client.execute('query-jobs')).find((j) => j.id === id);
}

async function nextStatus(
  client: QmpClient,
  events: AsyncIterator<QmpEvent>,
  id: string,
): Promise<QmpJobStatus> {
  for (;;) {
    const next = await events.next();
    if (next.done === true) {
      const reason = client.isClosed ? await client.closed : undefined;
      throw qmpError(
        reason?.code ?? 'OPERATION_FAILED',
        `${reason?.message ?? 'operation failed: stopped'} (while waiting for QEMU job '${id}')`,
        { ...reason?.details, jobId: id },
        reason,
      );
    }
    const data = next.value.data as { id?: unknown; status?: unknown };
    if (data.id === id) return data.status as QmpJobStatus;
  }
}

function vanished(id: string): never {
  throw qmpError(
    'OPERATION_FAILED',
    `operation failed: QEMU job '${id}' was dismissed before its result was read`,
    {
      jobId: id,
    },
  );
}
