// Seeded random walks over create / revert / delete of external (and a few internal)
// snapshots on a two-disk domain, with every remaining snapshot, the current state and the
// image directory verified after each step. A refusal must change nothing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isVirtError, type Connection, type Domain } from 'virtkit';
import { DataModel, differences, doomedNames, MODEL_SLOTS, rng } from './qemu-external-model.js';
import { domainXml, HAVE_QEMU, hashTree, makeDisks, newWorld, open, type World } from './qemu-fixture.js';

// VIRTKIT_WALK_SEEDS=1,2,3 VIRTKIT_WALK_STEPS=80 runs longer walks (VIRTKIT_LOG_WALK=1 prints them).
const STEPS = Number(process.env.VIRTKIT_WALK_STEPS ?? 30);
const SEEDS = (process.env.VIRTKIT_WALK_SEEDS ?? '7,1234').split(',').map(Number);
const MODES = ['self', 'self', 'self', 'children', 'childrenOnly'] as const;
const SLOTS = Array.from({ length: MODEL_SLOTS }, (_, i) => i);

describe.runIf(HAVE_QEMU)('qemu driver: random external snapshot trees', () => {
  let world: World;
  let conn: Connection;
  let dom: Domain;

  beforeEach(async () => {
    world = newWorld();
    conn = await open(world);
    dom = await conn.defineDomain(domainXml('vm', makeDisks(world, ['vda', 'vdb'])));
  });

  afterEach(async () => {
    await conn.close();
    world.cleanup();
  });

  it.each(SEEDS)(
    `seed %i: ${STEPS} steps, every snapshot and the current state verified after each`,
    async (seed) => {
      const random = rng(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
      const model = new DataModel(2);
      const log: string[] = [];
      const counts = { create: 0, internal: 0, revert: 0, delete: 0, refused: 0 };
      for (let step = 0; step < STEPS; step++) {
        const slots = [...new Set([pick(SLOTS), pick(SLOTS), pick(SLOTS)])];
        await model.write(dom, slots);
        const names = [...model.snapshots.keys()];
        const roll = random();
        const before = { root: hashTree(world.root), images: hashTree(world.images) };
        try {
          if (names.length < 2 || roll < 0.4) {
            const name = `s${step}`;
            const internal = roll > 0.37 && roll < 0.4;
            await dom.createSnapshot({ name }, internal ? {} : { diskOnly: true });
            model.snapshot(name);
            log.push(`${internal ? 'internal' : 'create'} ${name}`);
            counts[internal ? 'internal' : 'create']++;
          } else if (roll < 0.7) {
            const name = pick(names);
            log.push(`revert ${name}`);
            await (await dom.lookupSnapshotByName(name)).revert();
            model.revert(name);
            counts.revert++;
          } else {
            const name = pick(names);
            const mode = pick(MODES);
            log.push(`delete ${name} ${mode}`);
            const snap = await dom.lookupSnapshotByName(name);
            const doomed = await doomedNames(snap, mode);
            await snap.delete(mode === 'self' ? {} : { [mode]: true });
            model.forget(doomed);
            counts.delete++;
          }
        } catch (err) {
          if (!isVirtError(err, 'OPERATION_UNSUPPORTED')) throw err;
          log.push(`  refused: ${err.message}`);
          counts.refused++;
          expect({ root: hashTree(world.root), images: hashTree(world.images) }).toEqual(before);
        }
        expect(await differences(dom, model, world), log.join('\n')).toEqual([]);
      }
      if (process.env.VIRTKIT_LOG_WALK !== undefined) console.log(log.join('\n'), counts);
      expect(counts.create + counts.internal + counts.revert + counts.delete + counts.refused).toBe(STEPS);
      expect(counts.revert).toBeGreaterThan(3);
      expect(counts.delete).toBeGreaterThan(3);
    },
  );
});
