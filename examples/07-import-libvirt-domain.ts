// Importing a domain and its snapshot tree from libvirt: define the domain from its XML, then
// redefine the snapshots parents first (metadata only, as libvirt's REDEFINE flag), the
// current one with `current`. The XML here comes from a first connection; from a libvirt host
// it is what these commands print:
//   virsh dumpxml --inactive --security-info vm
//   virsh snapshot-list vm --topological --name
//   virsh snapshot-dumpxml vm NAME --security-info
//   virsh snapshot-current vm --name
// With the qemu driver (qemu:///embed?root=…) the calls are the same; the images must be the
// ones the XML names, with their internal snapshots and overlays in place.
// Run: npx tsx examples/07-import-libvirt-domain.ts
import { connect, formatSnapshotTree, type Connection } from 'virtkit';

/** What virsh would give you for domain `name`. */
interface Exported {
  readonly domainXml: string;
  /** Snapshot XML, parents first. */
  readonly snapshots: readonly { readonly name: string; readonly xml: string }[];
  readonly current: string | undefined;
}

export async function exportDomain(conn: Connection, name: string): Promise<Exported> {
  const domain = await conn.lookupDomainByName(name);
  const snapshots = [];
  for (const s of await domain.listSnapshots({ topological: true }))
    snapshots.push({ name: s.name, xml: await s.getXml({ secure: true }) });
  const current = (await domain.hasCurrentSnapshot()) ? (await domain.currentSnapshot()).name : undefined;
  return { domainXml: await domain.getXml({ inactive: true, secure: true }), snapshots, current };
}

export async function importDomain(conn: Connection, exported: Exported): Promise<void> {
  const domain = await conn.defineDomain(exported.domainXml);
  for (const s of exported.snapshots) {
    await domain.createSnapshot(s.xml, { redefine: true, current: s.name === exported.current });
  }
}

export async function main(): Promise<void> {
  // The "libvirt host": a snapshot tree with a branch; the current snapshot is on the branch.
  let exported: Exported;
  {
    await using source = await connect('test:///default');
    const domain = await source.lookupDomainByName('test');
    const base = await domain.createSnapshot({ name: 'base' });
    await domain.createSnapshot({ name: 'upgrade' });
    await base.revert();
    await domain.createSnapshot({ name: 'experiment' });
    exported = await exportDomain(source, 'test');
  }
  console.log(
    `exported ${exported.snapshots.length} snapshots, parents first: ${exported.snapshots.map((s) => s.name).join(', ')}`,
  );

  // The new home: a fresh world (test:///default starts with a domain 'test' of the same
  // uuid, so defineDomain updates it, as libvirt would).
  await using target = await connect('test:///default');
  await importDomain(target, exported);
  const domain = await target.lookupDomainByName('test');
  console.log(`imported; current snapshot: ${(await domain.currentSnapshot()).name}`);
  console.log(await formatSnapshotTree(domain, { trim: true }));
  const upgrade = await domain.lookupSnapshotByName('upgrade');
  console.log(`parent of upgrade: ${(await upgrade.getParent()).name}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
