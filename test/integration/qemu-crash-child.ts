// Child process of the fault-injection tests: runs ONE driver operation on an embedded root
// with `faultInjection.killAtStep`, so that the driver SIGKILLs this process right after the
// given journal step. Usage: node --import tsx qemu-crash-child.ts URI OPERATION KILL_AT_STEP
import { connect } from 'virtkit';

const [uri = '', operation = '', killAt = '-1', lockTimeout = '30000'] = process.argv.slice(2);
const conn = await connect(uri, {
  driverOptions: {
    ...(Number(killAt) >= 0 ? { faultInjection: { killAtStep: Number(killAt) } } : {}),
    lockTimeoutMs: Number(lockTimeout),
  },
});
const dom = await conn.lookupDomainByName('vm');
const snapshot = (name: string) => dom.lookupSnapshotByName(name);
const checkpoint = (name: string) => dom.lookupCheckpointByName(name);

switch (operation) {
  case 'internal-create':
    await dom.createSnapshot('<domainsnapshot><name>new</name></domainsnapshot>');
    break;
  case 'internal-revert':
    await (await snapshot('base')).revert();
    break;
  case 'internal-delete':
    await (await snapshot('base')).delete();
    break;
  case 'internal-delete-children':
    await (await snapshot('base')).delete({ children: true });
    break;
  case 'external-create':
    await dom.createSnapshot('<domainsnapshot><name>e1</name></domainsnapshot>', { diskOnly: true });
    break;
  case 'checkpoint-create':
    await dom.createCheckpoint('<domaincheckpoint><name>c2</name></domaincheckpoint>');
    break;
  case 'checkpoint-delete':
    await (await checkpoint('c2')).delete();
    break;
  case 'hold-lock':
    // keeps the domain busy: a long list of snapshot creations
    for (let i = 0; i < 10; i++)
      await dom.createSnapshot(`<domainsnapshot><name>h${i}</name></domainsnapshot>`);
    break;
  default:
    throw new Error(`unknown operation ${operation}`);
}
await conn.close();
process.stdout.write('completed\n');
