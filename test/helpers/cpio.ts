// A minimal writer for the cpio "newc" format (what the Linux kernel unpacks as an initramfs):
// directories, regular files and symlinks, owned by root, with fixed timestamps.

/** One entry of an archive; parent directories are added automatically. */
export type CpioEntry =
  | { readonly type: 'dir'; readonly path: string; readonly mode?: number }
  | {
      readonly type: 'file';
      readonly path: string;
      readonly data: Uint8Array | string;
      readonly mode?: number;
    }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/**
 * The archive bytes: entries sorted so every directory precedes what it holds, ending with the
 * `TRAILER!!!` record. Paths are relative to the root (`init`, `bin/busybox`); a leading `/` or
 * `./` is dropped. A path given twice is an error.
 */
export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const byPath = new Map<string, { mode: number; data: Buffer }>();
  const add = (path: string, mode: number, data: Buffer): void => {
    if (byPath.has(path)) throw new Error(`cpio: '${path}' is given twice`);
    byPath.set(path, { mode, data });
  };
  for (const e of entries) {
    const path = normalize(e.path);
    for (const dir of parents(path)) if (!byPath.has(dir)) add(dir, S_IFDIR | 0o755, Buffer.alloc(0));
    switch (e.type) {
      case 'dir':
        byPath.delete(path); // an explicit mode wins over an implied parent
        add(path, S_IFDIR | (e.mode ?? 0o755), Buffer.alloc(0));
        break;
      case 'file':
        add(path, S_IFREG | (e.mode ?? 0o644), Buffer.from(e.data));
        break;
      case 'symlink':
        add(path, S_IFLNK | 0o777, Buffer.from(e.target));
        break;
    }
  }
  const chunks: Buffer[] = [];
  let ino = 1;
  const sorted = [...byPath].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [path, { mode, data }] of sorted) chunks.push(...record(path, mode, data, ino++));
  chunks.push(...record('TRAILER!!!', 0, Buffer.alloc(0), 0));
  return Buffer.concat(chunks);
}

function normalize(path: string): string {
  const p = path.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
  if (p === '' || p.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new Error(`cpio: invalid path '${path}'`);
  }
  return p;
}

function parents(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

function record(name: string, mode: number, data: Buffer, ino: number): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`);
  const isDir = (mode & 0o170000) === S_IFDIR;
  const fields = [
    ino,
    mode,
    0, // uid
    0, // gid
    isDir ? 2 : 1, // nlink
    0, // mtime
    data.length,
    0, // devmajor
    0, // devminor
    0, // rdevmajor
    0, // rdevminor
    nameBytes.length,
    0, // check (newc: unused)
  ];
  const header = Buffer.from(`070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`, 'ascii');
  return [header, nameBytes, pad(header.length + nameBytes.length), data, pad(data.length)];
}

function pad(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}
