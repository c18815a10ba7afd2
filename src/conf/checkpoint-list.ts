import type { MomentDefLike, MomentList } from './moment-list.js';

/**
 * Whether redefining a checkpoint with parent `parent` makes it current (libvirt's
 * automatic rule; checkpoints have no CURRENT flag): yes when that parent is the current
 * checkpoint or when there is no current checkpoint yet. Ask before committing the
 * redefinition.
 *
 * @example
 * ```ts
 * list.checkRedefine(def.name, def.parent);
 * const makeCurrent = redefineMakesCurrent(list, def.parent);
 * if (list.has(def.name)) list.replace(def);
 * else list.add(def);
 * if (makeCurrent) list.setCurrent(def.name);
 * ```
 *
 * @public
 */
export function redefineMakesCurrent<D extends MomentDefLike>(
  list: MomentList<D>,
  parent: string | undefined,
): boolean {
  const current = list.current;
  return current === undefined || (parent !== undefined && parent === current);
}
