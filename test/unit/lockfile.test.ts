// The committed lockfile must install with `npm ci` on any platform, whatever the registry served
// the day it was written: every optional dependency of every locked package (rollup's and
// esbuild's binaries for other systems) has its own entry. scripts/test.sh runs `npm ci` itself;
// this test names the missing entries without a registry.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface LockEntry {
  readonly version?: string;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
}

const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as {
  readonly lockfileVersion: number;
  readonly packages: Readonly<Record<string, LockEntry>>;
};

/** Where Node would find `name` from the package at `from` (its own node_modules, then each parent's). */
function resolveFrom(from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
    if (lock.packages[candidate] !== undefined) return candidate;
    if (base === '') return undefined;
    const i = base.lastIndexOf('/node_modules/');
    base = i < 0 ? '' : base.slice(0, i);
  }
}

describe('package-lock.json', () => {
  it('lists every optional dependency of every locked package, for every platform', () => {
    expect(lock.lockfileVersion).toBe(3);
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      for (const name of Object.keys(entry.optionalDependencies ?? {})) {
        if (resolveFrom(path, name) === undefined) missing.push(`${path} -> ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('holds one copy of esbuild (tsup, tsx and vite share it)', () => {
    const copies = Object.keys(lock.packages).filter((p) => /(^|\/)node_modules\/esbuild$/.test(p));
    expect(copies).toEqual(['node_modules/esbuild']);
  });
});
