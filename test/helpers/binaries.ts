import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Whether a missing binary must fail the run (CI) instead of skipping. */
export const REQUIRE_QEMU = process.env.REQUIRE_QEMU === '1' || process.env.CI === 'true';

/**
 * Finds `name` on PATH. Absent: returns undefined with a printed reason, or throws when
 * REQUIRE_QEMU=1 / CI=true. Present but failing `--version`: throws (a test failure, never a skip).
 */
export function findBinary(name: string, versionArgs: readonly string[] = ['--version']): string | undefined {
  const path = lookPath(name);
  if (path === undefined) {
    const reason = `${name} not found on PATH (install Debian's qemu-utils / qemu-system-x86)`;
    if (REQUIRE_QEMU) throw new Error(`${reason}; REQUIRE_QEMU=1 or CI=true makes this a failure`);
    console.warn(`skipping: ${reason}`);
    return undefined;
  }
  execFileSync(path, [...versionArgs], { stdio: 'pipe', timeout: 30_000 });
  return path;
}

function lookPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
