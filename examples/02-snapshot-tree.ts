// A branching snapshot tree: branches come from reverting and then creating, lists are libvirt's
// (roots, leaves, children, descendants, topological), and the tree prints like
// `virsh snapshot-list --tree`.
// Run: npx tsx examples/02-snapshot-tree.ts
import { connect, formatSnapshotTree, type Domain } from 'virtkit';

const names = (list: readonly { readonly name: string }[]) => list.map((s) => s.name).join(', ');

async function snapshot(domain: Domain, name: string, description: string): Promise<void> {
  await domain.createSnapshot({ name, description });
}

export async function main(): Promise<void> {
  await using conn = await connect('test:///default');
  const domain = await conn.lookupDomainByName('test');

  // A chain: each new snapshot's parent is the current snapshot, and it becomes current.
  await snapshot(domain, 'base', 'fresh install');
  await snapshot(domain, 'web', 'web server installed');
  await snapshot(domain, 'web-tuned', 'web server tuned');

  // Revert moves "current" back to base (the guest restarts from it); the tree is unchanged.
  await (await domain.lookupSnapshotByName('base')).revert();
  console.log(`current after revert: ${(await domain.currentSnapshot()).name}`);

  // Creating now starts a second branch under base.
  await snapshot(domain, 'db', 'database installed');
  await snapshot(domain, 'db-replica', 'replica configured');

  console.log(`roots: ${names(await domain.listSnapshots({ roots: true }))}`);
  console.log(`leaves: ${names(await domain.listSnapshots({ leaves: true }))}`);
  console.log(`parents first: ${names(await domain.listSnapshots({ topological: true }))}`);
  const base = await domain.lookupSnapshotByName('base');
  console.log(`children of base: ${names(await base.listChildren())}`);
  console.log(
    `descendants of base: ${names(await base.listChildren({ descendants: true, topological: true }))}`,
  );
  console.log(await formatSnapshotTree(domain, { trim: true }));

  // Deleting one snapshot moves its children up to its parent...
  await (await domain.lookupSnapshotByName('web')).delete();
  console.log(
    `parent of web-tuned now: ${(await (await domain.lookupSnapshotByName('web-tuned')).getParent()).name}`,
  );

  // ...deleting with children removes the whole branch; current (db-replica) moves to base.
  await (await domain.lookupSnapshotByName('db')).delete({ children: true });
  console.log(`current after deleting the db branch: ${(await domain.currentSnapshot()).name}`);
  console.log(await formatSnapshotTree(domain, { trim: true }));
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
