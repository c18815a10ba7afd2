/**
 * A node of a `MomentList`'s tree. The metaroot is a node too (empty name, no
 * definition, no parent), so every real node always has a parent and the roots are the
 * metaroot's children. Siblings form a doubly linked list, so unlinking never scans.
 *
 * @internal
 */
export class MomentNode<D> {
  readonly name: string;
  def: D;
  /** Insertion rank (the hash order libvirt iterates in). */
  readonly seq: number;
  parent: MomentNode<D> | undefined = undefined;
  firstChild: MomentNode<D> | undefined = undefined;
  prev: MomentNode<D> | undefined = undefined;
  next: MomentNode<D> | undefined = undefined;
  childCount = 0;
  /** Scratch space of updateRelations' cycle search. */
  mark = 0;

  constructor(name: string, def: D, seq: number) {
    this.name = name;
    this.def = def;
    this.seq = seq;
  }

  /** Creates the sentinel parent of all roots. */
  static metaroot<D>(): MomentNode<D> {
    // The metaroot's definition is never read: only real nodes are reachable by name.
    return new MomentNode<D>('', undefined as D, -1);
  }
}

/**
 * Prepends `node` to `parent`'s children, so sibling order is most recently linked first.
 *
 * @internal
 */
export function attach<D>(node: MomentNode<D>, parent: MomentNode<D>): void {
  const first = parent.firstChild;
  node.parent = parent;
  node.prev = undefined;
  node.next = first;
  if (first !== undefined) first.prev = node;
  parent.firstChild = node;
  parent.childCount++;
}

/**
 * Unlinks `node` from its parent's children in O(1).
 *
 * @internal
 */
export function detach<D>(node: MomentNode<D>): void {
  const parent = node.parent;
  if (parent === undefined) return;
  if (node.prev === undefined) parent.firstChild = node.next;
  else node.prev.next = node.next;
  if (node.next !== undefined) node.next.prev = node.prev;
  parent.childCount--;
  node.parent = undefined;
  node.prev = undefined;
  node.next = undefined;
}

/**
 * Forgets every link of `node` (used before a bulk relink).
 *
 * @internal
 */
export function unlink<D>(node: MomentNode<D>): void {
  node.parent = undefined;
  node.prev = undefined;
  node.next = undefined;
  node.firstChild = undefined;
  node.childCount = 0;
}

/**
 * Splices all of `from`'s children, in order, in front of `to`'s children, calling `each`
 * on every moved child.
 *
 * @internal
 */
export function moveChildren<D>(
  from: MomentNode<D>,
  to: MomentNode<D>,
  each: (child: MomentNode<D>) => void,
): void {
  let last: MomentNode<D> | undefined;
  for (let child = from.firstChild; child !== undefined; child = child.next) {
    child.parent = to;
    each(child);
    last = child;
  }
  if (last === undefined) return;
  last.next = to.firstChild;
  if (to.firstChild !== undefined) to.firstChild.prev = last;
  to.firstChild = from.firstChild;
  to.childCount += from.childCount;
  from.firstChild = undefined;
  from.childCount = 0;
}

/**
 * Visits the direct children, most recently linked first; `visit` may unlink the visited child.
 *
 * @internal
 */
export function forEachChild<D>(parent: MomentNode<D>, visit: (node: MomentNode<D>) => void): void {
  for (let child = parent.firstChild; child !== undefined;) {
    const next = child.next;
    visit(child);
    child = next;
  }
}

/**
 * Pre-order walk below `top` (never `top` itself) without recursion or a stack: down, then
 * across, then up. `visit` must not change the tree.
 *
 * @internal
 */
export function forEachDescendant<D>(top: MomentNode<D>, visit: (node: MomentNode<D>) => void): void {
  let node = top.firstChild;
  while (node !== undefined) {
    visit(node);
    if (node.firstChild !== undefined) {
      node = node.firstChild;
      continue;
    }
    while (node.next === undefined) {
      const up: MomentNode<D> | undefined = node.parent;
      if (up === undefined || up === top) return;
      node = up;
    }
    node = node.next;
  }
}
