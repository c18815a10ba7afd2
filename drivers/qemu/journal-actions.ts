import { truncate, unlink } from 'node:fs/promises';
import { VirtError } from 'virtkit';
import { basename, dirname } from 'node:path';
import { mkdirSync } from 'node:fs';
import {
  DIR_MODE,
  publishFiles,
  removeDirIfEmpty,
  stageFiles,
  type FileWrite,
  type StagedFile,
} from './atomic-file.js';
import {
  hasBitmap,
  hasSnapshot,
  ignoreMissing,
  mergeBitmapFrom,
  rebaseUnsafe,
  redoImageCommit,
  runImageCommit,
  unlinkFile,
  type ByteProgress,
  type ImageAction,
} from './image-actions.js';
import type { QemuImg } from './qemu-img.js';

/**
 * One step of a journaled operation, as plain JSON so that another process can finish or
 * undo it after a crash. Steps before the `commit` step must have an idempotent undo, steps
 * after it an idempotent redo: recovery runs them without knowing how far the crashed
 * process got.
 *
 * @internal
 */
export type JournalAction =
  /** The commit point: once persisted, recovery rolls forward instead of back. */
  | { readonly kind: 'commit' }
  /** `qemu-img snapshot -c`. Undo: delete the snapshot when present. */
  | { readonly kind: 'snapshot-create'; readonly image: string; readonly name: string }
  /** `qemu-img snapshot -a name`. Undo: apply `safety` (taken earlier in the plan) when present. */
  | {
      readonly kind: 'snapshot-apply';
      readonly image: string;
      readonly name: string;
      readonly safety: string;
    }
  /** `qemu-img snapshot -d`. Redo: delete when still present. */
  | { readonly kind: 'snapshot-delete'; readonly image: string; readonly name: string }
  /** `qemu-img create -b -F`. Undo: remove the file (or empty it again when it existed empty). */
  | {
      readonly kind: 'overlay-create';
      readonly image: string;
      readonly backing: string;
      readonly backingFormat: string;
      readonly existedEmpty: boolean;
    }
  /** `qemu-img bitmap --add`. Undo: remove when present. Redo: add when absent. */
  | {
      readonly kind: 'bitmap-add';
      readonly image: string;
      readonly name: string;
      readonly granularity?: number;
      readonly disabled?: boolean;
    }
  /** Merge bitmap `name` into `into` (when both exist), then remove `name`. Redo: same, when `name` is present. */
  | { readonly kind: 'bitmap-fold'; readonly image: string; readonly name: string; readonly into?: string }
  /** Metadata files written and removed as one durable batch. Redo: the same batch again. */
  | {
      readonly kind: 'metadata';
      readonly writes: readonly FileWrite[];
      readonly removes: readonly string[];
      /** Directories removed afterwards when empty. */
      readonly removeDirs?: readonly string[];
    }
  /** Merging and dropping images (external revert and delete), see `image-actions.ts`. */
  | ImageAction;

/**
 * The kind of a {@link JournalAction}.
 *
 * @internal
 */
export type JournalActionKind = JournalAction['kind'];

/**
 * What an action needs to run.
 *
 * @internal
 */
export interface ActionContext {
  readonly qemuImg: QemuImg;
}

interface Handler<A extends JournalAction> {
  /** Which side of the commit point the action may sit on. */
  readonly side: 'before' | 'after' | 'commit';
  /** `report` receives bytes processed, from the actions that copy data (image-commit). */
  run(action: A, ctx: ActionContext, report?: ByteProgress): Promise<void>;
  undo?(action: A, ctx: ActionContext): Promise<void>;
  redo?(action: A, ctx: ActionContext, report?: ByteProgress): Promise<void>;
}

type Handlers = { readonly [K in JournalActionKind]: Handler<Extract<JournalAction, { kind: K }>> };

// A new kind is a union member above and a handler here; `before` kinds need `undo`, `after`
// kinds need `redo`, and both must be idempotent.
const HANDLERS: Handlers = {
  commit: { side: 'commit', run: async () => undefined },
  'snapshot-create': {
    side: 'before',
    run: (a, { qemuImg }) => qemuImg.snapshotCreate(a.image, a.name),
    undo: async (a, ctx) => {
      if (await hasSnapshot(ctx, a.image, a.name)) await ctx.qemuImg.snapshotDelete(a.image, a.name);
    },
  },
  'snapshot-apply': {
    side: 'before',
    run: (a, { qemuImg }) => qemuImg.snapshotApply(a.image, a.name),
    undo: async (a, ctx) => {
      if (await hasSnapshot(ctx, a.image, a.safety)) await ctx.qemuImg.snapshotApply(a.image, a.safety);
    },
  },
  'snapshot-delete': {
    side: 'after',
    run: (a, { qemuImg }) => qemuImg.snapshotDelete(a.image, a.name),
    redo: async (a, ctx) => {
      if (await hasSnapshot(ctx, a.image, a.name)) await ctx.qemuImg.snapshotDelete(a.image, a.name);
    },
  },
  'overlay-create': {
    side: 'before',
    run: (a, { qemuImg }) => qemuImg.createOverlay(a.image, a.backing, a.backingFormat),
    undo: async (a) => {
      if (a.existedEmpty) await truncate(a.image, 0).catch(ignoreMissing);
      else await unlink(a.image).catch(ignoreMissing);
    },
  },
  'bitmap-add': {
    side: 'before',
    run: (a, { qemuImg }) => qemuImg.bitmapAdd(a.image, a.name, a),
    undo: async (a, ctx) => {
      if (await hasBitmap(ctx, a.image, a.name)) await ctx.qemuImg.bitmapRemove(a.image, a.name);
    },
    redo: async (a, ctx) => {
      if (!(await hasBitmap(ctx, a.image, a.name))) await ctx.qemuImg.bitmapAdd(a.image, a.name, a);
    },
  },
  'bitmap-fold': {
    side: 'after',
    run: (a, ctx) => foldBitmap(a, ctx, true),
    redo: async (a, ctx) => {
      if (await hasBitmap(ctx, a.image, a.name)) await foldBitmap(a, ctx, false);
    },
  },
  metadata: { side: 'after', run: applyMetadata, redo: applyMetadata },
  'image-commit': { side: 'after', run: runImageCommit, redo: redoImageCommit },
  'bitmap-merge-from': { side: 'after', run: mergeBitmapFrom, redo: mergeBitmapFrom },
  'image-rebase-unsafe': { side: 'after', run: rebaseUnsafe, redo: rebaseUnsafe },
  'file-unlink': { side: 'after', run: unlinkFile, redo: unlinkFile },
};

/**
 * Which side of the commit point `kind` belongs to.
 *
 * @internal
 */
export function actionSide(kind: JournalActionKind): 'before' | 'after' | 'commit' {
  return HANDLERS[kind].side;
}

/**
 * Runs an action forward, the first time.
 *
 * @internal
 */
export async function runAction(
  action: JournalAction,
  ctx: ActionContext,
  report?: ByteProgress,
): Promise<void> {
  await handler(action).run(action, ctx, report);
}

/**
 * Undoes an action that may or may not have run (idempotent).
 *
 * @internal
 */
export async function undoAction(action: JournalAction, ctx: ActionContext): Promise<void> {
  const undo = handler(action).undo;
  if (undo !== undefined) await undo(action, ctx);
}

/**
 * Re-runs an action that may or may not have run (idempotent).
 *
 * @internal
 */
export async function redoAction(
  action: JournalAction,
  ctx: ActionContext,
  report?: ByteProgress,
): Promise<void> {
  const redo = handler(action).redo;
  if (redo !== undefined) await redo(action, ctx, report);
}

/**
 * A short human description of an action, for messages.
 *
 * @internal
 */
export function describeAction(action: JournalAction): string {
  switch (action.kind) {
    case 'commit':
      return 'commit';
    case 'metadata':
      return `metadata (${action.writes.length} written, ${action.removes.length} removed)`;
    case 'snapshot-create':
    case 'snapshot-apply':
    case 'snapshot-delete':
    case 'bitmap-add':
    case 'bitmap-fold':
      return `${action.kind} '${action.name}' on ${action.image}`;
    case 'overlay-create':
      return `${action.kind} ${action.image}`;
    case 'image-commit':
      return `${action.kind} ${action.image} into ${basename(action.base)}`;
    case 'bitmap-merge-from':
      return `${action.kind} '${action.name}' of ${action.source} into ${action.image}`;
    case 'image-rebase-unsafe':
      return `${action.kind} ${action.image} onto ${basename(action.backing)}`;
    case 'file-unlink':
      return `${action.kind} ${action.path}`;
  }
}

function handler<A extends JournalAction>(action: A): Handler<A> {
  const h = (HANDLERS as unknown as Record<string, Handler<A> | undefined>)[action.kind];
  if (h === undefined) {
    throw new VirtError('INTERNAL_ERROR', `unknown journal action '${String(action.kind)}'`, {
      driver: 'qemu',
    });
  }
  return h;
}

async function foldBitmap(
  a: Extract<JournalAction, { kind: 'bitmap-fold' }>,
  ctx: ActionContext,
  trusted: boolean,
): Promise<void> {
  const into = a.into;
  if (into !== undefined && (trusted || (await hasBitmap(ctx, a.image, into)))) {
    await ctx.qemuImg.bitmapMerge(a.image, a.name, into);
  }
  await ctx.qemuImg.bitmapRemove(a.image, a.name);
}

async function applyMetadata(a: MetadataAction): Promise<void> {
  await publishMetadata(a, await stageMetadata(a));
}

/**
 * A `metadata` action.
 *
 * @internal
 */
export type MetadataAction = Extract<JournalAction, { kind: 'metadata' }>;

/**
 * Writes (and fsyncs) a metadata action's files under temporary names, creating their
 * directories; the journal runner does this while it makes the commit record durable.
 *
 * @internal
 */
export async function stageMetadata(a: MetadataAction): Promise<StagedFile[]> {
  for (const dir of new Set(a.writes.map((w) => dirname(w.path)))) {
    mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  }
  return stageFiles(a.writes);
}

/**
 * Publishes staged metadata files, performs the removals and fsyncs the directories.
 *
 * @internal
 */
export async function publishMetadata(a: MetadataAction, staged: readonly StagedFile[]): Promise<void> {
  await publishFiles(staged, a.removes);
  for (const dir of a.removeDirs ?? []) await removeDirIfEmpty(dir);
}
