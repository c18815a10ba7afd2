import { isAbsolute, join } from 'node:path';
import { VirtError } from 'virtkit';

/**
 * Longest name (in UTF-8 bytes) that may become a file name: leaves room for the `.xml`
 * suffix and the temporary-file decoration inside the usual 255-byte limit.
 *
 * @internal
 */
export const MAX_NAME_BYTES = 200;

/**
 * What a validated name is used for; picks the wording of the error.
 *
 * @internal
 */
export type NameKind = 'domain' | 'snapshot' | 'checkpoint';

/**
 * Why `name` cannot become a path component, or `undefined` when it can: no `/`, no NUL,
 * no newline, no leading `.` (which also rules out `.` and `..`), not empty, at most
 * {@link MAX_NAME_BYTES} bytes.
 *
 * @internal
 */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return "name can't be empty";
  if (name.includes('/')) return "name can't contain '/'";
  if (name.includes('\0')) return "name can't contain NUL";
  if (name.includes('\n')) return "name can't contain a newline";
  if (name.startsWith('.')) return "name can't start with '.'";
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES)
    return `name can't be longer than ${MAX_NAME_BYTES} bytes`;
  return undefined;
}

/**
 * Refuses a name from XML that cannot be stored as a file (libvirt's wording:
 * "invalid snapshot name 'a/b': name can't contain '/'").
 *
 * @throws `XML_DETAIL` naming the problem.
 * @internal
 */
export function assertStorableName(kind: NameKind, name: string): void {
  const problem = nameProblem(name);
  if (problem !== undefined) {
    throw new VirtError('XML_DETAIL', `invalid ${kind} name '${printable(name)}': ${problem}`);
  }
}

/**
 * Whether `name` could be stored at all; lookups of other names answer "not found".
 *
 * @internal
 */
export function isStorableName(name: string): boolean {
  return nameProblem(name) === undefined;
}

/**
 * The directory layout of one embedded root (DESIGN.md):
 *
 * ```
 * ROOT/domains/<domain>.xml
 * ROOT/snapshots/<domain>/<snapshot>.xml
 * ROOT/checkpoints/<domain>/<checkpoint>.xml
 * ROOT/run/<domain>/            runtime state (part 2: qmp.sock, pid)
 * ROOT/journal/<domain>.json    intent journal of an unfinished operation
 * ROOT/locks/<domain>.lock      cross-process lock (pid of the holder)
 * ```
 *
 * Every method takes names that were validated with {@link nameProblem}; it re-checks and
 * throws `INTERNAL_ERROR` rather than ever building a path from a hostile name.
 *
 * @internal
 */
export class RootLayout {
  constructor(readonly root: string) {
    if (!isAbsolute(root)) throw new VirtError('INTERNAL_ERROR', `root '${root}' is not absolute`);
  }

  get domainsDir(): string {
    return join(this.root, 'domains');
  }

  get snapshotsDir(): string {
    return join(this.root, 'snapshots');
  }

  get checkpointsDir(): string {
    return join(this.root, 'checkpoints');
  }

  get runDir(): string {
    return join(this.root, 'run');
  }

  get journalDir(): string {
    return join(this.root, 'journal');
  }

  get locksDir(): string {
    return join(this.root, 'locks');
  }

  /** Top-level directories, created 0700 on connect. */
  get topDirs(): string[] {
    return [
      this.domainsDir,
      this.snapshotsDir,
      this.checkpointsDir,
      this.runDir,
      this.journalDir,
      this.locksDir,
    ];
  }

  domainFile(domain: string): string {
    return join(this.domainsDir, `${safe(domain)}.xml`);
  }

  snapshotDir(domain: string): string {
    return join(this.snapshotsDir, safe(domain));
  }

  snapshotFile(domain: string, snapshot: string): string {
    return join(this.snapshotDir(domain), `${safe(snapshot)}.xml`);
  }

  checkpointDir(domain: string): string {
    return join(this.checkpointsDir, safe(domain));
  }

  checkpointFile(domain: string, checkpoint: string): string {
    return join(this.checkpointDir(domain), `${safe(checkpoint)}.xml`);
  }

  domainRunDir(domain: string): string {
    return join(this.runDir, safe(domain));
  }

  journalFile(domain: string): string {
    return join(this.journalDir, `${safe(domain)}.json`);
  }

  lockFile(domain: string): string {
    return join(this.locksDir, `${safe(domain)}.lock`);
  }
}

/**
 * Names of the `*.xml` files in a listing, without the suffix; temporary files are skipped.
 *
 * @internal
 */
export function namesFromListing(entries: readonly string[]): string[] {
  return entries
    .filter((e) => e.endsWith('.xml') && !e.startsWith('.'))
    .map((e) => e.slice(0, -'.xml'.length))
    .filter(isStorableName);
}

function safe(name: string): string {
  const problem = nameProblem(name);
  if (problem !== undefined) {
    throw new VirtError(
      'INTERNAL_ERROR',
      `refusing to build a path from name '${printable(name)}': ${problem}`,
    );
  }
  return name;
}

function printable(name: string): string {
  let out = '';
  for (const c of name) {
    const code = c.charCodeAt(0);
    out += code < 0x20 ? `\\x${code.toString(16).padStart(2, '0')}` : c;
  }
  return out;
}
