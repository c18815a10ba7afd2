// Compile-time checks of the typed command and event maps (run by `npm run typecheck`).
import { expectTypeOf } from 'vitest';
import type { QmpClient, QmpEvent, QmpJobStatus, QmpRunState } from 'virtkit/qmp';

export async function typed(qmp: QmpClient): Promise<void> {
  expectTypeOf((await qmp.execute('query-status')).status).toEqualTypeOf<QmpRunState>();
  expectTypeOf(
    await qmp.execute('human-monitor-command', { 'command-line': 'info status' }),
  ).toEqualTypeOf<string>();
  expectTypeOf(await qmp.execute('stop', undefined, { timeoutMs: 1000 })).toEqualTypeOf<
    Record<string, never>
  >();
  expectTypeOf(await qmp.execute<{ arch: string }[]>('query-cpus-fast')).toEqualTypeOf<{ arch: string }[]>();
  expectTypeOf(await qmp.execute('query-cpus-fast')).toEqualTypeOf<unknown>();
  // @ts-expect-error job-dismiss needs its id
  await qmp.execute('job-dismiss');
  // @ts-expect-error a known command's arguments are checked
  await qmp.execute('job-dismiss', { idd: 'x' });
  const e = await qmp.waitForEvent('JOB_STATUS_CHANGE', (ev) => ev.data.id === 'j1');
  expectTypeOf(e.data.status).toEqualTypeOf<QmpJobStatus>();
  const other = await qmp.waitForEvent('VSERPORT_CHANGE');
  expectTypeOf(other).toEqualTypeOf<QmpEvent<'VSERPORT_CHANGE'>>();
  expectTypeOf(other.data).toEqualTypeOf<Readonly<Record<string, unknown>>>();
}
