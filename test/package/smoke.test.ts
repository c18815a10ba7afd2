import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('built package', () => {
  it('loads every subpath as ESM and CJS with one core, one registry, one error brand', () => {
    if (!existsSync(`${root}dist/index.js`) || statSync(`${root}dist/index.js`).mtimeMs < newestSource()) {
      execFileSync('npx', ['tsup', '--silent'], { cwd: root, stdio: 'pipe' });
    }
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

function newestSource(): number {
  const out = execFileSync('find', ['src', 'drivers', 'qmp', '-name', '*.ts', '-newer', 'dist/index.js'], {
    cwd: root,
    encoding: 'utf8',
  });
  return out.trim() === '' ? 0 : Number.POSITIVE_INFINITY;
}
