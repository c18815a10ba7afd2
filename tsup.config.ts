import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const entry = {
  index: 'src/index.ts',
  'drivers/test/index': 'drivers/test/index.ts',
  'drivers/qemu/index': 'drivers/qemu/index.ts',
  'qmp/index': 'qmp/index.ts',
};

// Every entry must be a package export and vice versa (unstorage's validatePkg habit).
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { exports: Record<string, unknown> };
const exported = Object.keys(pkg.exports)
  .filter((k) => k !== './package.json')
  .map((k) => (k === '.' ? 'index' : `${k.slice(2)}/index`))
  .sort();
if (JSON.stringify(exported) !== JSON.stringify(Object.keys(entry).sort())) {
  throw new Error(
    `tsup entries ${Object.keys(entry).join(', ')} do not match package.json exports ${exported.join(', ')}`,
  );
}

export default defineConfig({
  entry,
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  splitting: false,
  // Drivers import the core as 'virtkit'; keeping it external means every entry point
  // shares one core at run time (one VirtError class, one registry).
  external: ['virtkit', /^virtkit\//],
});
