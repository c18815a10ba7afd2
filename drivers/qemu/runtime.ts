import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  constants,
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import {
  formatDomainXml,
  parseDomainXml,
  VirtError,
  type DomainDef,
  type DomainEventDetail,
  type DomainEventType,
  type DomainIdentity,
  type DomainStateInfo,
  type DriverEventSink,
} from 'virtkit';
import { QmpClient, type QmpEvent } from 'virtkit/qmp';
import { probeKvm } from './accelerator.js';
import { DIR_MODE, FILE_MODE, readTextIfExistsSync } from './atomic-file.js';
import { buildQemuArgv } from './command-line.js';
import { parseQemuDomain } from './domain-model.js';
import { isStorableName, type RootLayout } from './layout.js';
import { processStartTime } from './lock.js';

/** What the driver records about a running QEMU in `run/<domain>/status.json`. */
interface RunStatus {
  readonly pid: number;
  /** `/proc/<pid>/stat` start time: a reused pid is not mistaken for our QEMU. */
  readonly start: string;
  readonly id: number;
  readonly uuid: string;
  transient: boolean;
  state: DomainStateInfo;
  /** QEMU sent `SHUTDOWN`: its exit is a shutdown, not a crash. */
  gotShutdown: boolean;
  /** `destroy` was asked for: the exit is DESTROYED. */
  destroying: boolean;
}

/** Why the last QEMU of a domain stopped, kept in `run/<domain>/stopped.json`. */
interface StoppedRecord {
  readonly pid: number;
  readonly state: DomainStateInfo;
}

interface Live {
  readonly name: string;
  status: RunStatus;
  /** The long-lived QMP connection when this connection owns the monitor. */
  qmp?: QmpClient;
  /** Exit detection of a domain whose monitor another connection holds. */
  poll?: NodeJS.Timeout;
  /** Reason of the next STOP (set by suspend). */
  expectStop?: 'USER';
  /** The `cont` of start: its RESUME is not an event. */
  starting: boolean;
  finished: boolean;
}

/** The files of one QEMU in its run directory (the directory also keeps `generation`, `qemu.log`). */
const RUNTIME_FILES = ['pid', 'qmp.sock', 'cmd.sock', 'status.json', 'live.xml', 'owner'] as const;

/** Connections of this process that own monitors (an owner file naming a closed one is stale). */
const liveOwners = new Set<string>();

const POLL_MS = 500;
const SHUTDOWN_POLL_MS = 20;
const TERM_GRACE_MS = 3000;
const KILL_WAIT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 30_000;
const COMMAND_TIMEOUT_MS = 30_000;

/**
 * The QEMU processes of one qemu connection: starts them detached, owns or shares their QMP
 * monitors, follows their lifecycle events and re-attaches to those a previous connection (or
 * a killed process) left running. See "Running domains" in docs/qemu-driver.md.
 *
 * @internal
 */
export class QemuRuntime {
  readonly #layout: RootLayout;
  readonly #events: DriverEventSink;
  readonly #binary: string;
  readonly #live = new Map<string, Live>();
  readonly #nonce = randomBytes(8).toString('hex');
  #closing = false;

  constructor(layout: RootLayout, events: DriverEventSink, binary: string | undefined) {
    this.#layout = layout;
    this.#events = events;
    this.#binary = binary ?? 'qemu-system-x86_64';
    liveOwners.add(this.#nonce);
  }

  /** Re-attaches to every domain with a QEMU recorded in `run/`; reports the ones that died. */
  async reattachAll(): Promise<void> {
    let entries: string[];
    try {
      entries = readdirSync(this.#layout.runDir);
    } catch {
      return;
    }
    for (const name of entries) {
      if (!isStorableName(name)) continue;
      await this.#find(name).catch(() => undefined);
    }
  }

  /** Names of the domains with a live QEMU (transient ones included). */
  async activeNames(): Promise<string[]> {
    await this.reattachAll();
    return [...this.#live.keys()];
  }

  /** The running instance of `name`, if any. */
  async status(name: string): Promise<Readonly<RunStatus> | undefined> {
    return (await this.#find(name))?.status;
  }

  /** The live definition of a running domain. */
  async liveDef(name: string): Promise<DomainDef | undefined> {
    const live = await this.#find(name);
    if (live === undefined) return undefined;
    const text = readTextIfExistsSync(this.#paths(name).live);
    return text === undefined ? undefined : parseDomainXml(text);
  }

  /** The live XML: the definition the QEMU was started with, with `id='N'` on `<domain>`. */
  async liveXml(name: string, secure: boolean): Promise<string | undefined> {
    const live = await this.#find(name);
    const def = await this.liveDef(name);
    if (live === undefined || def === undefined) return undefined;
    const { type, ...rest } = def.element.attributes;
    const element = {
      ...def.element,
      attributes: { type: type ?? 'qemu', id: String(live.status.id), ...rest },
    };
    return formatDomainXml({ ...def, element }, { secure });
  }

  /** Why the domain's last QEMU stopped (for `getState` of a shut-off domain). */
  stoppedState(name: string): DomainStateInfo | undefined {
    const text = readTextIfExistsSync(this.#paths(name).stopped);
    if (text === undefined) return undefined;
    try {
      return (JSON.parse(text) as StoppedRecord).state;
    } catch {
      return undefined;
    }
  }

  /** Marks a running persistent domain transient (undefine while running). */
  async makeTransient(name: string): Promise<void> {
    const live = await this.#find(name);
    if (live === undefined) return;
    live.status.transient = true;
    this.#writeStatus(live);
  }

  /**
   * Starts `def` (libvirt's `qemuProcessStart`): checks it can run before anything is
   * written, spawns QEMU detached with `-S`, connects QMP and continues unless `paused`.
   */
  async start(def: DomainDef, options: { paused: boolean; transient: boolean }): Promise<number> {
    if ((await this.#find(def.name)) !== undefined)
      throw new VirtError('OPERATION_INVALID', 'domain is already running');
    const qdef = parseQemuDomain(def);
    const binary = findExecutable(this.#binary);
    if (binary === undefined) {
      throw new VirtError(
        'OPERATION_UNSUPPORTED',
        `${this.#binary} not found: install Debian's qemu-system-x86 (or set driverOptions.qemuSystem) to run domains`,
        { driver: 'qemu', details: { qemuSystem: this.#binary } },
      );
    }
    const kvm = qdef.type === 'kvm' ? await probeKvm() : undefined;
    const p = this.#paths(def.name);
    const argv = buildQemuArgv(qdef, { runDir: p.dir, qmpSocket: p.qmp, pidFile: p.pid, paused: true, kvm });
    argv.push('-chardev', `socket,id=charcmd,path=${p.cmd},server=on,wait=off`);
    argv.push('-mon', 'chardev=charcmd,id=cmdmonitor,mode=control');

    mkdirSync(p.dir, { recursive: true, mode: DIR_MODE });
    chmodSync(p.dir, DIR_MODE);
    for (const f of [...RUNTIME_FILES, 'stopped.json']) rmSync(join(p.dir, f), { force: true });
    const logFd = openSync(p.log, 'w', FILE_MODE);
    let pid: number | undefined;
    let exited: Promise<string>;
    try {
      const child = spawn(binary, argv, { detached: true, stdio: ['ignore', logFd, logFd] });
      exited = new Promise<string>((resolve) => {
        child.once('error', (err) => resolve(`cannot run '${this.#binary}': ${err.message}`));
        child.once('exit', (code, signal) => resolve(`QEMU exited (${signal ?? code})`));
      });
      child.unref();
      pid = child.pid;
    } finally {
      closeSync(logFd);
    }
    let qmp: QmpClient | undefined;
    try {
      const connecting = QmpClient.connect(p.qmp, {
        waitForSocket: true,
        timeoutMs: CONNECT_TIMEOUT_MS,
        commandTimeoutMs: COMMAND_TIMEOUT_MS,
      });
      const outcome = await Promise.race([connecting, exited.then((why) => why)]);
      if (typeof outcome === 'string') {
        connecting.then((c) => c.close()).catch(() => undefined);
        throw new VirtError(
          'OPERATION_FAILED',
          `internal error: process exited while connecting to monitor: ${outcome}: ${this.#logTail(def.name)}`,
          { driver: 'qemu', details: { log: p.log } },
        );
      }
      qmp = outcome;
      if (pid === undefined) throw new VirtError('INTERNAL_ERROR', 'QEMU started without a pid');
      const start = processStartTime(pid) ?? '';
      const status: RunStatus = {
        pid,
        start,
        id: this.#nextId(),
        uuid: def.uuid,
        transient: options.transient,
        state: { state: 'paused', reason: 'STARTING_UP' },
        gotShutdown: false,
        destroying: false,
      };
      writeFileSync(p.live, formatDomainXml(def, { secure: true }), { mode: FILE_MODE });
      const live: Live = { name: def.name, status, starting: true, finished: false };
      this.#live.set(def.name, live);
      this.#writeStatus(live);
      this.#own(live, qmp);
      if (!options.paused) await qmp.execute('cont');
      live.starting = false;
      live.status.state = options.paused
        ? { state: 'paused', reason: 'USER' }
        : { state: 'running', reason: 'BOOTED' };
      this.#writeStatus(live);
      this.#emit(live, 'STARTED', 'BOOTED');
      if (options.paused) this.#emit(live, 'SUSPENDED', 'PAUSED');
      return status.id;
    } catch (err) {
      this.#live.delete(def.name);
      await qmp?.close().catch(() => undefined);
      if (pid !== undefined) await killAndWait(pid, processStartTime(pid), 0);
      this.#removeRuntimeFiles(def.name);
      throw err;
    }
  }

  /** `virDomainDestroy`: SIGTERM, SIGKILL after a grace period (not with `graceful`), wait, clean up. */
  async destroy(name: string, graceful: boolean): Promise<void> {
    const live = await this.#require(name);
    live.status.destroying = true;
    this.#writeStatus(live);
    const { pid, start } = live.status;
    const gone = await killAndWait(pid, start, graceful ? KILL_WAIT_MS : TERM_GRACE_MS, !graceful);
    if (!gone) {
      live.status.destroying = false;
      this.#writeStatus(live);
      throw new VirtError('OPERATION_FAILED', `Failed to terminate process ${pid} with SIGTERM`, {
        driver: 'qemu',
        details: { pid },
      });
    }
    this.#finish(live);
  }

  /** `virDomainShutdown`: sends the ACPI power button (`system_powerdown`); returns the QEMU's pid. */
  async shutdown(name: string): Promise<number> {
    const live = await this.#require(name);
    await this.#command(live, 'system_powerdown');
    return live.status.pid;
  }

  /**
   * `shutdown`'s `waitMs`: waits for the QEMU `pid` of `name` to be gone (its STOPPED reported).
   *
   * @throws `OPERATION_TIMEOUT` when it still runs after `waitMs`, `OPERATION_ABORTED` on `signal`.
   */
  async waitStopped(
    name: string,
    pid: number,
    waitMs: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const live = await this.#find(name);
    if (live === undefined || live.status.pid !== pid) return;
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (live.finished) return;
      if (!isOurs(live.status)) {
        // QEMU exited: report it now rather than when the monitor's close is noticed.
        this.#finish(live);
        return;
      }
      if (signal?.aborted === true) {
        throw new VirtError('OPERATION_ABORTED', `shutdown of domain '${name}' was cancelled while waiting`, {
          cause: signal.reason,
        });
      }
      if (Date.now() >= deadline || this.#closing) {
        throw new VirtError(
          'OPERATION_TIMEOUT',
          `domain '${name}' did not shut down within ${waitMs} ms (the guest ignored the ACPI power button?)`,
          { driver: 'qemu', details: { waitMs } },
        );
      }
      await sleep(Math.min(SHUTDOWN_POLL_MS, Math.max(1, deadline - Date.now())));
    }
  }

  async suspend(name: string): Promise<void> {
    const live = await this.#require(name);
    if (live.status.state.state !== 'running')
      throw new VirtError('OPERATION_INVALID', 'domain is not running');
    live.expectStop = 'USER';
    await this.#command(live, 'stop');
    this.#transition(live, { state: 'paused', reason: 'USER' }, 'SUSPENDED', 'PAUSED');
  }

  async resume(name: string): Promise<void> {
    const live = await this.#require(name);
    if (live.status.state.state !== 'paused')
      throw new VirtError('OPERATION_INVALID', 'domain is not paused');
    await this.#command(live, 'cont');
    this.#transition(live, { state: 'running', reason: 'UNPAUSED' }, 'RESUMED', 'UNPAUSED');
  }

  /**
   * libvirt-qemu's `virDomainQemuMonitorCommand`: a QMP command as JSON text (the reply as JSON
   * text, QEMU's errors included), or with `hmp` an HMP line (its output).
   */
  async monitorCommand(name: string, command: string, hmp: boolean): Promise<string> {
    const live = await this.#require(name);
    if (hmp) {
      return (await this.#command(live, 'human-monitor-command', { 'command-line': command })) as string;
    }
    let parsed: { execute?: unknown; arguments?: unknown };
    try {
      parsed = JSON.parse(command) as typeof parsed;
    } catch (cause) {
      throw new VirtError('INTERNAL_ERROR', `cannot parse json ${command}: ${(cause as Error).message}`, {
        cause,
      });
    }
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.execute !== 'string') {
      throw new VirtError('INTERNAL_ERROR', `QMP command '${command}' has no 'execute' member`);
    }
    const args = parsed.arguments as Record<string, unknown> | undefined;
    try {
      return JSON.stringify({ return: await this.#command(live, parsed.execute, args) });
    } catch (err) {
      const d = (err as VirtError).details as { qmpClass?: string; desc?: string } | undefined;
      if (d?.qmpClass !== undefined) return JSON.stringify({ error: { class: d.qmpClass, desc: d.desc } });
      throw err;
    }
  }

  /** Lets go of the monitors; the QEMU processes keep running. */
  async close(): Promise<void> {
    this.#closing = true;
    liveOwners.delete(this.#nonce);
    for (const live of this.#live.values()) {
      if (live.poll !== undefined) clearInterval(live.poll);
      if (live.qmp !== undefined) {
        const owner = readTextIfExistsSync(this.#paths(live.name).owner);
        if (owner?.includes(this.#nonce) === true) rmSync(this.#paths(live.name).owner, { force: true });
        await live.qmp.close().catch(() => undefined);
      }
    }
    this.#live.clear();
  }

  // ---- internals ----

  #paths(name: string) {
    const dir = this.#layout.domainRunDir(name);
    return {
      dir,
      pid: join(dir, 'pid'),
      qmp: join(dir, 'qmp.sock'),
      cmd: join(dir, 'cmd.sock'),
      log: join(dir, 'qemu.log'),
      status: join(dir, 'status.json'),
      live: join(dir, 'live.xml'),
      owner: join(dir, 'owner'),
      stopped: join(dir, 'stopped.json'),
    };
  }

  async #require(name: string): Promise<Live> {
    const live = await this.#find(name);
    if (live === undefined) throw new VirtError('OPERATION_INVALID', 'domain is not running');
    return live;
  }

  /** The live instance of `name`: known, or found in `run/` (started elsewhere, or before). */
  async #find(name: string): Promise<Live | undefined> {
    if (this.#closing) return undefined;
    const known = this.#live.get(name);
    const recorded = this.#readStatus(name);
    if (known !== undefined) {
      if (known.qmp === undefined && recorded !== undefined && recorded.pid === known.status.pid)
        known.status = recorded; // another connection owns the monitor and records changes
      if (recorded === undefined || recorded.pid !== known.status.pid || !isOurs(known.status)) {
        this.#finish(known);
        return recorded === undefined || recorded.pid === known.status.pid ? undefined : this.#find(name);
      }
      return known;
    }
    if (recorded === undefined) return undefined;
    const live: Live = { name, status: recorded, starting: false, finished: false };
    if (!isOurs(recorded)) {
      this.#finish(live);
      return undefined;
    }
    this.#live.set(name, live);
    if (!this.#ownerAlive(name)) {
      const qmp = await QmpClient.connect(this.#paths(name).qmp, {
        timeoutMs: 2000,
        commandTimeoutMs: COMMAND_TIMEOUT_MS,
      }).catch(() => undefined);
      if (qmp !== undefined) {
        this.#own(live, qmp);
        await this.#sync(live).catch(() => undefined);
      }
    }
    if (live.qmp === undefined) this.#watch(live);
    return live;
  }

  #ownerAlive(name: string): boolean {
    const text = readTextIfExistsSync(this.#paths(name).owner);
    if (text === undefined) return false;
    try {
      const o = JSON.parse(text) as { pid: number; start: string; nonce: string };
      if (o.pid === process.pid) return liveOwners.has(o.nonce);
      return processStartTime(o.pid) === o.start;
    } catch {
      return false;
    }
  }

  #own(live: Live, qmp: QmpClient): void {
    live.qmp = qmp;
    const owner = { pid: process.pid, start: processStartTime(process.pid) ?? '', nonce: this.#nonce };
    writeFileSync(this.#paths(live.name).owner, JSON.stringify(owner), { mode: FILE_MODE });
    qmp.on('event', (e) => this.#onEvent(live, e));
    void qmp.closed.then(() => this.#onClosed(live));
  }

  /** After re-attaching as owner: the state QEMU reports wins over the recorded one. */
  async #sync(live: Live): Promise<void> {
    const { status } = await live.qmp!.execute('query-status');
    const now = live.status.state.state;
    if (status === 'running' && now !== 'running')
      live.status.state = { state: 'running', reason: 'UNKNOWN' };
    else if (status !== 'running' && status !== 'shutdown' && now !== 'paused')
      live.status.state = { state: 'paused', reason: 'UNKNOWN' };
    this.#writeStatus(live);
  }

  #watch(live: Live): void {
    live.poll = setInterval(() => {
      if (!isOurs(live.status)) this.#finish(live);
    }, POLL_MS);
    live.poll.unref();
  }

  #onEvent(live: Live, e: QmpEvent): void {
    switch (e.event) {
      case 'STOP':
        this.#transition(
          live,
          { state: 'paused', reason: live.expectStop ?? 'UNKNOWN' },
          'SUSPENDED',
          'PAUSED',
        );
        live.expectStop = undefined;
        break;
      case 'RESUME':
        if (!live.starting)
          this.#transition(live, { state: 'running', reason: 'UNPAUSED' }, 'RESUMED', 'UNPAUSED');
        break;
      case 'SHUTDOWN': {
        // destroy's SIGTERM makes QEMU report a host shutdown; libvirt reports only STOPPED/DESTROYED.
        if (live.status.destroying || this.#readStatus(live.name)?.destroying === true) {
          live.status.destroying = true;
          break;
        }
        live.status.gotShutdown = true;
        const guest = (e.data as { guest?: boolean } | undefined)?.guest === true;
        this.#transition(live, { state: 'shutdown', reason: 'USER' }, 'SHUTDOWN', guest ? 'GUEST' : 'HOST');
        break;
      }
      case 'RESET':
        // libvirt's qemuProcessHandleReset: the REBOOT event, not a lifecycle event.
        this.#events.domainReboot({
          domain: { name: live.name, uuid: live.status.uuid, id: live.status.id },
        });
        break;
      default:
        break;
    }
  }

  async #onClosed(live: Live): Promise<void> {
    if (live.finished || this.#closing) return;
    const deadline = Date.now() + 5000;
    while (isOurs(live.status) && Date.now() < deadline) await sleep(20);
    if (live.finished || this.#closing) return;
    if (isOurs(live.status)) {
      // The monitor closed but QEMU lives: follow it by pid from now on.
      live.qmp = undefined;
      this.#watch(live);
      return;
    }
    this.#finish(live);
  }

  #transition<E extends DomainEventType>(
    live: Live,
    state: DomainStateInfo,
    event: E,
    detail: DomainEventDetail<E>,
  ): void {
    if (live.status.state.state === state.state) return;
    live.status.state = state;
    this.#writeStatus(live);
    this.#emit(live, event, detail);
  }

  /** The QEMU is gone: record why, clean the run directory, report STOPPED (once). */
  #finish(live: Live): void {
    if (live.finished) return;
    live.finished = true;
    if (live.poll !== undefined) clearInterval(live.poll);
    void live.qmp?.close().catch(() => undefined);
    if (this.#live.get(live.name) === live) this.#live.delete(live.name);
    const p = this.#paths(live.name);
    const recorded = this.#readStatus(live.name);
    const mine = recorded === undefined || recorded.pid === live.status.pid;
    const status = recorded !== undefined && mine ? recorded : live.status;
    const destroyed = live.status.destroying || status.destroying;
    const shutdown = live.status.gotShutdown || status.gotShutdown;
    const previous = this.#stoppedRecord(live.name);
    let state: DomainStateInfo;
    let detail: DomainEventDetail<'STOPPED'>;
    if (previous?.pid === live.status.pid) {
      state = previous.state;
      detail =
        state.reason === 'DESTROYED' ? 'DESTROYED' : state.reason === 'SHUTDOWN' ? 'SHUTDOWN' : 'FAILED';
    } else if (destroyed) {
      state = { state: 'shutoff', reason: 'DESTROYED' };
      detail = 'DESTROYED';
    } else if (shutdown) {
      state = { state: 'shutoff', reason: 'SHUTDOWN' };
      detail = 'SHUTDOWN';
    } else {
      state = { state: 'shutoff', reason: 'CRASHED' };
      detail = 'FAILED';
    }
    if (mine) {
      if (status.transient || live.status.transient) {
        rmSync(p.dir, { recursive: true, force: true });
        if (readTextIfExistsSync(this.#layout.domainFile(live.name)) === undefined) {
          rmSync(this.#layout.snapshotDir(live.name), { recursive: true, force: true });
          rmSync(this.#layout.checkpointDir(live.name), { recursive: true, force: true });
        }
      } else {
        this.#removeRuntimeFiles(live.name);
        const record: StoppedRecord = { pid: live.status.pid, state };
        writeFileSync(p.stopped, JSON.stringify(record), { mode: FILE_MODE });
      }
    }
    live.status = { ...live.status, state };
    this.#events.domainEvent({
      domain: { name: live.name, uuid: live.status.uuid, id: -1 },
      event: 'STOPPED',
      detail,
    });
  }

  #stoppedRecord(name: string): StoppedRecord | undefined {
    const text = readTextIfExistsSync(this.#paths(name).stopped);
    try {
      return text === undefined ? undefined : (JSON.parse(text) as StoppedRecord);
    } catch {
      return undefined;
    }
  }

  #emit<E extends DomainEventType>(live: Live, event: E, detail: DomainEventDetail<E>): void {
    const domain: DomainIdentity = { name: live.name, uuid: live.status.uuid, id: live.status.id };
    this.#events.domainEvent({ domain, event, detail });
  }

  async #command(live: Live, command: string, args?: Record<string, unknown>): Promise<unknown> {
    const run = (qmp: QmpClient) => qmp.execute<unknown, string>(command as never, args as never);
    if (live.qmp !== undefined && !live.qmp.isClosed) return run(live.qmp);
    const qmp = await QmpClient.connect(this.#paths(live.name).cmd, {
      timeoutMs: CONNECT_TIMEOUT_MS,
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
    });
    try {
      return await run(qmp);
    } finally {
      await qmp.close().catch(() => undefined);
    }
  }

  #readStatus(name: string): RunStatus | undefined {
    const text = readTextIfExistsSync(this.#paths(name).status);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as RunStatus;
    } catch {
      return undefined;
    }
  }

  #writeStatus(live: Live): void {
    if (live.finished) return;
    const p = this.#paths(live.name);
    const tmp = `${p.status}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(live.status), { mode: FILE_MODE });
      renameSync(tmp, p.status);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  #removeRuntimeFiles(name: string): void {
    const p = this.#paths(name);
    for (const f of RUNTIME_FILES) rmSync(join(p.dir, f), { force: true });
  }

  #logTail(name: string): string {
    const text = readTextIfExistsSync(this.#paths(name).log) ?? '';
    return text.trim().split('\n').slice(-5).join(' | ');
  }

  /** libvirt numbers running domains from 1 up; the counter lives in `run/.nextid`. */
  #nextId(): number {
    const file = join(this.#layout.runDir, '.nextid');
    const n = Number(readTextIfExistsSync(file) ?? '1');
    const id = Number.isInteger(n) && n > 0 ? n : 1;
    writeFileSync(file, String(id + 1), { mode: FILE_MODE });
    return id;
  }
}

/** Whether the recorded QEMU still runs: same pid, same start time (when known), not a zombie. */
function isOurs(status: { readonly pid: number; readonly start: string | undefined }): boolean {
  try {
    const stat = readTextIfExistsSync(`/proc/${status.pid}/stat`);
    if (stat === undefined) return false;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return false;
    return status.start === undefined || fields[19] === status.start;
  } catch {
    return false;
  }
}

/** libvirt's `qemuProcessKill`: SIGTERM, then (unless not `force`) SIGKILL after `graceMs`. */
async function killAndWait(
  pid: number,
  start: string | undefined,
  graceMs: number,
  force = true,
): Promise<boolean> {
  const ours = () => isOurs({ pid, start });
  const signal = (s: NodeJS.Signals) => {
    try {
      if (ours()) process.kill(pid, s);
    } catch {
      // already gone
    }
  };
  signal(graceMs === 0 ? 'SIGKILL' : 'SIGTERM');
  const termDeadline = Date.now() + graceMs;
  while (ours() && Date.now() < termDeadline) await sleep(10);
  if (!ours()) return true;
  if (!force) return false;
  signal('SIGKILL');
  const killDeadline = Date.now() + KILL_WAIT_MS;
  while (ours() && Date.now() < killDeadline) await sleep(10);
  return !ours();
}

/** `name` as a path, or looked up on PATH, when it is an executable file. */
function findExecutable(name: string): string | undefined {
  const candidates = name.includes('/')
    ? [resolve(name)]
    : (process.env['PATH'] ?? '')
        .split(delimiter)
        .filter((d) => d !== '')
        .map((d) => join(d, name));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
