import type { JournalAction } from './journal-actions.js';
import { exists } from './image-actions.js';
import type { QemuImg } from './qemu-img.js';

/**
 * The image files an action writes (for `image-commit` both the base it fills and the top it
 * opens). Metadata and unlinks write no image.
 *
 * @internal
 */
export function imagesWritten(action: JournalAction): string[] {
  switch (action.kind) {
    case 'commit':
    case 'metadata':
    case 'file-unlink':
      return [];
    case 'image-commit':
      return [action.base, action.image];
    case 'snapshot-create':
    case 'snapshot-apply':
    case 'snapshot-delete':
    case 'overlay-create':
    case 'bitmap-add':
    case 'bitmap-fold':
    case 'bitmap-merge-from':
    case 'image-rebase-unsafe':
      return [action.image];
  }
}

/**
 * After recovery redid or undid an interrupted plan: `qemu-img check -r leaks` on every
 * existing qcow2 image a step of the plan writes. A `qemu-img` killed while writing (e.g. a
 * `commit` of a large overlay) leaves clusters allocated whose mapping was never written;
 * redoing the write allocates new ones, and nothing else would ever reclaim the old ones.
 * Repairing leaks only touches refcounts of clusters nothing references, so it is harmless
 * on an image that has none. Recovery does not know which step was interrupted (progress
 * records are not durable), so every image the plan writes is checked — only in recovery,
 * never in a normal run.
 *
 * @internal
 */
export async function repairLeaks(
  steps: readonly { readonly action: JournalAction }[],
  qemuImg: QemuImg,
): Promise<void> {
  const images = [...new Set(steps.flatMap((s) => imagesWritten(s.action)))];
  for (const image of images) {
    if (!(await exists(image))) continue;
    const [info] = await qemuImg.info(image);
    if (info?.format === 'qcow2') await qemuImg.repairLeaks(image);
  }
}
