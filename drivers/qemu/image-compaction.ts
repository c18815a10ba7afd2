import { basename } from 'node:path';
import { VirtError } from 'virtkit';
import type { ImageNode, RefHolder } from './image-graph.js';
import type { JournalStep } from './journal.js';
import type { BitmapInfo } from './qemu-img.js';

/**
 * A reference reduced to what planning needs.
 *
 * @internal
 */
export interface PlanRef {
  readonly key: string;
  readonly holder: RefHolder;
}

/**
 * One fold: `top`'s data is committed into `base` (which nothing else needs), `top`'s
 * bitmaps are merged into `base`, the images backed by `top` are rebased onto `base` (header
 * only) and `top` is removed; references to `top` now name `base`.
 *
 * @internal
 */
export interface Fold {
  readonly base: ImageNode;
  readonly top: ImageNode;
  readonly dependents: readonly ImageNode[];
  /** Consistent persistent bitmaps of `top` at that point (incl. ones merged into it earlier). */
  readonly bitmaps: readonly BitmapInfo[];
}

/**
 * What a compaction does, in order: unlink the images nothing reaches any more, then the
 * folds; `redirects` maps the key of every folded-away image to the key of the image that
 * took over its data.
 *
 * @internal
 */
export interface CompactionPlan {
  readonly unlink: readonly ImageNode[];
  readonly folds: readonly Fold[];
  readonly redirects: ReadonlyMap<string, string>;
}

/**
 * Input of {@link planCompaction}.
 *
 * @internal
 */
export interface CompactionInput {
  /** The backing forest of the disks concerned (new overlays included as nodes). */
  readonly nodes: ReadonlyMap<string, ImageNode>;
  /** References before the operation. */
  readonly before: readonly PlanRef[];
  /** References after the operation. */
  readonly after: readonly PlanRef[];
  /** Whether to fold unreferenced images with one dependent (delete) or only unlink (revert). */
  readonly fold: boolean;
  /** When given, only these images may be changed or removed; the others count as referenced. */
  readonly owned?: ReadonlySet<string>;
}

interface Work {
  node: ImageNode;
  backing: string | undefined;
  bitmaps: BitmapInfo[];
}

/**
 * Plans the image work of a revert or delete from the references before and after it.
 *
 * - An image that no reference reaches any more (itself or as a backing file) is unlinked.
 * - With `fold`, an unreferenced image with exactly one dependent is folded with it (see
 *   {@link Fold}); with two or more it stays as a shared backing file (no data is copied) and
 *   is folded by a later delete that leaves it with one.
 * - Read-only images, and with `owned` images outside it, are never changed or removed
 *   (they count as referenced).
 *
 * Images are considered closest to the base first, so each layer is copied once.
 *
 * @throws `OPERATION_UNSUPPORTED` when a fold needed because this operation dropped the last
 * reference to an image would remove an image holding internal snapshots that are still in
 * the metadata.
 * @internal
 */
export function planCompaction(input: CompactionInput): CompactionPlan {
  const work = new Map<string, Work>();
  for (const node of input.nodes.values())
    work.set(node.key, { node, backing: node.backing, bitmaps: [...node.bitmaps] });
  const holders = groupRefs(input.after);
  const foreign = (w: Work): boolean => input.owned !== undefined && !input.owned.has(w.node.key);
  const pinned = (w: Work): boolean =>
    !w.node.writable || foreign(w) || (holders.get(w.node.key)?.length ?? 0) > 0;
  // Whose active data someone reads: an image held only by internal snapshots keeps them in
  // its snapshot table, which committing into its active layer does not touch — so it can
  // take its single dependent's data (the current leaf after its external snapshot went:
  // libvirt's active block-commit), and its internal snapshots can be reverted to again.
  const readsActive = (w: Work): boolean =>
    !w.node.writable || foreign(w) || (holders.get(w.node.key) ?? []).some((h) => h.kind !== 'internal');
  const reachable = reach(
    work,
    [...work.values()].filter(pinned).map((w) => w.node.key),
  );
  const depths = new Map([...work.values()].map((w) => [w.node.key, depth(work, w)]));
  const byDepth = (a: Work, b: Work): number => depths.get(a.node.key)! - depths.get(b.node.key)!;
  const unlink = [...work.values()].filter((w) => !reachable.has(w.node.key)).sort((a, b) => byDepth(b, a));
  for (const w of unlink) work.delete(w.node.key);
  const folds: Fold[] = [];
  const redirects = new Map<string, string>();
  if (input.fold) {
    const lost = new Set(input.before.map((r) => r.key).filter((k) => !holders.has(k)));
    const queue = [...work.values()].filter((w) => !readsActive(w)).sort(byDepth);
    for (let base = queue.shift(); base !== undefined; base = queue.shift()) {
      if (!work.has(base.node.key) || readsActive(base)) continue;
      const deps = dependents(work, base.node.key);
      const top = deps.length === 1 ? deps[0]! : undefined;
      if (top === undefined || !foldable(base, top, work, holders, lost.has(base.node.key))) continue;
      folds.push({
        base: base.node,
        top: top.node,
        dependents: dependents(work, top.node.key).map((d) => d.node),
        bitmaps: usable(top.bitmaps),
      });
      applyFold(work, holders, redirects, base, top);
      queue.unshift(base);
    }
  }
  return { unlink: unlink.map((w) => w.node), folds, redirects };
}

/**
 * The journal steps of a plan (all after the commit point, each idempotent).
 *
 * @internal
 */
export function compactionSteps(plan: CompactionPlan): JournalStep[] {
  const steps: JournalStep[] = plan.unlink.map((n) => ({
    name: `drop ${n.disk} ${basename(n.path)}`,
    action: { kind: 'file-unlink', path: n.path },
  }));
  for (const { base, top, dependents: deps, bitmaps } of plan.folds) {
    const disk = top.disk;
    steps.push({
      name: `commit ${disk} ${basename(top.path)}`,
      action: { kind: 'image-commit', image: top.path, base: base.path },
    });
    for (const b of bitmaps) {
      steps.push({
        name: `bitmap ${b.name} ${disk}`,
        action: {
          kind: 'bitmap-merge-from',
          image: base.path,
          name: b.name,
          source: top.path,
          granularity: b.granularity,
          disabled: !b.flags.includes('auto'),
        },
      });
    }
    for (const d of deps) {
      steps.push({
        name: `rebase ${disk} ${basename(d.path)}`,
        action: {
          kind: 'image-rebase-unsafe',
          image: d.path,
          backing: base.path,
          backingFormat: base.format,
        },
      });
    }
    steps.push({
      name: `drop ${disk} ${basename(top.path)}`,
      action: { kind: 'file-unlink', path: top.path },
    });
  }
  return steps;
}

function foldable(
  base: Work,
  top: Work,
  work: ReadonlyMap<string, Work>,
  holders: ReadonlyMap<string, RefHolder[]>,
  required: boolean,
): boolean {
  if (!top.node.writable) return false;
  if (dependents(work, top.node.key).some((d) => !d.node.writable)) return false;
  if (base.node.format !== 'qcow2' && usable(top.bitmaps).length > 0) return false;
  const internal = (holders.get(top.node.key) ?? []).flatMap((h) =>
    h.kind === 'internal' ? [h.snapshot] : [],
  );
  if (internal.length === 0) return true;
  if (!required) return false;
  throw new VirtError(
    'OPERATION_UNSUPPORTED',
    `cannot merge image '${top.node.path}' of disk '${top.node.disk}' into '${base.node.path}': it holds ` +
      `internal snapshots ${internal.map((s) => `'${s}'`).join(', ')}; delete them first`,
    { driver: 'qemu', details: { image: top.node.path, snapshots: internal } },
  );
}

function applyFold(
  work: Map<string, Work>,
  holders: Map<string, RefHolder[]>,
  redirects: Map<string, string>,
  base: Work,
  top: Work,
): void {
  for (const d of dependents(work, top.node.key)) d.backing = base.node.key;
  const names = new Set(base.bitmaps.map((b) => b.name));
  base.bitmaps.push(...usable(top.bitmaps).filter((b) => !names.has(b.name)));
  const moved = holders.get(top.node.key);
  if (moved !== undefined) {
    holders.set(base.node.key, [...(holders.get(base.node.key) ?? []), ...moved]);
    holders.delete(top.node.key);
  }
  for (const [from, to] of redirects) if (to === top.node.key) redirects.set(from, base.node.key);
  redirects.set(top.node.key, base.node.key);
  work.delete(top.node.key);
}

function groupRefs(refs: readonly PlanRef[]): Map<string, RefHolder[]> {
  const out = new Map<string, RefHolder[]>();
  for (const r of refs) out.set(r.key, [...(out.get(r.key) ?? []), r.holder]);
  return out;
}

function reach(work: ReadonlyMap<string, Work>, roots: readonly string[]): Set<string> {
  const seen = new Set<string>();
  for (const root of roots) {
    for (let k: string | undefined = root; k !== undefined && !seen.has(k); k = work.get(k)?.backing) {
      if (!work.has(k)) break;
      seen.add(k);
    }
  }
  return seen;
}

function depth(work: ReadonlyMap<string, Work>, w: Work): number {
  const seen = new Set<string>();
  let d = 0;
  for (let k = w.backing; k !== undefined && work.has(k) && !seen.has(k); k = work.get(k)?.backing) {
    seen.add(k);
    d++;
  }
  return d;
}

function dependents(work: ReadonlyMap<string, Work>, key: string): Work[] {
  return [...work.values()].filter((w) => w.backing === key);
}

function usable(bitmaps: readonly BitmapInfo[]): BitmapInfo[] {
  return bitmaps.filter((b) => !b.flags.includes('in-use'));
}
