// A third-party driver: a tiny in-memory hypervisor under its own URI scheme, built from the
// pieces virtkit exports for driver authors (the driver contract, MomentList for the snapshot
// tree, the libvirt XML functions). Calls it does not implement answer NO_SUPPORT or
// OPERATION_UNSUPPORTED, like libvirt's driver table.
// Run: npx tsx examples/06-custom-driver.ts
import {
  assertOptions,
  connect,
  defaultRegistry,
  defineDriver,
  formatSnapshotXml,
  isVirtError,
  listSnapshots,
  MomentList,
  parseSnapshotXml,
  registerDriver,
  VirtError,
  type DomainIdentity,
  type DomainOps,
  type DriverConnection,
  type SnapshotDef,
  type SnapshotOps,
} from 'virtkit';

const VM: DomainIdentity = { name: 'toy-vm', uuid: '6b1c6c5e-2f4d-4f8e-9b0a-3d1c2e4f5a6b', id: -1 };

function toyConnection(clock: () => number): DriverConnection {
  const tree = new MomentList<SnapshotDef>('snapshot');
  const unsupported = (what: string) => async (): Promise<never> => {
    throw new VirtError('OPERATION_UNSUPPORTED', `the toy driver cannot ${what}`);
  };
  const requireVm = (name: string): DomainIdentity => {
    if (name !== VM.name) throw new VirtError('NO_DOMAIN', `no domain with matching name '${name}'`);
    return VM;
  };
  const domains: DomainOps = {
    define: unsupported('define domains'),
    create: unsupported('create domains'),
    lookupByName: async (name) => requireVm(name),
    lookupByUuid: async (uuid) => (uuid === VM.uuid ? VM : requireVm('')),
    list: async () => [VM],
    refresh: async () => VM,
    getXml: async () =>
      `<domain type='toy'>\n  <name>${VM.name}</name>\n  <uuid>${VM.uuid}</uuid>\n</domain>\n`,
    getState: async () => ({ state: 'shutoff', reason: 'UNKNOWN' }),
    isPersistent: async () => true,
    start: unsupported('start domains'),
    shutdown: unsupported('shut domains down'),
    destroy: unsupported('destroy domains'),
    suspend: unsupported('suspend domains'),
    resume: unsupported('resume domains'),
    undefine: unsupported('undefine domains'),
  };
  const snapshots: SnapshotOps = {
    async create(_dom, xml, options) {
      assertOptions(options, [], 'createSnapshot'); // no flags implemented: any flag is INVALID_ARG
      const now = Math.floor(clock() / 1000);
      const def = parseSnapshotXml(xml, { now });
      const name = def.name ?? String(now);
      tree.add({ ...def, name, state: 'shutoff', parent: tree.current });
      tree.setCurrent(name);
      return name;
    },
    list: async (_dom, options) => listSnapshots(tree, null, options),
    listChildren: async (_dom, name, options) => listSnapshots(tree, name, options),
    lookup: async (_dom, name) => void tree.require(name),
    getXml: async (_dom, name) => formatSnapshotXml(tree.require(name), { domainUuid: VM.uuid }),
    getParent: async (_dom, name) => {
      const parent = tree.parentOf(name);
      if (parent === undefined)
        throw new VirtError('NO_DOMAIN_SNAPSHOT', `snapshot '${name}' does not have a parent`);
      return parent;
    },
    current: async () => {
      if (tree.current === undefined) {
        throw new VirtError('NO_DOMAIN_SNAPSHOT', 'the domain does not have a current snapshot');
      }
      return tree.current;
    },
    hasCurrent: async () => tree.current !== undefined,
    isCurrent: async (_dom, name) => (tree.require(name), tree.current === name),
    hasMetadata: async (_dom, name) => (tree.require(name), true),
    revert: async (_dom, name) => tree.setCurrent((tree.require(name), name)),
    delete: async (_dom, name, options) => {
      assertOptions(options, ['children', 'childrenOnly'], 'snapshot.delete');
      tree.remove(name, options.children ? 'children' : options.childrenOnly ? 'childrenOnly' : 'self');
    },
  };
  return { domains, snapshots, close: async () => undefined };
}

const toyDriver = defineDriver({
  name: 'toy',
  uriSchemes: ['toy'],
  async open(uri, options) {
    if (uri.path !== '/default') return undefined; // not ours: connect() reports NO_CONNECT
    return toyConnection(options.clock);
  },
});

export async function main(): Promise<void> {
  if (!defaultRegistry().schemes().includes('toy')) registerDriver(toyDriver);

  await using conn = await connect('toy:///default', { clock: () => Date.UTC(2026, 0, 1) });
  const vm = await conn.lookupDomainByName('toy-vm');
  await vm.createSnapshot(); // named after the clock: 1767225600
  const second = await vm.createSnapshot({ name: 'second' });
  console.log(`snapshots: ${(await vm.listSnapshots({ topological: true })).map((s) => s.name).join(', ')}`);
  console.log(`parent of second: ${(await second.getParent()).name}`);
  console.log((await second.getXml()).trim());

  for (const attempt of [
    () => vm.start(),
    () => vm.listCheckpoints(),
    () => vm.createSnapshot({}, { diskOnly: true }),
  ]) {
    try {
      await attempt();
    } catch (err) {
      if (!isVirtError(err)) throw err;
      console.log(`refused: ${err.code}: ${err.message}`);
    }
  }
  try {
    await connect('toy:///elsewhere');
  } catch (err) {
    if (!isVirtError(err, 'NO_CONNECT')) throw err;
    console.log(`refused: ${err.code}: ${err.message}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
