// The operations of the fault-injection sweep: how each domain is prepared (in the test
// process) and what the child process then runs (see qemu-crash-child.ts).
import type { Connection, Domain, DomainCheckpoint, DomainSnapshot } from 'virtkit';
import { currentSources } from './qemu-external-model.js';
import { domainXml, writeSlots, type TestDisk, type World } from './qemu-fixture.js';

/** A prepared world. */
export interface Fixture {
  readonly world: World;
  readonly disks: TestDisk[];
}

/** Prepares the domain `vm` of a fixture before the operation under test. */
export type Setup = (conn: Connection, dom: Domain, f: Fixture) => Promise<void>;

/** Pattern of slot `k` written by version `v` on disk `i` (distinct for every triple, 1…128). */
const pattern = (i: number, v: number, k: number): number => 1 + i * 64 + v * 8 + k;

/**
 * Writes version `v` into the current image of every disk: slot 0 (overwritten by every
 * version, so layers overlap) and slot `v` (new).
 */
async function version(dom: Domain, v: number): Promise<void> {
  for (const [i, s] of (await currentSources(dom)).entries()) {
    const slots = [0, 0, 0, 0, 0, 0, 0, 0];
    slots[0] = pattern(i, v, 0);
    slots[v] = pattern(i, v, v);
    writeSlots(s.path, s.format, slots);
  }
}

const snap = (dom: Domain, name: string): Promise<DomainSnapshot> =>
  dom.createSnapshot(`<domainsnapshot><name>${name}</name></domainsnapshot>`);
const ext = (dom: Domain, name: string): Promise<DomainSnapshot> =>
  dom.createSnapshot({ name }, { diskOnly: true });
const ckpt = (dom: Domain, name: string): Promise<DomainCheckpoint> =>
  dom.createCheckpoint(`<domaincheckpoint><name>${name}</name></domaincheckpoint>`);
const revert = async (dom: Domain, name: string): Promise<void> =>
  (await dom.lookupSnapshotByName(name)).revert();

/** Builds e1 → e2 → … → eN (current), version k written before ek and version N+1 at the end. */
async function chain(dom: Domain, n: number): Promise<void> {
  for (let k = 1; k <= n; k++) {
    await version(dom, k);
    await ext(dom, `e${k}`);
  }
  await version(dom, n + 1);
}

/** Setups by operation name; the child runs the operation of the same name. */
export const SCENARIOS: Record<string, Setup> = {
  'internal-create': async (_c, dom) => {
    await version(dom, 1);
    await snap(dom, 'base');
    await version(dom, 2);
  },
  'internal-revert': async (conn, dom, f) => {
    await version(dom, 1);
    await snap(dom, 'base');
    await version(dom, 2);
    await snap(dom, 'top');
    await version(dom, 3);
    const xml = domainXml('vm', f.disks).replace('</name>', `</name>\n  <uuid>${dom.uuid}</uuid>`);
    await conn.defineDomain(xml.replace('65536', '262144'));
  },
  'internal-delete': async (_c, dom) => {
    await version(dom, 1);
    await snap(dom, 'base');
    await version(dom, 2);
    await snap(dom, 'top');
  },
  'internal-delete-children': async (_c, dom) => {
    await version(dom, 1);
    await snap(dom, 'base');
    await version(dom, 2);
    await snap(dom, 'top');
  },
  'external-create': async (_c, dom) => {
    await version(dom, 1);
    await ckpt(dom, 'c1');
  },
  'checkpoint-create': async (_c, dom) => {
    await ckpt(dom, 'c1');
    await version(dom, 1);
  },
  'checkpoint-delete': async (_c, dom) => {
    await ckpt(dom, 'c1');
    await version(dom, 1);
    await ckpt(dom, 'c2');
    await version(dom, 2);
  },
  // revert to e2, a leaf that lost its overlay; leaves e1's revert overlays
  'external-revert-leaf': async (_c, dom) => {
    await chain(dom, 2);
    await revert(dom, 'e1');
    await version(dom, 4);
  },
  // revert to e1, which has a child: new overlays in e1's revertDisks, e2's overlays dropped
  'external-revert-children': async (_c, dom) => {
    await ckpt(dom, 'c1');
    await chain(dom, 2);
  },
  'external-delete-current-leaf': async (_c, dom) => chain(dom, 2),
  // the middle of e1 → e2 → e3, with a checkpoint bitmap in every layer to merge
  'external-delete-middle': async (_c, dom) => {
    await ckpt(dom, 'c1');
    await chain(dom, 3);
  },
  'external-delete-noncurrent-leaf': async (_c, dom) => {
    await chain(dom, 2);
    await revert(dom, 'e1');
    await version(dom, 4);
  },
  // e2 has children e3 and e4 (current): its frozen image stays shared, metadata only
  'external-delete-two-children': async (_c, dom) => {
    await chain(dom, 3);
    await revert(dom, 'e2');
    await version(dom, 5);
    await ext(dom, 'e4');
    await version(dom, 6);
  },
  // e1 with every descendant: the current images are folded down to the base images
  'external-delete-children': async (_c, dom) => chain(dom, 3),
  // internal 'base' under external e1 (current leaf): the overlays are folded into the images
  // holding 'base', which stays intact and revertible
  'external-delete-into-internal': async (_c, dom) => {
    await version(dom, 1);
    await snap(dom, 'base');
    await version(dom, 2);
    await ext(dom, 'e1');
    await version(dom, 3);
  },
  // revert to internal 'base' whose images are below overlays only the current state uses (e1
  // forgotten with metadataOnly): 'base' applied, the overlays dropped
  'internal-revert-dropping-overlays': async (_c, dom) => {
    await version(dom, 1);
    await snap(dom, 'base');
    await version(dom, 2);
    await ext(dom, 'e1');
    await version(dom, 3);
    await (await dom.lookupSnapshotByName('e1')).delete({ metadataOnly: true });
  },
};

/** The operation the child runs for a scenario. */
export async function runOperation(dom: Domain, operation: string): Promise<void> {
  const s = (name: string): Promise<DomainSnapshot> => dom.lookupSnapshotByName(name);
  switch (operation) {
    case 'internal-create':
      await dom.createSnapshot('<domainsnapshot><name>new</name></domainsnapshot>');
      return;
    case 'internal-revert':
      return (await s('base')).revert();
    case 'internal-delete':
      return (await s('base')).delete();
    case 'internal-delete-children':
      return (await s('base')).delete({ children: true });
    case 'external-create':
      await ext(dom, 'e1');
      return;
    case 'checkpoint-create':
      await ckpt(dom, 'c2');
      return;
    case 'checkpoint-delete':
      return (await dom.lookupCheckpointByName('c2')).delete();
    case 'external-revert-leaf':
      return (await s('e2')).revert();
    case 'external-revert-children':
      return (await s('e1')).revert();
    case 'external-delete-current-leaf':
      return (await s('e2')).delete();
    case 'external-delete-middle':
      return (await s('e2')).delete();
    case 'external-delete-noncurrent-leaf':
      return (await s('e2')).delete();
    case 'external-delete-two-children':
      return (await s('e2')).delete();
    case 'external-delete-children':
      return (await s('e1')).delete({ children: true });
    case 'external-delete-into-internal':
      return (await s('e1')).delete();
    case 'internal-revert-dropping-overlays':
      return (await s('base')).revert();
    default:
      throw new Error(`unknown operation ${operation}`);
  }
}
