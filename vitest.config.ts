import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const r = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Mirrors the tsconfig paths: drivers, tests and examples import the public names.
const alias = [
  { find: /^virtkit\/drivers\/(.*)$/, replacement: r('./drivers/$1/index.ts') },
  { find: /^virtkit\/qmp$/, replacement: r('./qmp/index.ts') },
  { find: /^virtkit$/, replacement: r('./src/index.ts') },
];

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'drivers/**/*.test.ts', 'qmp/**/*.test.ts', 'test/unit/**/*.test.ts'],
          exclude: ['drivers/**/*.integration.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'conformance',
          include: ['test/conformance/**/*.test.ts', 'test/differential/**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'drivers/**/*.integration.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          retry: 0,
          // One file at a time: QEMU tests are heavy and the machine has 2 cores.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          sequence: { concurrent: false },
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'examples',
          include: ['test/examples.test.ts', 'test/package/**/*.test.ts'],
          testTimeout: 300_000,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
