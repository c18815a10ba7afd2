import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ensureBuilt, root } from './pack.js';

describe('built package', () => {
  it('loads every subpath as ESM and CJS with one core, one registry, one error brand', () => {
    ensureBuilt();
    const out = execFileSync(process.execPath, ['test/package/smoke.mjs'], { cwd: root, encoding: 'utf8' });
    const report = JSON.parse(out.trim().split('\n').pop()!);
    expect(report).toEqual({
      distinctCopies: true,
      sharedRegistry: true,
      drivers: ['test', 'test', 'qemu', 'qemu'],
      cjsConnect: ['test'],
      cjsErrorIsEsmVirtError: true,
      cjsErrorCode: true,
      esmErrorIsCjsVirtError: true,
      qmp: ['function', 'function'],
      qmpErrors: [
        ['NO_CONNECT', true, true, true],
        ['NO_CONNECT', true, true, true],
      ],
    });
  });
});
