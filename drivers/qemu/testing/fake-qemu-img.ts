import { writeFileSync } from 'node:fs';
import { CommandFailure, type CommandResult, type CommandRunner } from '../qemu-img.js';

/**
 * An image as the fake knows it.
 *
 * @internal
 */
export interface FakeImage {
  format: string;
  backing?: string;
  snapshots: { id: string; name: string }[];
  bitmaps: { name: string; granularity: number; flags: string[] }[];
  /** Name of the internal snapshot whose data the active layer holds (for apply checks). */
  data: string;
}

/**
 * A tiny in-memory stand-in for qemu-img, for unit tests of argv and of the journal state
 * machine only (integration tests use the real binary). Files are touched on disk so the
 * driver's existence checks behave.
 *
 * @internal
 */
export class FakeQemuImg {
  readonly images = new Map<string, FakeImage>();
  readonly calls: string[][] = [];
  /** Fails the next call whose argv matches. */
  failWhen: ((argv: readonly string[]) => boolean) | undefined;

  readonly runner: CommandRunner = async (_file, args) => this.#run([...args]);

  add(path: string, image: Partial<FakeImage> = {}): void {
    writeFileSync(path, 'fake');
    this.images.set(path, { format: 'qcow2', snapshots: [], bitmaps: [], data: 'base', ...image });
  }

  #run(argv: string[]): CommandResult {
    this.calls.push(argv);
    if (this.failWhen?.(argv) === true) {
      this.failWhen = undefined;
      throw new CommandFailure('exit status 1', 1, `qemu-img: injected failure of ${argv[0] ?? ''}\n`);
    }
    const [cmd, ...rest] = argv;
    switch (cmd) {
      case 'info':
        return this.#info(rest);
      case 'snapshot':
        return this.#snapshot(rest);
      case 'bitmap':
        return this.#bitmap(rest);
      case 'create':
        return this.#create(rest);
      case 'check':
        this.#image(rest.at(-1));
        return { stdout: '', stderr: '' };
      default:
        throw new CommandFailure('exit status 1', 1, `qemu-img: unknown command ${cmd ?? ''}\n`);
    }
  }

  #image(path: string | undefined): FakeImage {
    const img = path === undefined ? undefined : this.images.get(path);
    if (img === undefined)
      throw new CommandFailure('exit status 1', 1, `qemu-img: Could not open '${path ?? ''}'\n`);
    return img;
  }

  #info(args: string[]): CommandResult {
    const path = args[args.length - 1];
    const chain = args.includes('--backing-chain');
    const out: unknown[] = [];
    for (let p = path; p !== undefined; p = chain ? this.images.get(p)?.backing : undefined) {
      const img = this.#image(p);
      out.push({
        filename: p,
        format: img.format,
        'virtual-size': 1 << 20,
        ...(img.backing === undefined
          ? {}
          : { 'backing-filename': img.backing, 'full-backing-filename': img.backing }),
        snapshots: img.snapshots,
        'format-specific': { type: 'qcow2', data: { bitmaps: img.bitmaps } },
      });
    }
    return { stdout: JSON.stringify(chain ? out : out[0]), stderr: '' };
  }

  #snapshot(args: string[]): CommandResult {
    const [flag, name = '', path] = args;
    const img = this.#image(path);
    const found = img.snapshots.find((s) => s.name === name);
    switch (flag) {
      case '-c':
        img.snapshots.push({ id: String(img.snapshots.length + 1), name });
        return ok();
      case '-a':
        if (img.bitmaps.length > 0)
          throw fail(`Could not apply snapshot '${name}': Device has active dirty bitmaps`);
        if (found === undefined) throw fail(`Could not apply snapshot '${name}': snapshot not found`);
        img.data = name;
        return ok();
      case '-d':
        if (found === undefined) throw fail(`Could not delete snapshot '${name}': snapshot not found`);
        img.snapshots = img.snapshots.filter((s) => s !== found);
        return ok();
      default:
        throw fail(`bad snapshot flag ${flag ?? ''}`);
    }
  }

  #bitmap(args: string[]): CommandResult {
    const sep = args.indexOf('--');
    const [path, name = ''] = args.slice(sep + 1);
    const img = this.#image(path);
    if (args[0] === '--add') {
      const g = args.indexOf('-g');
      img.bitmaps.push({ name, granularity: g < 0 ? 65536 : Number(args[g + 1]), flags: ['auto'] });
    } else if (args[0] === '--remove') {
      if (!img.bitmaps.some((b) => b.name === name)) throw fail(`Dirty bitmap '${name}' not found`);
      img.bitmaps = img.bitmaps.filter((b) => b.name !== name);
    } else if (args[0] !== '--merge') {
      throw fail(`bad bitmap flag ${args[0] ?? ''}`);
    }
    return ok();
  }

  #create(args: string[]): CommandResult {
    const path = args[args.length - 1] ?? '';
    const b = args.indexOf('-b');
    this.add(path, { backing: args[b + 1] });
    return ok();
  }
}

function ok(): CommandResult {
  return { stdout: '', stderr: '' };
}

function fail(message: string): CommandFailure {
  return new CommandFailure('exit status 1', 1, `qemu-img: ${message}\n`);
}
