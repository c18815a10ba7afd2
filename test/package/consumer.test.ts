// A TypeScript application that installed the packed tarball: its types resolve under every
// moduleResolution (node10 sees the subpaths through typesVersions), compile without
// @types/node given the lib the README names, and the compiled code runs on this Node (20:
// `await using` downlevelled by TypeScript for target ES2022).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, pack, root } from './pack.js';

const APP = `import { connect, type QemuDriverOptions } from 'virtkit';
import { qemuDriver, type QemuDriverOptions as FromSubpath } from 'virtkit/drivers/qemu';
import { testDriver } from 'virtkit/drivers/test';

const options: FromSubpath = { lockTimeoutMs: 1000 };
const same: QemuDriverOptions = options;

export async function main(): Promise<string> {
  let used: { readonly closed: boolean } | undefined;
  let disks: string[] = [];
  {
    await using conn = await connect('test:///default', { driverOptions: { backupDurationMs: 1 } });
    used = conn;
    disks = (await (await conn.lookupDomainByName('test')).listDisks()).map((d) => d.target);
  }
  return JSON.stringify({ drivers: [testDriver.name, qemuDriver.name], disks, closed: used.closed, lock: same.lockTimeoutMs });
}

export function typo(): unknown {
  // @ts-expect-error -- a misspelt qemu driver option is a compile error
  return connect('qemu:///session', { driverOptions: { qemuImgPath: '/usr/bin/qemu-img' } });
}
`;

// Runs main() and prints its report (closed: the connection was closed by `await using`).
const RUN = `.then(async (m) => { const r = JSON.parse(await m.main()); console.log(JSON.stringify(r)); })`;

let dir: string;
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

beforeAll(() => {
  ensureBuilt();
  // Inside the repository's node_modules, so the package's own dependencies resolve upwards.
  const cache = join(root, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  dir = mkdtempSync(join(cache, 'virtkit-consumer-'));
  const { filename } = pack(dir);
  const pkg = join(dir, 'node_modules', 'virtkit');
  mkdirSync(pkg, { recursive: true });
  execFileSync('tar', ['-xzf', join(dir, filename), '-C', pkg, '--strip-components=1']);
}, 120_000);

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

interface Case {
  readonly name: string;
  readonly file: string;
  readonly compilerOptions: Record<string, unknown>;
  /** How to load the compiled file from the case directory. */
  readonly load?: string;
}

const CASES: Case[] = [
  {
    name: 'moduleResolution node10 (CommonJS), no @types/node: lib ES2022 + esnext.disposable + dom',
    file: 'app.ts',
    compilerOptions: {
      module: 'commonjs',
      moduleResolution: 'node10',
      lib: ['ES2022', 'esnext.disposable', 'dom'],
      types: [],
    },
    load: `Promise.resolve(require('./out/app.js'))${RUN}`,
  },
  {
    name: 'moduleResolution nodenext (ESM) with @types/node: lib ES2022',
    file: 'app.mts',
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', lib: ['ES2022'], types: ['node'] },
    load: `import('./out/app.mjs')${RUN}`,
  },
  {
    name: 'moduleResolution bundler, no @types/node',
    file: 'app.ts',
    compilerOptions: {
      module: 'esnext',
      moduleResolution: 'bundler',
      lib: ['ES2022', 'esnext.disposable', 'dom'],
      types: [],
    },
  },
];

describe('a TypeScript app using the packed package', () => {
  it.each(CASES)('$name: type-checks and runs', (c) => {
    const caseDir = join(dir, c.name.replace(/[^a-z0-9]+/gi, '-'));
    mkdirSync(caseDir);
    writeFileSync(join(caseDir, c.file), APP);
    const config = {
      compilerOptions: {
        target: 'ES2022',
        strict: true,
        skipLibCheck: false,
        outDir: 'out',
        rootDir: '.',
        noEmit: c.load === undefined,
        typeRoots: [join(root, 'node_modules', '@types')],
        ...c.compilerOptions,
      },
      files: [c.file],
    };
    writeFileSync(join(caseDir, 'tsconfig.json'), JSON.stringify(config));
    const compiled = spawn(process.execPath, [tsc, '-p', 'tsconfig.json'], caseDir);
    expect(compiled).toBe('');
    if (c.load === undefined) return;
    const out = spawn(process.execPath, ['-e', c.load], caseDir);
    expect(JSON.parse(out.trim())).toEqual({
      drivers: ['test', 'qemu'],
      disks: ['vda'],
      closed: true,
      lock: 1000,
    });
  });
});

function spawn(file: string, args: string[], cwd: string): string {
  try {
    return execFileSync(file, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}` || String(err);
  }
}
