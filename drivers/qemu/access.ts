import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { VirtError, type DomainIdentity, type DriverEventSink, type Progress } from 'virtkit';
import { DIR_MODE, FILE_MODE, readTextIfExistsSync, sweepTempFiles } from './atomic-file.js';
import {
  recoverJournal,
  runJournal,
  type FaultInjection,
  type JournalPlan,
  type JournalStep,
} from './journal.js';
import { isStorableName, type RootLayout } from './layout.js';
import { acquireFileLock, isProcessAlive, runExclusive } from './lock.js';
import type { DomainState, MetadataChange, MetadataStore } from './metadata.js';
import type { QemuImg } from './qemu-img.js';

/**
 * What every part of one qemu connection shares.
 *
 * @internal
 */
export interface QemuContext {
  readonly layout: RootLayout;
  readonly store: MetadataStore;
  readonly qemuImg: QemuImg;
  /** Milliseconds since the epoch. */
  readonly clock: () => number;
  readonly events: DriverEventSink;
  readonly faultInjection: FaultInjection | undefined;
  /** How long to wait for another process holding a domain's lock. */
  readonly lockTimeoutMs: number;
}

/**
 * What a mutating operation may do while it holds the domain: run journaled plans.
 *
 * @internal
 */
export interface Transaction {
  /** Runs `steps` (one of which is `commit`) under the domain's journal. */
  run(operation: string, steps: readonly JournalStep[]): Promise<void>;
  /** The id the next {@link Transaction.run} will use (names temporary artefacts). */
  readonly journalId: string;
}

/**
 * Long-operation options forwarded to the journal.
 *
 * @internal
 */
export interface OperationOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: Progress) => void;
}

interface Cached {
  readonly generation: string;
  readonly state: DomainState;
}

/**
 * Serialises access to the domains of one root and caches their loaded state. Every call
 * queues behind earlier calls for the same domain in this process, then takes the domain's
 * lock file, finishes any journal a crashed process left, and (re)loads the domain when
 * another process changed it since (a generation token in `run/<domain>/generation`).
 *
 * @internal
 */
export class DomainAccess {
  readonly #ctx: QemuContext;
  readonly #cache = new Map<string, Cached>();

  constructor(ctx: QemuContext) {
    this.#ctx = ctx;
  }

  /** Runs `fn` on the loaded state of `domain` (read-only use). @throws `NO_DOMAIN`. */
  async read<T>(domain: DomainIdentity, fn: (state: DomainState) => T | Promise<T>): Promise<T> {
    return this.#locked(domain.name, 'read', false, async () => fn(await this.#state(domain)));
  }

  /**
   * Runs a mutating `fn` on the loaded state. `fn` updates the in-memory state (to derive the
   * metadata files to write) and runs its journaled plan; whatever it throws, the cache is
   * dropped so that the next call reloads what is on disk.
   *
   * @throws `NO_DOMAIN`, or what `fn` throws.
   */
  async write<T>(
    domain: DomainIdentity,
    operation: string,
    options: OperationOptions,
    fn: (state: DomainState, tx: Transaction) => Promise<T>,
  ): Promise<T> {
    return this.#locked(domain.name, operation, true, async () => {
      const state = await this.#state(domain);
      return this.#mutate(domain.name, (tx) => fn(state, tx), options);
    });
  }

  /**
   * Runs `fn` with the lock of domain `name` held and its state loaded when it exists (define
   * and undefine, which create or remove the domain).
   */
  async writeByName<T>(
    name: string,
    operation: string,
    fn: (state: DomainState | undefined, tx: Transaction) => Promise<T>,
  ): Promise<T> {
    return this.#locked(name, operation, true, async () => {
      const state = await this.#load(name);
      return this.#mutate(name, (tx) => fn(state, tx), {});
    });
  }

  /**
   * Runs a lifecycle change of domain `name` (start, create, shutdown, destroy, suspend,
   * resume) with its lock held, so that two processes never start one domain twice; `fn`
   * gets the loaded state when the domain is persistent (a transient one has none). Nothing
   * is written to the metadata.
   */
  async lifecycle<T>(
    name: string,
    operation: string,
    fn: (state: DomainState | undefined) => Promise<T>,
  ): Promise<T> {
    return this.#locked(name, operation, false, async () => fn(await this.#load(name)));
  }

  /** Finishes a crashed operation of `name`, if any (used on connect). */
  async recover(name: string): Promise<void> {
    await this.#locked(name, 'recover', true, async () => undefined);
  }

  async #locked<T>(name: string, operation: string, strict: boolean, work: () => Promise<T>): Promise<T> {
    if (!isStorableName(name)) throw noDomain(name);
    const { layout } = this.#ctx;
    return runExclusive(`${layout.root}\0${name}`, async () => {
      const release = await acquireFileLock(layout.lockFile(name), {
        what: `domain '${name}'`,
        operation,
        timeoutMs: this.#ctx.lockTimeoutMs,
      });
      try {
        await this.#recoverJournal(name, strict);
        return await work();
      } finally {
        await release();
      }
    });
  }

  async #recoverJournal(name: string, strict: boolean): Promise<void> {
    try {
      const { layout, events } = this.#ctx;
      const recovered = await recoverJournal(layout.journalFile(name), this.#ctx, (e) => events.recovery(e));
      if (recovered !== undefined) {
        this.#cache.delete(name);
        await this.#sweep(name);
        await this.#settle(name);
      }
    } catch (err) {
      this.#cache.delete(name);
      if (strict) throw err;
    }
  }

  /** Temporary metadata files that dead processes left for domain `name`. */
  async #sweep(name: string): Promise<void> {
    const { layout } = this.#ctx;
    const alive = (pid: number): boolean => isProcessAlive(pid);
    for (const dir of [
      layout.domainsDir,
      layout.snapshotDir(name),
      layout.checkpointDir(name),
      layout.journalDir,
    ]) {
      await sweepTempFiles(dir, alive);
    }
  }

  async #mutate<T>(name: string, fn: (tx: Transaction) => Promise<T>, options: OperationOptions): Promise<T> {
    const tx = this.#transaction(name, options);
    let result: T;
    try {
      result = await fn(tx);
    } catch (err) {
      this.#cache.delete(name);
      // A rolled-back journal left the files as they were; a committed one that could not
      // finish is still there, and other connections must reload.
      const unfinished = tx.started && readTextIfExistsSync(this.#ctx.layout.journalFile(name)) !== undefined;
      if (unfinished) await this.#settle(name).catch(() => undefined);
      throw err;
    }
    const generation = await this.#settle(name);
    const cached = this.#cache.get(name);
    if (cached !== undefined && generation !== undefined)
      this.#cache.set(name, { generation, state: cached.state });
    return result;
  }

  /** After a change: a new generation token, or, when the domain is gone, no runtime directory. */
  async #settle(name: string): Promise<string | undefined> {
    if (readTextIfExistsSync(this.#ctx.layout.domainFile(name)) === undefined) {
      this.#cache.delete(name);
      // A domain undefined while running stays as a transient one: its QEMU's files stay.
      const runDir = this.#ctx.layout.domainRunDir(name);
      if (readTextIfExistsSync(join(runDir, 'status.json')) === undefined)
        await rm(runDir, { recursive: true, force: true });
      return undefined;
    }
    return this.#bump(name);
  }

  #transaction(name: string, options: OperationOptions): Transaction & { readonly started: boolean } {
    let journalId = newId();
    let started = false;
    const ctx = this.#ctx;
    return {
      get journalId() {
        return journalId;
      },
      get started() {
        return started;
      },
      run: async (operation, steps) => {
        started = true;
        const plan: JournalPlan = { operation, domain: name, steps };
        const id = journalId;
        journalId = newId();
        await runJournal(plan, {
          path: ctx.layout.journalFile(name),
          ctx,
          id,
          faultInjection: ctx.faultInjection,
          signal: options.signal,
          onProgress: options.onProgress,
        });
      },
    };
  }

  async #state(domain: DomainIdentity): Promise<DomainState> {
    const state = await this.#load(domain.name);
    if (state === undefined || (domain.uuid !== '' && state.def.uuid !== domain.uuid)) {
      throw new VirtError('NO_DOMAIN', `no domain with matching uuid '${domain.uuid}' (${domain.name})`);
    }
    return state;
  }

  async #load(name: string): Promise<DomainState | undefined> {
    const generation = readTextIfExistsSync(this.#generationFile(name)) ?? '';
    const cached = this.#cache.get(name);
    if (cached !== undefined && cached.generation === generation && generation !== '') return cached.state;
    const state = await this.#ctx.store.load(name);
    if (state === undefined) {
      this.#cache.delete(name);
      return undefined;
    }
    this.#cache.set(name, { generation, state });
    return state;
  }

  async #bump(name: string): Promise<string> {
    const generation = newId();
    mkdirSync(this.#ctx.layout.domainRunDir(name), { recursive: true, mode: DIR_MODE });
    // Written in place: a torn token only makes another connection reload once.
    writeFileSync(this.#generationFile(name), generation, { mode: FILE_MODE });
    return generation;
  }

  #generationFile(name: string): string {
    return join(this.#ctx.layout.domainRunDir(name), 'generation');
  }
}

/**
 * One journal step applying `changes` together (none when there is nothing to write).
 *
 * @internal
 */
export function metadataSteps(...changes: readonly MetadataChange[]): JournalStep[] {
  const writes = changes.flatMap((c) => c.writes);
  const removes = changes.flatMap((c) => c.removes);
  const removeDirs = changes.flatMap((c) => c.removeDirs ?? []);
  if (writes.length === 0 && removes.length === 0 && removeDirs.length === 0) return [];
  return [{ name: 'metadata', action: { kind: 'metadata', writes, removes, removeDirs } }];
}

/**
 * The `commit` step.
 *
 * @internal
 */
export const COMMIT_STEP: JournalStep = { name: 'commit', action: { kind: 'commit' } };

/**
 * `NO_DOMAIN` for a name (libvirt's lookup-by-name wording).
 *
 * @internal
 */
export function noDomain(name: string): VirtError {
  return new VirtError('NO_DOMAIN', `no domain with matching name '${name}'`);
}

function newId(): string {
  return randomBytes(6).toString('hex');
}
