import { stat, unlink } from 'node:fs/promises';
import { backingPath, canonical } from './images.js';
import type { QemuImg } from './qemu-img.js';

/**
 * The journal actions that merge and drop images (external snapshot revert and delete). All
 * of them run after the commit point and are idempotent: recovery re-runs them in order
 * without knowing how far the crashed process got.
 *
 * @internal
 */
export type ImageAction =
  /**
   * `qemu-img commit -d IMAGE`: IMAGE's data into its backing file `base`, which nothing but
   * IMAGE needs; IMAGE's view never changes. Redo: again while IMAGE exists and is backed by `base`.
   */
  | { readonly kind: 'image-commit'; readonly image: string; readonly base: string }
  /**
   * Merges bitmap `name` of `source` (a qcow2 image) into the same-named bitmap of `image`,
   * adding it there first (`granularity`, `disabled`) when it is missing. Redo: again while
   * `source` exists.
   */
  | {
      readonly kind: 'bitmap-merge-from';
      readonly image: string;
      readonly name: string;
      readonly source: string;
      readonly granularity: number;
      readonly disabled: boolean;
    }
  /** `qemu-img rebase -u`: the header only, to an image with equal content. Redo: again while IMAGE exists. */
  | {
      readonly kind: 'image-rebase-unsafe';
      readonly image: string;
      readonly backing: string;
      readonly backingFormat: string;
    }
  /** Removes an image nothing needs any more. Redo: again (a missing file is fine). */
  | { readonly kind: 'file-unlink'; readonly path: string };

/**
 * What the image actions need.
 *
 * @internal
 */
export interface ImageActionContext {
  readonly qemuImg: QemuImg;
}

type Of<K extends ImageAction['kind']> = Extract<ImageAction, { kind: K }>;

/**
 * Receives the bytes a long image action has processed so far, while it runs.
 *
 * @internal
 */
export type ByteProgress = (completed: number, total: number) => void;

/**
 * First run of `image-commit`. With `report`, the bytes qemu-img has gone through so far
 * (its `-p` percentage of the top image's virtual size) are reported while it copies.
 *
 * @internal
 */
export async function runImageCommit(
  a: Of<'image-commit'>,
  { qemuImg }: ImageActionContext,
  report?: ByteProgress,
): Promise<void> {
  if (report === undefined) {
    await qemuImg.commit(a.image, { keepTop: true });
    return;
  }
  const [info] = await qemuImg.info(a.image);
  const total = info?.virtualSize ?? 0;
  let last = 0;
  report(0, total);
  await qemuImg.commit(a.image, {
    keepTop: true,
    onProgress: (percent) => {
      const completed = Math.round((total * percent) / 100);
      if (completed > last) report((last = completed), total);
    },
  });
}

/**
 * Redo of `image-commit`: only while the top image still exists on top of `base`.
 *
 * @internal
 */
export async function redoImageCommit(
  a: Of<'image-commit'>,
  ctx: ImageActionContext,
  report?: ByteProgress,
): Promise<void> {
  if (!(await exists(a.image))) return;
  const [info] = await ctx.qemuImg.info(a.image);
  const backing = info === undefined ? undefined : backingPath(a.image, info);
  if (backing === undefined || (await canonical(backing)) !== (await canonical(a.base))) return;
  await runImageCommit(a, ctx, report);
}

/**
 * Run and redo of `bitmap-merge-from`.
 *
 * @internal
 */
export async function mergeBitmapFrom(a: Of<'bitmap-merge-from'>, ctx: ImageActionContext): Promise<void> {
  if (!(await exists(a.source))) return;
  if (!(await hasBitmap(ctx, a.image, a.name))) {
    await ctx.qemuImg.bitmapAdd(a.image, a.name, { granularity: a.granularity, disabled: a.disabled });
  }
  await ctx.qemuImg.bitmapMergeFrom(a.image, a.name, a.source, 'qcow2', a.name);
}

/**
 * Run and redo of `image-rebase-unsafe`.
 *
 * @internal
 */
export async function rebaseUnsafe(a: Of<'image-rebase-unsafe'>, ctx: ImageActionContext): Promise<void> {
  if (!(await exists(a.image))) return;
  await ctx.qemuImg.rebase(a.image, a.backing, a.backingFormat, { unsafe: true });
}

/**
 * Run and redo of `file-unlink`.
 *
 * @internal
 */
export async function unlinkFile(a: Of<'file-unlink'>): Promise<void> {
  await unlink(a.path).catch(ignoreMissing);
}

/**
 * Whether an existing image holds internal snapshot `name`.
 *
 * @internal
 */
export async function hasSnapshot(ctx: ImageActionContext, image: string, name: string): Promise<boolean> {
  if (!(await exists(image))) return false;
  const [info] = await ctx.qemuImg.info(image);
  return (info?.snapshots ?? []).some((s) => s.name === name);
}

/**
 * Whether an existing image holds persistent bitmap `name`.
 *
 * @internal
 */
export async function hasBitmap(ctx: ImageActionContext, image: string, name: string): Promise<boolean> {
  if (!(await exists(image))) return false;
  const [info] = await ctx.qemuImg.info(image);
  return (info?.bitmaps ?? []).some((b) => b.name === name);
}

/**
 * Whether a file exists.
 *
 * @internal
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * A `catch` handler that ignores ENOENT.
 *
 * @internal
 */
export function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}
