import { execFileSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Benchmarks measure the package applications run: the built dist/, not the TypeScript sources
// that tsx would load through the tsconfig path mapping. tsx compiles with esbuild's keepNames,
// which adds an Object.defineProperty call to every closure created in a hot path (a one-result
// snapshot listing measured ~20x slower from the sources than from dist/).

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const MARK = 'VIRTKIT_BENCH_ON_DIST';

/**
 * Makes sure the rest of the benchmark runs on dist/: when this process does not already, it
 * rebuilds dist/ if a source is newer, runs the same command again with a tsconfig without the
 * `virtkit` path mapping (children inherit it), and returns true: the caller then exits.
 */
export async function rerunOnBuiltPackage(): Promise<boolean> {
  if (process.env[MARK] === '1') return false;
  if (distIsStale()) execFileSync('npx', ['tsup', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [MARK]: '1', TSX_TSCONFIG_PATH: `${ROOT}bench/tsconfig.run.json` },
  });
  process.exitCode = await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  return true;
}

function distIsStale(): boolean {
  const built = `${ROOT}dist/index.js`;
  if (!existsSync(built)) return true;
  const newer = execFileSync('find', ['src', 'drivers', '-name', '*.ts', '-newer', built], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return newer.trim() !== '' || statSync(`${ROOT}package.json`).mtimeMs > statSync(built).mtimeMs;
}
