// Type tests of public signatures: checked by `npm run typecheck` (tsc over test/), never run.
// Each @ts-expect-error line must fail to compile; an unused one is itself an error.
import { expectTypeOf } from 'vitest';
import {
  connect,
  formatSnapshotTree,
  type Connection,
  type DomainDiskDef,
  type DriverOptionsFor,
  type QemuDriverOptions,
  type RecoveryEvent,
  type TestDriverOptions,
  type UriScheme,
} from 'virtkit';
import type { QemuDriverOptions as FromQemuDriver } from 'virtkit/drivers/qemu';
import type { TestDriverOptions as FromTestDriver } from 'virtkit/drivers/test';

declare module 'virtkit' {
  interface DriverOptionsByScheme {
    mine: { readonly endpoint?: string };
  }
}

export async function connectOptionsPerScheme(): Promise<void> {
  expectTypeOf<UriScheme<'qemu:///session'>>().toEqualTypeOf<'qemu'>();
  expectTypeOf<UriScheme<'qemu+unix:///system'>>().toEqualTypeOf<'qemu'>();
  expectTypeOf<UriScheme<string>>().toEqualTypeOf<never>();
  expectTypeOf<DriverOptionsFor<'qemu:///embed?root=/srv'>>().toEqualTypeOf<QemuDriverOptions>();
  expectTypeOf<DriverOptionsFor<'test:///default'>>().toEqualTypeOf<TestDriverOptions>();
  expectTypeOf<DriverOptionsFor<'mine:///x'>>().toEqualTypeOf<{ readonly endpoint?: string }>();
  expectTypeOf<DriverOptionsFor<'other:///x'>>().toEqualTypeOf<Record<string, unknown>>();
  expectTypeOf<DriverOptionsFor<string>>().toEqualTypeOf<Record<string, unknown>>();
  expectTypeOf<FromQemuDriver>().toEqualTypeOf<QemuDriverOptions>();
  expectTypeOf<FromTestDriver>().toEqualTypeOf<TestDriverOptions>();

  const ok: Connection = await connect('qemu:///embed?root=/srv/vms', {
    driverOptions: { qemuImg: '/usr/bin/qemu-img', lockTimeoutMs: 1000 },
  });
  await ok.close();
  await connect('test:///default', { driverOptions: { backupDurationMs: 5 } });
  await connect('mine:///x', { driverOptions: { endpoint: 'e' } });

  // @ts-expect-error -- a typo in a qemu option
  await connect('qemu:///session', { driverOptions: { qemuImgPath: 'x' } });
  // @ts-expect-error -- a wrong type
  await connect('qemu:///session', { driverOptions: { lockTimeoutMs: '5s' } });
  // @ts-expect-error -- a qemu option on the test driver
  await connect('test:///default', { driverOptions: { qemuImg: 'x' } });
  // @ts-expect-error -- unknown connect option
  await connect('test:///default', { readonly: true });

  // A template literal keeps its scheme.
  const dir: string = '/srv/vms';
  // @ts-expect-error -- a typo, with a root computed at run time
  await connect(`qemu:///embed?root=${dir}`, { driverOptions: { qemuImgPath: 'x' } });

  // A URI known only at run time: any driverOptions (the driver checks them).
  const uri: string = process.env['URI'] ?? 'test:///default';
  await connect(uri, { driverOptions: { anything: 1 } });

  await connect('qemu:///session', {
    onRecovery: (e) => expectTypeOf(e).toEqualTypeOf<RecoveryEvent>(),
  });
}

export async function handles(conn: Connection): Promise<void> {
  conn.on('recovery', (e) => {
    expectTypeOf(e.stage).toEqualTypeOf<'started' | 'progress' | 'finished' | 'failed'>();
    expectTypeOf(e.direction).toEqualTypeOf<'roll-back' | 'roll-forward'>();
  });
  const domain = await conn.lookupDomainByName('vm');
  expectTypeOf(await domain.listDisks()).toEqualTypeOf<DomainDiskDef[]>();
  expectTypeOf(await formatSnapshotTree(domain, { trim: true })).toEqualTypeOf<string>();
  // @ts-expect-error -- listDisks takes libvirt's inactive flag only
  await domain.listDisks({ details: true });
}
