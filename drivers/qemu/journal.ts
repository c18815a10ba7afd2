import { randomBytes } from 'node:crypto';
import { VirtError, type DriverRecoveryEvent, type Progress } from 'virtkit';
import {
  discardStaged,
  readTextIfExists,
  readTextIfExistsSync,
  removeFileDurable,
  writeFileAtomic,
  type StagedFile,
} from './atomic-file.js';
import {
  actionSide,
  describeAction,
  publishMetadata,
  redoAction,
  runAction,
  stageMetadata,
  undoAction,
  type ActionContext,
  type JournalAction,
} from './journal-actions.js';
import { repairLeaks } from './leak-repair.js';

/**
 * A named step of a journaled operation.
 *
 * @internal
 */
export interface JournalStep {
  /** What the step does, e.g. `snapshot vda`. */
  readonly name: string;
  readonly action: JournalAction;
}

/**
 * What an operation intends to do: every step, with exactly one `commit` step.
 *
 * @internal
 */
export interface JournalPlan {
  /** e.g. `snapshot-create`. */
  readonly operation: string;
  readonly domain: string;
  readonly steps: readonly JournalStep[];
}

/**
 * The journal file (`journal/<domain>.json`): the plan plus how far it got.
 *
 * @internal
 */
export interface JournalRecord extends JournalPlan {
  readonly version: 1;
  /** Random id of this run; also names temporary artefacts such as safety snapshots. */
  readonly id: string;
  readonly pid: number;
  readonly startedAt: number;
  /** Whether the commit step was persisted. */
  readonly committed: boolean;
  /**
   * Steps completed, as last recorded: informational only (recovery never relies on it) and
   * recorded after every step only under fault injection; otherwise 0 or, once committed,
   * the commit step's index + 1.
   */
  readonly done: number;
}

/**
 * Test-only fault injection (`driverOptions[Symbol.for('virtkit.qemu.faultInjection')]`, not a
 * documented option): SIGKILL this very process right after step `killAtStep` has run and
 * been recorded (0 = right after the plan was written).
 *
 * @internal
 */
export interface FaultInjection {
  readonly killAtStep?: number;
}

/**
 * Options of one {@link runJournal} call.
 *
 * @internal
 */
export interface JournalRunOptions {
  readonly path: string;
  readonly ctx: ActionContext;
  readonly id?: string;
  readonly faultInjection?: FaultInjection;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: Progress) => void;
}

/**
 * A fresh random journal id.
 *
 * @internal
 */
export function newJournalId(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Runs a plan under its journal: writes the plan durably (already committed when the plan
 * starts with its commit), runs the steps in order, persists the commit step durably, and
 * removes the journal at the end (not durably: a journal that reappears after a power loss is
 * only redone, idempotently, and the next operation's plan replaces it durably anyway). A
 * failure (or an abort through `signal`) before the commit undoes every step before the
 * commit point in reverse order and removes the journal; a failure after it leaves the
 * journal for recovery to finish and reports that the operation is committed.
 *
 * @throws the failing step's error (rolled back), `OPERATION_ABORTED`, or `OPERATION_FAILED`
 * "… committed but …" when finishing failed.
 * @internal
 */
export async function runJournal(plan: JournalPlan, options: JournalRunOptions): Promise<void> {
  validatePlan(plan);
  if (isAborted(options.signal)) throw aborted(plan, options.signal?.reason);
  const commitsFirst = plan.steps[0]?.action.kind === 'commit';
  let record: JournalRecord = {
    version: 1,
    id: options.id ?? newJournalId(),
    pid: process.pid,
    startedAt: Date.now(),
    ...plan,
    committed: commitsFirst,
    done: 0,
  };
  await writeFileAtomic(options.path, serialize(record));
  killPoint(options.faultInjection, 0);
  let staged: StagedFile[] | undefined;
  for (const [i, step] of plan.steps.entries()) {
    if (!record.committed && options.signal?.aborted === true) {
      await rollBack(record, i - 1, options);
      throw aborted(plan, options.signal.reason);
    }
    const isCommit = step.action.kind === 'commit';
    record = { ...record, committed: record.committed || isCommit, done: i + 1 };
    try {
      if (isCommit && !commitsFirst) staged = await commit(record, plan.steps[i + 1], options.path);
      else if (step.action.kind === 'metadata' && staged !== undefined)
        await publishMetadata(step.action, staged);
      else await runAction(step.action, options.ctx, bytesOf(step, options.onProgress));
    } catch (err) {
      if (!record.committed || isCommit) {
        await rollBack(record, i, options);
        throw err;
      }
      throw unfinished(record, step, err);
    }
    staged = isCommit ? staged : undefined;
    // Progress is recorded only for fault injection: recovery never relies on it (every undo
    // and redo is idempotent) and each rename costs a data flush on ext4.
    if (!isCommit && options.faultInjection !== undefined) {
      await writeFileAtomic(options.path, serialize(record), { durable: false });
    }
    killPoint(options.faultInjection, i + 1);
    options.onProgress?.({ phase: step.name, completed: i + 1, total: plan.steps.length, unit: 'steps' });
  }
  await removeFileDurable(options.path, { durable: false });
}

/**
 * Makes the commit record durable. The files of a `metadata` step right after the commit are
 * written and fsynced meanwhile under temporary names, so that publishing them afterwards
 * costs only renames and directory fsyncs. @returns those staged files.
 */
async function commit(
  record: JournalRecord,
  next: JournalStep | undefined,
  path: string,
): Promise<StagedFile[] | undefined> {
  const action = next?.action;
  const staging = action?.kind === 'metadata' ? stageMetadata(action) : Promise.resolve(undefined);
  const [staged, written] = await Promise.allSettled([staging, writeFileAtomic(path, serialize(record))]);
  if (written.status === 'rejected') {
    if (staged.status === 'fulfilled' && staged.value !== undefined) discardStaged(staged.value);
    throw written.reason;
  }
  // A failed staging after a durable commit is finished by recovery (redo of the metadata step).
  return staged.status === 'fulfilled' ? staged.value : undefined;
}

/**
 * Receives what {@link recoverJournal} does, as it does it.
 *
 * @internal
 */
export type RecoveryListener = (event: DriverRecoveryEvent) => void;

/**
 * Finishes what a crashed run left in `path`: before its commit point every step before the
 * commit is undone in reverse order; after it every step after the commit is redone in
 * order. The journal is removed only when that succeeded. `onEvent` hears `started`, a
 * `progress` per step done (and bytes during steps that copy data), then `finished` or
 * `failed`.
 *
 * @returns the record that was recovered, or `undefined` when there was no journal.
 * @throws `OPERATION_FAILED` when an undo or redo fails (the journal stays for a later try).
 * @internal
 */
export async function recoverJournal(
  path: string,
  ctx: ActionContext,
  onEvent?: RecoveryListener,
): Promise<JournalRecord | undefined> {
  const text = readTextIfExistsSync(path);
  if (text === undefined) return undefined;
  const record = parseRecord(text, path);
  const base = {
    domain: record.domain,
    operation: record.operation,
    journal: record.id,
    direction: record.committed ? 'roll-forward' : 'roll-back',
  } as const;
  const emit = (e: Pick<DriverRecoveryEvent, 'stage' | 'progress' | 'error'>): void =>
    onEvent?.({ ...base, ...e });
  emit({ stage: 'started' });
  try {
    if (record.committed) {
      const start = record.steps.findIndex((s) => s.action.kind === 'commit') + 1;
      const steps = record.steps.slice(start);
      for (const [i, step] of steps.entries()) {
        const onProgress = (progress: Progress): void => emit({ stage: 'progress', progress });
        await guarded(record, step, 'redo', () => redoAction(step.action, ctx, bytesOf(step, onProgress)));
        onProgress({ phase: step.name, completed: i + 1, total: steps.length, unit: 'steps' });
      }
    } else {
      await undoBefore(record, record.steps.length - 1, ctx, (progress) =>
        emit({ stage: 'progress', progress }),
      );
    }
    await repairLeaks(record.steps, ctx.qemuImg).catch((cause: unknown) => {
      throw new VirtError(
        'OPERATION_FAILED',
        `cannot repair leaked clusters after interrupted ${record.operation} on domain '${record.domain}': ` +
          `${cause instanceof Error ? cause.message : String(cause)}; the journal is kept and recovery is retried by the next operation`,
        { cause, driver: 'qemu', details: { journal: record.id } },
      );
    });
    await removeFileDurable(path, { durable: false });
  } catch (err) {
    emit({ stage: 'failed', error: err instanceof Error ? err : new Error(String(err)) });
    throw err;
  }
  emit({ stage: 'finished' });
  return record;
}

/**
 * Reads a journal without acting on it.
 *
 * @internal
 */
export async function readJournal(path: string): Promise<JournalRecord | undefined> {
  const text = await readTextIfExists(path);
  return text === undefined ? undefined : parseRecord(text, path);
}

async function rollBack(record: JournalRecord, last: number, options: JournalRunOptions): Promise<void> {
  await undoBefore(record, last, options.ctx);
  await removeFileDurable(options.path, { durable: false });
}

/** Undoes, in reverse order, every pre-commit step with index ≤ `last`. */
async function undoBefore(
  record: JournalRecord,
  last: number,
  ctx: ActionContext,
  onProgress?: (progress: Progress) => void,
): Promise<void> {
  const steps = record.steps.slice(0, Math.min(last, record.steps.length - 1) + 1).reverse();
  const undoable = steps.filter((step) => actionSide(step.action.kind) === 'before');
  for (const [i, step] of undoable.entries()) {
    await guarded(record, step, 'undo', () => undoAction(step.action, ctx));
    onProgress?.({ phase: `undo ${step.name}`, completed: i + 1, total: undoable.length, unit: 'steps' });
  }
}

async function guarded(
  record: JournalRecord,
  step: JournalStep,
  what: string,
  work: () => Promise<void>,
): Promise<void> {
  try {
    await work();
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new VirtError(
      'OPERATION_FAILED',
      `cannot ${what} step '${step.name}' (${describeAction(step.action)}) of interrupted ${record.operation} ` +
        `on domain '${record.domain}': ${reason}; the journal is kept and recovery is retried by the next operation`,
      {
        cause,
        driver: 'qemu',
        details: {
          journal: record.id,
          operation: record.operation,
          step: step.name,
          committed: record.committed,
        },
      },
    );
  }
}

function validatePlan(plan: JournalPlan): void {
  const commits = plan.steps.filter((s) => s.action.kind === 'commit').length;
  let seenCommit = false;
  for (const step of plan.steps) {
    const side = actionSide(step.action.kind);
    if (side === 'commit') seenCommit = true;
    else if ((side === 'before') === seenCommit) {
      throw new VirtError(
        'INTERNAL_ERROR',
        `journal step '${step.name}' is on the wrong side of the commit point`,
      );
    }
  }
  if (commits !== 1)
    throw new VirtError('INTERNAL_ERROR', `journal plan of ${plan.operation} needs one commit step`);
}

function serialize(record: JournalRecord): string {
  return `${JSON.stringify(record, null, 1)}\n`;
}

function parseRecord(text: string, path: string): JournalRecord {
  try {
    const r = JSON.parse(text) as Partial<JournalRecord>;
    if (r.version !== 1 || !Array.isArray(r.steps) || typeof r.committed !== 'boolean')
      throw new Error('bad shape');
    return r as JournalRecord;
  } catch (cause) {
    throw new VirtError('INTERNAL_ERROR', `unreadable journal '${path}'`, { cause, driver: 'qemu' });
  }
}

function killPoint(fault: FaultInjection | undefined, step: number): void {
  if (fault?.killAtStep === step) process.kill(process.pid, 'SIGKILL');
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function aborted(plan: JournalPlan, reason: unknown): VirtError {
  return new VirtError('OPERATION_ABORTED', `${plan.operation} was cancelled and rolled back`, {
    cause: reason,
    driver: 'qemu',
  });
}

function unfinished(record: JournalRecord, step: JournalStep, cause: unknown): VirtError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new VirtError(
    'OPERATION_FAILED',
    `${record.operation} on domain '${record.domain}' is committed but step '${step.name}' failed: ${reason}; ` +
      'it is completed by the next operation on the domain',
    {
      cause,
      driver: 'qemu',
      details: { committed: true, journal: record.id, operation: record.operation, step: step.name },
    },
  );
}

/** Reports the bytes of a step that copies data as `unit: 'bytes'` progress named after the step. */
function bytesOf(
  step: JournalStep,
  onProgress: ((progress: Progress) => void) | undefined,
): ((completed: number, total: number) => void) | undefined {
  if (onProgress === undefined) return undefined;
  return (completed, total) => onProgress({ phase: step.name, completed, total, unit: 'bytes' });
}
