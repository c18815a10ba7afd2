// Quick start: connect to the built-in test hypervisor, take two snapshots, revert, look around.
// Run: npx tsx examples/01-connect.ts
import { connect, isVirtError } from 'virtkit';

export async function main(): Promise<void> {
  await using conn = await connect('test:///default');
  conn.on('domain-event', (e) => console.log(`event: ${e.domain.name} ${e.event} ${e.detail}`));

  for (const domain of await conn.listDomains()) {
    const { state, reason } = await domain.getState();
    console.log(`domain ${domain.name} (${domain.uuid}) is ${state} (${reason})`);
  }

  const domain = await conn.lookupDomainByName('test');
  const before = await domain.createSnapshot({ name: 'before-upgrade', description: 'clean install' });
  const after = await domain.createSnapshot({ name: 'after-upgrade' });
  console.log(`parent of ${after.name}: ${(await after.getParent()).name}`);

  await before.revert();
  console.log(`current snapshot: ${(await domain.currentSnapshot()).name}`);

  const names = (await domain.listSnapshots({ topological: true })).map((s) => s.name);
  console.log(`snapshots, parents first: ${names.join(', ')}`);

  try {
    await domain.lookupSnapshotByName('missing');
  } catch (err) {
    if (isVirtError(err, 'NO_DOMAIN_SNAPSHOT')) console.log(`expected error: ${err.code}: ${err.message}`);
    else throw err;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
