// Helpers of the package tests: build dist/ when sources are newer, and pack the tarball
// exactly as `npm publish` would.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));

/** Runs tsup when dist/ is missing or older than a source file. */
export function ensureBuilt(): void {
  if (!existsSync(`${root}dist/index.js`) || statSync(`${root}dist/index.js`).mtimeMs < newestSource()) {
    execFileSync('npx', ['tsup', '--silent'], { cwd: root, stdio: 'pipe' });
  }
}

/** What `npm pack` puts in the tarball; with `destination`, the tarball is written there. */
export function pack(destination?: string): { filename: string; files: string[] } {
  const args = [
    'pack',
    '--json',
    '--silent',
    '--ignore-scripts',
    ...(destination === undefined ? ['--dry-run'] : ['--pack-destination', destination]),
  ];
  const out = execFileSync('npm', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [report] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  if (report === undefined) throw new Error('npm pack printed no report');
  return { filename: report.filename, files: report.files.map((f) => f.path) };
}

function newestSource(): number {
  const out = execFileSync('find', ['src', 'drivers', 'qmp', '-name', '*.ts', '-newer', 'dist/index.js'], {
    cwd: root,
    encoding: 'utf8',
  });
  return out.trim() === '' ? 0 : Number.POSITIVE_INFINITY;
}
