// The crash sweep's bitmap reader (qcow2-bitmaps.ts): it agrees with QEMU's own view of the
// dirty extents (qemu-nbd + nbdinfo), and two images whose bitmaps differ only in their
// extents — a checkpoint delete that lost its merge — compare as different, where the names
// and flags of `qemu-img info` are the same.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findBinary } from '../helpers/binaries.js';
import { bitmapStates, readQcow2Bitmaps } from './qcow2-bitmaps.js';
import { HAVE_QEMU, img, info, newWorld, SLOT, writeSlot, type World } from './qemu-fixture.js';

const NBDINFO = HAVE_QEMU ? findBinary('nbdinfo') : undefined;
const QEMU_NBD = HAVE_QEMU ? findBinary('qemu-nbd') : undefined;

/** Dirty extents of bitmap `name` as QEMU exports them (qemu:dirty-bitmap meta context). */
function nbdDirty(path: string, name: string): [number, number][] {
  const nbd = [QEMU_NBD ?? 'qemu-nbd', '-r', '-f', 'qcow2', '-B', name, path];
  const r = spawnSync(
    NBDINFO ?? 'nbdinfo',
    ['--json', `--map=qemu:dirty-bitmap:${name}`, '--', '[', ...nbd, ']'],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`nbdinfo failed: ${r.stderr}`);
  const extents = JSON.parse(r.stdout) as { offset: number; length: number; type: number }[];
  return extents.filter((e) => e.type === 1).map((e) => [e.offset, e.length]);
}

/** `qemu-img info`'s view, which the sweep compared before: names and flags only. */
function namesAndFlags(path: string): string[] {
  return (info(path)['format-specific']?.data?.bitmaps ?? [])
    .map((b) => `${b.name}:${b.flags.join('+')}`)
    .sort();
}

describe.runIf(HAVE_QEMU)('qcow2 bitmap reader of the crash sweep', () => {
  let world: World;
  beforeEach(() => {
    world = newWorld('virtkit-bitmaps-');
  });
  afterEach(() => world.cleanup());

  const image = (name: string, size = '16M'): string => {
    const path = join(world.images, `${name}.qcow2`);
    img(['create', '-q', '-f', 'qcow2', path, size]);
    return path;
  };

  it('reads names, flags, granularity and dirty extents as QEMU exports them', () => {
    // One 64 KiB cluster holds 512 Ki bits: at a 512-byte granularity the 600 MiB image's
    // bitmap spans three clusters (slot 9000 lies in the third).
    const path = image('a', '600M');
    img(['bitmap', '--add', path, 'b64k']);
    img(['bitmap', '--add', '-g', '131072', path, 'b128k']);
    img(['bitmap', '--add', '-g', '512', path, 'b512']);
    for (const [slot, p] of [
      [0, 1],
      [3, 2],
      [4, 3],
      [9000, 4],
    ] as const)
      writeSlot(path, 'qcow2', slot, p);
    img(['bitmap', '--disable', path, 'b128k']);
    writeSlot(path, 'qcow2', 20, 5);
    img(['bitmap', '--add', '--disable', path, 'off']);

    const bitmaps = readQcow2Bitmaps(path);
    expect(bitmaps.map((b) => [b.name, b.flags, b.granularity])).toEqual([
      ['b64k', ['auto'], 65536],
      ['b128k', [], 131072],
      ['b512', ['auto'], 512],
      ['off', [], 65536],
    ]);
    for (const b of bitmaps) expect(b.dirty, b.name).toEqual(nbdDirty(path, b.name));
    expect(bitmaps[0]?.dirty).toEqual([
      [0, SLOT],
      [3 * SLOT, 2 * SLOT],
      [20 * SLOT, SLOT],
      [9000 * SLOT, SLOT],
    ]);
    expect(bitmaps[3]?.dirty).toEqual([]);
  });

  it('tells a lost bitmap merge from a done one, where qemu-img info cannot', () => {
    // checkpoint c1, a write, checkpoint c2 (c1 disabled), a write, then "delete c2":
    // merge c2 into c1, enable c1, remove c2 — the lost variant skips the merge.
    const states = [true, false].map((merge) => {
      const path = image(merge ? 'merged' : 'lost');
      img(['bitmap', '--add', path, 'c1']);
      writeSlot(path, 'qcow2', 0, 1);
      img(['bitmap', '--disable', path, 'c1']);
      img(['bitmap', '--add', path, 'c2']);
      writeSlot(path, 'qcow2', 1, 2);
      if (merge) img(['bitmap', '--merge', 'c2', path, 'c1']);
      img(['bitmap', '--enable', path, 'c1']);
      img(['bitmap', '--remove', path, 'c2']);
      return { flags: namesAndFlags(path), states: bitmapStates(path) };
    });
    const [merged, lost] = states;
    expect(merged?.flags).toEqual(['c1:auto']);
    expect(lost?.flags).toEqual(merged?.flags);
    expect(merged?.states).toEqual([`c1 auto 65536 dirty 0+${2 * SLOT}`]);
    expect(lost?.states).toEqual([`c1 auto 65536 dirty 0+${SLOT}`]);
    expect(JSON.stringify(lost)).not.toEqual(JSON.stringify(merged));
  });

  it('an image without bitmaps has none', () => {
    expect(readQcow2Bitmaps(image('plain'))).toEqual([]);
  });
});
