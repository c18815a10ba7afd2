// Child process of the fault-injection tests: runs ONE driver operation on an embedded root
// with fault injection `{ killAtStep }` (the driver's internal, symbol-keyed driverOptions
// entry), so that the driver SIGKILLs this process right after the given journal step. Usage: node --import tsx qemu-crash-child.ts URI OPERATION KILL_AT_STEP
import { connect } from 'virtkit';
import { runOperation } from './qemu-crash-scenarios.js';

const FAULT_INJECTION = Symbol.for('virtkit.qemu.faultInjection');
const [uri = '', operation = '', killAt = '-1', lockTimeout = '30000'] = process.argv.slice(2);
// A fixed clock far from the setup's: names made from the time (revert overlays
// `vda.revert-<seconds>`) are then the same in the reference run and in every killed run, and
// never collide with the setup's own (which would add a `-1` suffix in one run and not another).
const conn = await connect(uri, {
  clock: () => 4_102_444_800_000,
  driverOptions: {
    ...(Number(killAt) >= 0 ? { [FAULT_INJECTION]: { killAtStep: Number(killAt) } } : {}),
    lockTimeoutMs: Number(lockTimeout),
  },
});
const dom = await conn.lookupDomainByName('vm');

if (operation === 'hold-lock') {
  // keeps the domain busy: a long list of snapshot creations
  for (let i = 0; i < 10; i++)
    await dom.createSnapshot(`<domainsnapshot><name>h${i}</name></domainsnapshot>`);
} else {
  await runOperation(dom, operation);
}
await conn.close();
process.stdout.write('completed\n');
