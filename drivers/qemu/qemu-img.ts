import { execFile } from 'node:child_process';
import { VirtError } from 'virtkit';

/**
 * Output of a finished command.
 *
 * @internal
 */
export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Options of one {@link CommandRunner} call.
 *
 * @internal
 */
export interface CommandRunOptions {
  /** Receives stdout as it arrives (qemu-img `-p` progress lines), before the command ends. */
  readonly onStdout?: (chunk: string) => void;
}

/**
 * Runs `file` with `args` (never through a shell) and resolves with its output, or rejects
 * with a {@link CommandFailure} when it cannot be started or exits non-zero. Injectable so
 * unit tests can assert argv and benchmarks can record the commands a driver runs.
 *
 * @internal
 */
export type CommandRunner = (
  file: string,
  args: readonly string[],
  options?: CommandRunOptions,
) => Promise<CommandResult>;

/**
 * Why a command failed: exit code (null when it could not start or was killed) and stderr.
 *
 * @internal
 */
export class CommandFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly signal?: string,
  ) {
    super(message);
    this.name = 'CommandFailure';
  }
}

/**
 * The default {@link CommandRunner}: `execFile` with an argument array, `LC_ALL=C`.
 *
 * @internal
 */
export const execFileRunner: CommandRunner = (file, args, options = {}) =>
  new Promise((resolve, reject) => {
    const child = execFile(
      file,
      [...args],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ stdout, stderr });
          return;
        }
        const code = typeof error.code === 'number' ? error.code : null;
        const reason = typeof error.code === 'string' ? error.code : (error.signal ?? `exit status ${code}`);
        reject(new CommandFailure(`${reason}`, code, stderr, error.signal ?? undefined));
      },
    );
    const onStdout = options.onStdout;
    if (onStdout !== undefined) child.stdout?.on('data', (chunk: string) => onStdout(chunk));
  });

/**
 * A persistent dirty bitmap as `qemu-img info` reports it.
 *
 * @internal
 */
export interface BitmapInfo {
  readonly name: string;
  readonly granularity: number;
  /** `auto` = enabled (recording), `in-use` = inconsistent / open by a running QEMU. */
  readonly flags: readonly string[];
}

/**
 * An internal snapshot as `qemu-img info` reports it.
 *
 * @internal
 */
export interface InternalSnapshotInfo {
  readonly id: string;
  readonly name: string;
}

/**
 * One image of `qemu-img info --output=json [--backing-chain]`.
 *
 * @internal
 */
export interface ImageInfo {
  readonly filename: string;
  readonly format: string;
  readonly virtualSize: number;
  /** Backing file as recorded in the header (possibly relative). */
  readonly backingFilename: string | undefined;
  /** Backing file resolved against the image's directory. */
  readonly fullBackingFilename: string | undefined;
  readonly backingFormat: string | undefined;
  readonly snapshots: readonly InternalSnapshotInfo[];
  readonly bitmaps: readonly BitmapInfo[];
}

/**
 * Options of {@link QemuImg}.
 *
 * @internal
 */
export interface QemuImgOptions {
  /** Path or name of the qemu-img binary. @defaultValue `'qemu-img'` (looked up on PATH) */
  readonly binary?: string;
  /** How commands run. @defaultValue {@link execFileRunner} */
  readonly runner?: CommandRunner;
}

/**
 * A typed wrapper over the qemu-img subcommands the qemu driver uses. Every failure becomes
 * a `VirtError` whose `details` hold the argv, exit code and stderr.
 *
 * @internal
 */
export class QemuImg {
  readonly binary: string;
  readonly #runner: CommandRunner;

  constructor(options: QemuImgOptions = {}) {
    this.binary = options.binary ?? 'qemu-img';
    this.#runner = options.runner ?? execFileRunner;
  }

  /** `info --output=json [--backing-chain]`; the top image first. */
  async info(path: string, options: { backingChain?: boolean } = {}): Promise<ImageInfo[]> {
    const args = [
      'info',
      '--output=json',
      ...(options.backingChain === true ? ['--backing-chain'] : []),
      path,
    ];
    const { stdout } = await this.run(args);
    const parsed = parseJson(stdout, args, this.binary);
    return (Array.isArray(parsed) ? parsed : [parsed]).map(toImageInfo);
  }

  /** `snapshot -c NAME IMAGE`. */
  async snapshotCreate(image: string, name: string): Promise<void> {
    await this.run(['snapshot', '-c', name, image]);
  }

  /** `snapshot -a NAME IMAGE` (qemu-img matches an id before a name: callers check). */
  async snapshotApply(image: string, name: string): Promise<void> {
    await this.run(['snapshot', '-a', name, image]);
  }

  /** `snapshot -d NAME IMAGE`. */
  async snapshotDelete(image: string, name: string): Promise<void> {
    await this.run(['snapshot', '-d', name, image]);
  }

  /** `create -f qcow2 -b BACKING -F BACKINGFMT IMAGE`: a new overlay of the backing's size. */
  async createOverlay(image: string, backing: string, backingFormat: string): Promise<void> {
    await this.run(['create', '-q', '-f', 'qcow2', '-b', backing, '-F', backingFormat, image]);
  }

  /** `bitmap --add [-g GRANULARITY] [--disable] IMAGE NAME`. */
  async bitmapAdd(
    image: string,
    name: string,
    options: { granularity?: number; disabled?: boolean } = {},
  ): Promise<void> {
    const g = options.granularity === undefined ? [] : ['-g', String(options.granularity)];
    const d = options.disabled === true ? ['--disable'] : [];
    await this.run(['bitmap', '--add', ...g, ...d, '--', image, name]);
  }

  /** `bitmap --remove IMAGE NAME`. */
  async bitmapRemove(image: string, name: string): Promise<void> {
    await this.run(['bitmap', '--remove', '--', image, name]);
  }

  /** `bitmap --merge SOURCE IMAGE TARGET`: ORs bitmap SOURCE into TARGET, both in IMAGE. */
  async bitmapMerge(image: string, source: string, target: string): Promise<void> {
    await this.run(['bitmap', '--merge', source, '--', image, target]);
  }

  /**
   * `bitmap --merge SOURCE -b SOURCEIMAGE -F SOURCEFMT IMAGE TARGET`: ORs bitmap SOURCE of
   * another image into TARGET of IMAGE (SOURCEIMAGE may be backed by IMAGE).
   */
  async bitmapMergeFrom(
    image: string,
    target: string,
    sourceImage: string,
    sourceFormat: string,
    source: string,
  ): Promise<void> {
    await this.run(['bitmap', '--merge', source, '-b', sourceImage, '-F', sourceFormat, '--', image, target]);
  }

  /**
   * `commit [-d] [-b BASE] IMAGE` (for external snapshot deletion). With `onProgress`, runs
   * with `-p` and reports the percentage qemu-img prints while it copies.
   */
  async commit(
    image: string,
    options: { base?: string; keepTop?: boolean; onProgress?: PercentListener } = {},
  ): Promise<void> {
    const b = options.base === undefined ? [] : ['-b', options.base];
    const verbosity = options.onProgress === undefined ? '-q' : '-p';
    const args = ['commit', verbosity, ...(options.keepTop === true ? ['-d'] : []), ...b, image];
    await this.run(args, options.onProgress);
  }

  /** `rebase [-u] -b BACKING -F FMT IMAGE` (for external snapshot deletion). */
  async rebase(
    image: string,
    backing: string,
    backingFormat: string,
    options: { unsafe?: boolean } = {},
  ): Promise<void> {
    const u = options.unsafe === true ? ['-u'] : [];
    await this.run(['rebase', '-q', ...u, '-f', 'qcow2', '-b', backing, '-F', backingFormat, image]);
  }

  /** `check -q -r leaks -f qcow2 IMAGE`: reclaims clusters allocated but referenced by nothing. */
  async repairLeaks(image: string): Promise<void> {
    await this.run(['check', '-q', '-r', 'leaks', '-f', 'qcow2', image]);
  }

  /**
   * Runs `qemu-img ARGS`, turning a failure into `OPERATION_FAILED` with the details; with
   * `onPercent`, parses the `-p` progress qemu-img prints to stdout while it runs.
   */
  async run(args: readonly string[], onPercent?: PercentListener): Promise<CommandResult> {
    try {
      if (onPercent === undefined) return await this.#runner(this.binary, args);
      return await this.#runner(this.binary, args, { onStdout: progressParser(onPercent) });
    } catch (cause) {
      throw commandError(this.binary, args, cause);
    }
  }
}

/**
 * Receives the percentage (0–100) of a qemu-img command run with `-p`, each time it grows.
 *
 * @internal
 */
export type PercentListener = (percent: number) => void;

/**
 * Turns qemu-img's `-p` output (`"    (12.34/100%)\r"`, repeated, in arbitrary chunks) into
 * calls of `onPercent`, once per increase.
 *
 * @internal
 */
export function progressParser(onPercent: PercentListener): (chunk: string) => void {
  let pending = '';
  let last = -1;
  return (chunk) => {
    pending += chunk;
    let percent: number | undefined;
    for (const m of pending.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)) percent = Number(m[1]);
    // Keep an unfinished tail for the next chunk.
    const end = Math.max(pending.lastIndexOf('\r'), pending.lastIndexOf('\n'), pending.lastIndexOf(')'));
    pending = pending.slice(end + 1);
    if (percent !== undefined && percent > last) {
      last = percent;
      onPercent(Math.min(percent, 100));
    }
  };
}

/**
 * What to say when the qemu-img binary cannot be found.
 *
 * @internal
 */
export const QEMU_IMG_MISSING =
  "qemu-img not found: install Debian's qemu-utils or set driverOptions.qemuImg";

/**
 * The first line qemu-img wrote to stderr, without its `qemu-img: ` prefix.
 *
 * @internal
 */
export function stderrSummary(stderr: string): string {
  const line = stderr.split('\n').find((l) => l.trim().length > 0) ?? '';
  return line.replace(/^qemu-img: /, '').trim();
}

function commandError(binary: string, args: readonly string[], cause: unknown): VirtError {
  const failure = cause instanceof CommandFailure ? cause : undefined;
  if (failure?.exitCode === null && failure.message === 'ENOENT') {
    // The binary went away after connect() found it (libvirt: "unable to find qemu-img").
    return new VirtError('INTERNAL_ERROR', `${QEMU_IMG_MISSING} ('${binary}')`, {
      cause,
      driver: 'qemu',
      details: { command: [binary, ...args] },
    });
  }
  const stderr = failure?.stderr ?? '';
  const why = stderrSummary(stderr) || (cause instanceof Error ? cause.message : String(cause));
  const verb = args.slice(0, 2).join(' ');
  return new VirtError('OPERATION_FAILED', `qemu-img ${verb} failed: ${why}`, {
    cause,
    driver: 'qemu',
    details: { command: [binary, ...args], exitCode: failure?.exitCode ?? null, stderr },
  });
}

function parseJson(text: string, args: readonly string[], binary: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new VirtError('OPERATION_FAILED', `qemu-img ${args[0] ?? ''} printed invalid JSON`, {
      cause,
      driver: 'qemu',
      details: { command: [binary, ...args] },
    });
  }
}

interface RawInfo {
  filename?: string;
  format?: string;
  'virtual-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'backing-filename-format'?: string;
  snapshots?: { id?: string; name?: string }[];
  'format-specific'?: { data?: { bitmaps?: { name?: string; granularity?: number; flags?: string[] }[] } };
}

function toImageInfo(raw: unknown): ImageInfo {
  const r = (raw ?? {}) as RawInfo;
  return {
    filename: r.filename ?? '',
    format: r.format ?? '',
    virtualSize: r['virtual-size'] ?? 0,
    backingFilename: r['backing-filename'],
    fullBackingFilename: r['full-backing-filename'],
    backingFormat: r['backing-filename-format'],
    snapshots: (r.snapshots ?? []).map((s) => ({ id: s.id ?? '', name: s.name ?? '' })),
    bitmaps: (r['format-specific']?.data?.bitmaps ?? []).map((b) => ({
      name: b.name ?? '',
      granularity: b.granularity ?? 0,
      flags: b.flags ?? [],
    })),
  };
}
