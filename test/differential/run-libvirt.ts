import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SUITE_DIR, scenarioPath, type LoadedScenario, type ScenarioRun } from './scenario.js';

// Starts Runner A (run-libvirt.py) on Debian's python3-libvirt and reads its JSON.

/** Debian's interpreter: python3-libvirt is installed for it, not for a pyenv python3 on PATH. */
export const SYSTEM_PYTHON = '/usr/bin/python3';
/** Runner A. */
export const LIBVIRT_RUNNER = join(SUITE_DIR, 'run-libvirt.py');

/** Why libvirt's test driver cannot be used here, or undefined when it can. */
export function libvirtUnavailableReason(): string | undefined {
  try {
    execFileSync(SYSTEM_PYTHON, ['-c', 'import libvirt; libvirt.open("test:///default").close()'], {
      stdio: 'pipe',
      timeout: 30_000,
    });
    return undefined;
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    const detail =
      stderr === undefined || stderr === '' ? String(err) : (stderr.split('\n').at(-1) ?? stderr);
    return `${SYSTEM_PYTHON} cannot use python3-libvirt (${detail}); install Debian's python3-libvirt`;
  }
}

/** Runs scenarios on libvirt's test driver in one Python process (fresh connection per scenario). */
export async function runAllOnLibvirt(scenarios: readonly LoadedScenario[]): Promise<ScenarioRun[]> {
  const files = scenarios.map((s) => scenarioPath(s.file));
  const { stdout } = await promisify(execFile)(SYSTEM_PYTHON, [LIBVIRT_RUNNER, ...files], {
    maxBuffer: 256 * 1024 * 1024,
    timeout: 300_000,
  });
  return JSON.parse(stdout) as ScenarioRun[];
}
