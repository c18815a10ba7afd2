// The persistent dirty bitmaps of a qcow2 image, read straight from the file (qcow2 spec,
// "Bitmaps" header extension, bitmap directory, bitmap tables): names, flags, granularity and
// the dirty extents. Used where tests compare images, so that a bitmap that is present under
// the right name but lost a merge (or gained bits) counts as different. In-process and
// read-only: no qemu-img, qemu-nbd or lock, fast enough for every kill point of the crash sweep.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const QCOW2_MAGIC = 0x514649fb;
const BITMAPS_EXTENSION = 0x23852875;
const END_OF_EXTENSIONS = 0;
/** Bits 9-55 of a bitmap table entry: the host offset of a cluster of bitmap data. */
const ENTRY_OFFSET_MASK = 0x00fffffffffffe00n;
const FLAG_NAMES: readonly [number, string][] = [
  [1 << 0, 'in-use'],
  [1 << 1, 'auto'],
  [1 << 2, 'extra-data-compatible'],
];

/** One persistent bitmap of an image. */
export interface Qcow2Bitmap {
  readonly name: string;
  /** As `qemu-img info` names them: `in-use`, `auto`, … (unknown bits as `0x…`). */
  readonly flags: readonly string[];
  readonly granularity: number;
  /** Dirty byte ranges of the virtual disk, `[offset, length]`, merged and in order. */
  readonly dirty: readonly (readonly [number, number])[];
}

/**
 * The persistent bitmaps of the qcow2 image at `path`, in directory order ([] for an image
 * without the bitmaps extension).
 *
 * @throws Error when the file is not a qcow2 image or its bitmap metadata is out of bounds.
 */
export function readQcow2Bitmaps(path: string): Qcow2Bitmap[] {
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    const read = (offset: number, length: number): Buffer => {
      if (offset < 0 || offset + length > fileSize)
        throw new Error(`${path}: ${length} bytes at ${offset} lie outside the file`);
      const buf = Buffer.alloc(length);
      if (readSync(fd, buf, 0, length, offset) !== length)
        throw new Error(`${path}: short read at ${offset}`);
      return buf;
    };
    const header = read(0, 104);
    if (header.readUInt32BE(0) !== QCOW2_MAGIC) throw new Error(`${path}: not a qcow2 image`);
    const version = header.readUInt32BE(4);
    const clusterSize = 2 ** header.readUInt32BE(20);
    const virtualSize = Number(header.readBigUInt64BE(24));
    // Extensions follow the header: at header_length (v3) or right after the 72-byte v2 header.
    let at = version >= 3 ? header.readUInt32BE(100) : 72;
    for (;;) {
      const ext = read(at, 8);
      const type = ext.readUInt32BE(0);
      const length = ext.readUInt32BE(4);
      if (type === END_OF_EXTENSIONS) return [];
      if (type === BITMAPS_EXTENSION) {
        const data = read(at + 8, 24);
        const count = data.readUInt32BE(0);
        const dirSize = Number(data.readBigUInt64BE(8));
        const dirOffset = Number(data.readBigUInt64BE(16));
        return readDirectory(read(dirOffset, dirSize), count, { read, clusterSize, virtualSize });
      }
      at += 8 + Math.ceil(length / 8) * 8;
    }
  } finally {
    closeSync(fd);
  }
}

interface ImageReader {
  readonly read: (offset: number, length: number) => Buffer;
  readonly clusterSize: number;
  readonly virtualSize: number;
}

function readDirectory(dir: Buffer, count: number, image: ImageReader): Qcow2Bitmap[] {
  const bitmaps: Qcow2Bitmap[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const tableOffset = Number(dir.readBigUInt64BE(at));
    const tableSize = dir.readUInt32BE(at + 8);
    const flagBits = dir.readUInt32BE(at + 12);
    const granularity = 2 ** dir.readUInt8(at + 17);
    const nameSize = dir.readUInt16BE(at + 18);
    const extraSize = dir.readUInt32BE(at + 20);
    const nameAt = at + 24 + extraSize;
    const name = dir.toString('utf8', nameAt, nameAt + nameSize);
    at += Math.ceil((24 + extraSize + nameSize) / 8) * 8;
    const flags = FLAG_NAMES.filter(([bit]) => (flagBits & bit) !== 0).map(([, n]) => n);
    const unknown = FLAG_NAMES.reduce((rest, [bit]) => rest & ~bit, flagBits);
    if (unknown !== 0) flags.push(`0x${unknown.toString(16)}`);
    const table = image.read(tableOffset, tableSize * 8);
    bitmaps.push({ name, flags, granularity, dirty: dirtyExtents(table, tableSize, granularity, image) });
  }
  return bitmaps;
}

/**
 * Walks the bitmap table: an entry with a cluster offset points to a cluster of bits (bit j
 * of byte i covers granule 8i + j of that cluster's range), an entry without one is all zeros,
 * or all ones when its bit 0 is set.
 */
function dirtyExtents(
  table: Buffer,
  tableSize: number,
  granularity: number,
  image: ImageReader,
): [number, number][] {
  const granulesPerCluster = image.clusterSize * 8;
  const granules = Math.ceil(image.virtualSize / granularity);
  const out: [number, number][] = [];
  const mark = (granule: number, n: number): void => {
    const start = granule * granularity;
    const end = Math.min((granule + n) * granularity, image.virtualSize);
    const last = out.at(-1);
    if (last !== undefined && last[0] + last[1] === start) last[1] = end - last[0];
    else out.push([start, end - start]);
  };
  for (let e = 0; e < tableSize; e++) {
    const first = e * granulesPerCluster;
    if (first >= granules) break;
    const count = Math.min(granulesPerCluster, granules - first);
    const entry = table.readBigUInt64BE(e * 8);
    const offset = Number(entry & ENTRY_OFFSET_MASK);
    if (offset === 0) {
      if ((entry & 1n) === 1n) mark(first, count);
      continue;
    }
    const bits = image.read(offset, image.clusterSize);
    for (let g = 0; g < count; g++) {
      if (((bits[g >> 3] ?? 0) >> (g & 7)) & 1) mark(first + g, 1);
    }
  }
  return out;
}

/**
 * A bitmap as one comparable line, e.g. `c1 auto 65536 dirty 0+131072 1048576+65536`: two
 * images with the same bitmaps but different dirty extents give different lines.
 */
export function describeBitmap(b: Qcow2Bitmap): string {
  const dirty = b.dirty.length === 0 ? 'clean' : `dirty ${b.dirty.map(([o, l]) => `${o}+${l}`).join(' ')}`;
  return `${b.name} ${b.flags.join('+') || '-'} ${b.granularity} ${dirty}`;
}

/** Every persistent bitmap of the image at `path` as {@link describeBitmap} lines, sorted. */
export function bitmapStates(path: string): string[] {
  return readQcow2Bitmaps(path).map(describeBitmap).sort();
}
