import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { REQUIRE_QEMU } from './helpers/binaries.js';

// Every example is a program a user could copy: run each main() and check it prints and succeeds.
const dir = fileURLToPath(new URL('../examples/', import.meta.url));
const examples = readdirSync(dir)
  .filter((f) => /^\d\d-.*\.ts$/.test(f))
  .sort();

describe('examples', () => {
  it('exist', () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  it.each(examples)('%s runs', async (file) => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(' '));
    });
    try {
      const url = pathToFileURL(join(dir, file)).href;
      const mod = (await import(/* @vite-ignore */ url)) as { main?: () => Promise<void> };
      expect(typeof mod.main).toBe('function');
      await mod.main!();
    } finally {
      spy.mockRestore();
    }
    expect(lines.length).toBeGreaterThan(0);
    // An example that needs QEMU says so and returns; in CI that is a failure, not a skip.
    if (REQUIRE_QEMU) expect(lines.join('\n')).not.toMatch(/not found: install/);
  });
});
