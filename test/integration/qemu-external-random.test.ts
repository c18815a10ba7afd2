// Seeded random walks over create / revert / delete of external (and a few internal)
// snapshots on a two-disk domain, with every remaining snapshot, the current state and the
// image directory verified after each step. A refusal must change nothing. After deletes the
// walk reverts to internal snapshots now and then; at the end every internal snapshot must be
// revertible by following what a refusal says (delete the snapshots it names): no dead end.
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
      const counts = { create: 0, internal: 0, revert: 0, delete: 0, refused: 0, internalRevert: 0 };
      const internals = new Set<string>();
      const state = async () => ({ root: hashTree(world.root), images: hashTree(world.images) });
      /** Reverts to internal snapshot `name`; a refusal must name existing snapshots to delete and change nothing. */
      const revertInternal = async (name: string): Promise<string[] | undefined> => {
        const before = await state();
        try {
          await (await dom.lookupSnapshotByName(name)).revert();
          model.revert(name);
          log.push(`revert internal ${name}`);
          return undefined;
        } catch (err) {
          if (!isVirtError(err, 'OPERATION_UNSUPPORTED')) throw err;
          log.push(`revert internal ${name}\n  refused: ${err.message}`);
          expect(await state()).toEqual(before);
          const advice = /Delete ((?:'[^']+'(?:, )?)+) first/.exec(err.message);
          expect(advice, err.message).not.toBeNull();
          const names = [...advice![1]!.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
          for (const n of names) expect(model.snapshots.has(n), err.message).toBe(true);
          return names;
        }
      };
      for (let step = 0; step < STEPS; step++) {
        const slots = [...new Set([pick(SLOTS), pick(SLOTS), pick(SLOTS)])];
        await model.write(dom, slots);
        const names = [...model.snapshots.keys()];
        const roll = random();
        const before = { root: hashTree(world.root), images: hashTree(world.images) };
        try {
          if (names.length < 2 || roll < 0.4) {
            const name = `s${step}`;
            const internal = roll > 0.34 && roll < 0.4;
            await dom.createSnapshot({ name }, internal ? {} : { diskOnly: true });
            model.snapshot(name);
            if (internal) internals.add(name);
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
            for (const d of doomed) internals.delete(d);
            counts.delete++;
            const left = [...internals];
            if (left.length > 0) {
              expect(await differences(dom, model, world), log.join('\n')).toEqual([]);
              if ((await revertInternal(pick(left))) === undefined) counts.internalRevert++;
            }
          }
        } catch (err) {
          if (!isVirtError(err, 'OPERATION_UNSUPPORTED')) throw err;
          log.push(`  refused: ${err.message}`);
          counts.refused++;
          expect({ root: hashTree(world.root), images: hashTree(world.images) }).toEqual(before);
        }
        expect(await differences(dom, model, world), log.join('\n')).toEqual([]);
      }
      // no dead end: every internal snapshot can be reverted to, after deleting what a refusal names
      for (const name of [...internals]) {
        for (let tries = 0; internals.has(name); tries++) {
          expect(tries, log.join('\n')).toBeLessThan(20);
          const blockers = await revertInternal(name);
          if (blockers === undefined) break;
          for (const b of blockers) {
            log.push(`delete ${b} self (advised)`);
            await (await dom.lookupSnapshotByName(b)).delete();
            model.forget([b]);
            internals.delete(b);
          }
          expect(await differences(dom, model, world), log.join('\n')).toEqual([]);
        }
        if (internals.has(name)) counts.internalRevert++;
        expect(await differences(dom, model, world), log.join('\n')).toEqual([]);
      }
      if (process.env.VIRTKIT_LOG_WALK !== undefined) console.log(log.join('\n'), counts);
      expect(counts.create + counts.internal + counts.revert + counts.delete + counts.refused).toBe(STEPS);
      expect(counts.revert).toBeGreaterThan(3);
      if (counts.internal > 0) expect(counts.internalRevert).toBeGreaterThan(0);
      expect(counts.delete).toBeGreaterThan(3);
    },
  );
});
