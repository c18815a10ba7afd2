/**
 * What the qemu benchmarks share to measure libvirt 9.0's qemu driver: libvirtd on
 * qemu:///system (started with ../shared/tools/start-libvirtd.sh when it is not running, and
 * stopped again at the end), and a python3-libvirt worker that answers one JSON request per line.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const LIBVIRT_URI = 'qemu:///system';
export const SYSTEM_PYTHON = '/usr/bin/python3';
const START_LIBVIRTD = fileURLToPath(new URL('../../shared/tools/start-libvirtd.sh', import.meta.url));

/** What every worker answer carries; each worker script adds its own fields. */
export interface WorkerAnswer {
  ok: boolean;
  error?: string;
  library?: string;
  hypervisor?: string;
}

/** A python3-libvirt worker script: one JSON request per line, one answer per line. */
export class LibvirtWorker<A extends WorkerAnswer = WorkerAnswer> {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiting: ((answer: A) => void)[] = [];
  readonly #refusal: (message: string) => Error;
  #stderr = '';
  #gone: string | undefined;

  /** `refusal` makes the error `must` throws (the benchmark's own refusal class). */
  constructor(script: string, refusal: (message: string) => Error = (m) => new Error(m)) {
    this.#refusal = refusal;
    this.#child = spawn(SYSTEM_PYTHON, [script, LIBVIRT_URI], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stderr.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    this.#child.on('error', (err) => this.#fail(err.message));
    this.#child.stdin.on('error', (err) => this.#fail(err.message));
    this.#child.on('exit', (code) => this.#fail(`worker exited with ${code ?? 'a signal'}`));
    createInterface({ input: this.#child.stdout }).on('line', (line) =>
      this.#waiting.shift()?.(JSON.parse(line) as A),
    );
  }

  #fail(why: string): void {
    this.#gone ??= `${why}${this.#stderr === '' ? '' : `: ${this.#stderr.trim()}`}`;
    for (const resolve of this.#waiting.splice(0)) resolve({ ok: false, error: this.#gone } as A);
  }

  request(message: Record<string, unknown>): Promise<A> {
    return new Promise((resolve) => {
      if (this.#gone !== undefined) return resolve({ ok: false, error: this.#gone } as A);
      this.#waiting.push(resolve);
      this.#child.stdin.write(`${JSON.stringify(message)}\n`);
    });
  }

  /** Sends a request and returns its answer. @throws the refusal error with libvirt's message. */
  async must(message: Record<string, unknown>): Promise<A> {
    const answer = await this.request(message);
    if (!answer.ok) throw this.#refusal(answer.error ?? 'unknown error');
    return answer;
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.stdin.end();
    await exited;
  }
}

/** A running libvirtd with a worker attached. */
export interface Libvirt<A extends WorkerAnswer = WorkerAnswer> {
  readonly worker: LibvirtWorker<A>;
  readonly banner: string;
  /** The subreaper wrapping libvirtd when this run started it. */
  readonly startedPid: number | undefined;
  /** Closes the worker, stops the libvirtd this run started, and says why the column is missing. */
  readonly fail: (what: string) => Promise<string>;
}

/** Runs a command; `out` is its stdout and stderr (or the failure) on one line. */
export function run(
  file: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<{ ok: boolean; stdout: string; out: string }> {
  return new Promise((resolve) => {
    execFile(file, [...args], { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      const out = `${stdout}\n${stderr}`.trim() || (err?.message ?? '');
      resolve({ ok: err === null, stdout, out: out.replace(/\s*\n\s*/g, ' ') });
    });
  });
}

/** libvirtd on qemu:///system and a worker that said hello, or why the libvirt column is missing. */
export async function openLibvirt<A extends WorkerAnswer>(
  script: string,
  refusal?: (message: string) => Error,
): Promise<Libvirt<A> | string> {
  let startedPid: number | undefined;
  let how = 'libvirtd was already running';
  const probe = await run('virsh', ['-c', LIBVIRT_URI, 'version'], 10_000);
  if (!probe.ok) {
    if (process.getuid?.() !== 0) return `libvirtd is not running and starting it needs root (${probe.out})`;
    if (!existsSync(START_LIBVIRTD)) return `libvirtd is not running and ${START_LIBVIRTD} is missing`;
    const t = performance.now();
    const started = await run(START_LIBVIRTD, [], 60_000);
    if (!started.ok) return `libvirtd is not running and ${START_LIBVIRTD} failed: ${started.out}`;
    startedPid = Number(started.stdout.trim().split('\n').at(-1));
    how =
      `libvirtd was not running: started it with ${START_LIBVIRTD} (subreaper pid ${startedPid}, ` +
      `${((performance.now() - t) / 1000).toFixed(1)} s); it is stopped at the end`;
  }
  const worker = new LibvirtWorker<A>(script, refusal);
  const fail = async (what: string): Promise<string> => {
    await worker.close();
    const stopped = await stopLibvirtd(startedPid);
    return `${what}${stopped === undefined ? '' : ` (${stopped})`}`;
  };
  const hello = await worker.request({ cmd: 'hello' });
  if (!hello.ok)
    return fail(`python3-libvirt worker (${SYSTEM_PYTHON}) failed: ${hello.error ?? 'no answer'}`);
  const banner =
    `libvirt ${hello.library ?? '?'} (${LIBVIRT_URI}, ${hello.hypervisor ?? '?'}) through python3-libvirt; ` +
    how;
  return { worker, banner, startedPid, fail };
}

/** Stops the libvirtd this run started (SIGTERM to its subreaper, which forwards it). */
export async function stopLibvirtd(pid: number | undefined): Promise<string | undefined> {
  if (pid === undefined || !Number.isInteger(pid)) return undefined;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return `libvirtd (subreaper pid ${pid}) had already exited`;
  }
  for (let i = 0; i < 1000 && alive(pid); i++) await new Promise((r) => setTimeout(r, 10));
  return alive(pid)
    ? `libvirtd (subreaper pid ${pid}) did not stop within 10 s`
    : `libvirtd stopped (subreaper pid ${pid})`;
}

/** Whether a process exists and is not a zombie (PID 1 here reaps orphans late). */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
