import { VirtError } from '../errors.js';
import { assertNever } from '../util/assert-never.js';
import {
  MomentNode,
  attach,
  detach,
  forEachChild,
  forEachDescendant,
  moveChildren,
  unlink,
} from './moment-tree.js';

/**
 * What a {@link MomentList} needs from a snapshot or checkpoint definition: its name and
 * the name of its parent.
 *
 * @public
 */
export interface MomentDefLike {
  /** The moment's name, the list's key; required by {@link MomentList.add} and {@link MomentList.replace}. */
  readonly name?: string;
  /** Name of the parent moment; absent for a root. */
  readonly parent?: string;
}

/**
 * The kinds of moment a {@link MomentList} can hold; the kind picks the error codes.
 *
 * @public
 */
export const MOMENT_KINDS = ['snapshot', 'checkpoint'] as const;
/**
 * What a {@link MomentList} holds: `snapshot` errors use `NO_DOMAIN_SNAPSHOT`, `checkpoint`
 * errors `NO_DOMAIN_CHECKPOINT`.
 *
 * @public
 */
export type MomentKind = (typeof MOMENT_KINDS)[number];

/**
 * How {@link MomentList.remove} treats the children of the removed moment.
 *
 * @public
 */
export const MOMENT_REMOVE_MODES = ['self', 'children', 'childrenOnly'] as const;
/**
 * A mode of {@link MomentList.remove}: `self` moves the children to the parent, `children`
 * removes the whole subtree, `childrenOnly` removes only the descendants (libvirt's delete flags).
 *
 * @public
 */
export type MomentRemoveMode = (typeof MOMENT_REMOVE_MODES)[number];

/**
 * The {@link MomentRemoveMode} a delete's options ask for (libvirt's
 * `VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN` / `…_CHILDREN_ONLY`); `self` without either.
 *
 * @public
 */
export function momentRemoveMode(options: {
  readonly children?: boolean;
  readonly childrenOnly?: boolean;
}): MomentRemoveMode {
  if (options.children === true) return 'children';
  if (options.childrenOnly === true) return 'childrenOnly';
  return 'self';
}

/**
 * libvirt's internal moment-list filter bits, as booleans.
 *
 * `roots` applies only to a whole-domain listing (`from === null`) and `descendants` only
 * to a listing below a moment; the one that does not apply is ignored.
 *
 * @public
 */
export interface MomentListFlags {
  /** With `from === null`: only the roots instead of every moment. */
  roots?: boolean;
  /** With a `from` moment: every descendant instead of the direct children. */
  descendants?: boolean;
  /** Parents before children (pre-order, most recently linked child first). */
  topological?: boolean;
  /** Only moments without children. With `noLeaves` as well, nothing matches. */
  leaves?: boolean;
  /** Only moments with children. */
  noLeaves?: boolean;
  /** Only moments with metadata (all of them). */
  metadata?: boolean;
  /** Only moments without metadata: alone it matches nothing; with `metadata` it filters nothing. */
  noMetadata?: boolean;
}

/**
 * What {@link MomentList.remove} did.
 *
 * @public
 */
export interface MomentRemoval<D> {
  /** Definitions of the removed moments: descendants in topological order, then the target. */
  readonly removed: D[];
  /** Children that moved to the removed moment's parent, in their new sibling order. */
  readonly reparented: string[];
  /** The current moment before the removal. */
  readonly currentBefore: string | undefined;
  /** The current moment after the removal. */
  readonly currentAfter: string | undefined;
}

/**
 * The tree of one domain's snapshots or checkpoints (libvirt's `virDomainMomentObjList`):
 * a name index, parent/child links under a hidden metaroot, and the current moment.
 *
 * Definitions are immutable values. When the list itself changes a moment's parent
 * (children re-parented by {@link MomentList.remove}) it stores `{ ...def, parent }`, with
 * `parent` left out for a root. A parent name that does not resolve when a definition is
 * added is kept as given, the moment is linked as a root, and
 * {@link MomentList.updateRelations} resolves it once everything is loaded.
 *
 * Every operation is iterative; linking and unlinking are O(1), parent checks O(depth),
 * listings and bulk operations O(n).
 *
 * @example
 * ```ts
 * const list = new MomentList<SnapshotDef>('snapshot');
 * list.add({ name: 's1' });
 * list.setCurrent('s1');
 * list.add({ name: 's2', parent: list.current });
 * list.list(null, { topological: true }); // ['s1', 's2']
 * ```
 *
 * @public
 */
export class MomentList<D extends MomentDefLike> {
  /** Whether this list holds snapshots or checkpoints. */
  readonly kind: MomentKind;
  readonly #byName = new Map<string, MomentNode<D>>();
  readonly #metaroot: MomentNode<D> = MomentNode.metaroot<D>();
  #current: MomentNode<D> | undefined = undefined;
  #seq = 0;

  constructor(kind: MomentKind) {
    this.kind = kind;
  }

  /** Number of moments. */
  get size(): number {
    return this.#byName.size;
  }

  /** Whether a moment of that name exists. */
  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /** The definition of the named moment, if any. */
  get(name: string): D | undefined {
    return this.#byName.get(name)?.def;
  }

  /**
   * The definition of the named moment.
   *
   * @throws `NO_DOMAIN_SNAPSHOT` / `NO_DOMAIN_CHECKPOINT` when there is no such moment.
   */
  require(name: string): D {
    return this.#node(name).def;
  }

  /** Every name, in insertion order (libvirt leaves this order unspecified). */
  names(): string[] {
    return [...this.#byName.keys()];
  }

  /**
   * Adds a moment and links it under `def.parent`, or as a root when that is absent or
   * unknown (callers validate with {@link MomentList.checkRedefine} first).
   *
   * @throws `OPERATION_FAILED` when the name is taken.
   */
  add(def: D & { name: string }): void {
    if (this.#byName.has(def.name)) {
      throw new VirtError('OPERATION_FAILED', `domain moment ${def.name} already exists`);
    }
    const node = new MomentNode<D>(def.name, def, this.#seq++);
    this.#byName.set(def.name, node);
    attach(node, this.#resolve(def.parent));
  }

  /**
   * Replaces an existing moment's definition in place (redefinition): children and the
   * current marker stay, the moment is re-linked under `def.parent` (a root when absent
   * or unknown).
   *
   * @throws `NO_DOMAIN_SNAPSHOT` / `NO_DOMAIN_CHECKPOINT` when there is no such moment;
   * `INVALID_ARG` when the new parent is the moment itself or one of its descendants.
   */
  replace(def: D & { name: string }): void {
    const node = this.#node(def.name);
    const parent = this.#resolve(def.parent);
    this.#assertNotBelow(parent, node);
    detach(node);
    node.def = def;
    attach(node, parent);
  }

  /**
   * Replaces an existing moment's definition without touching the tree: same parent, same
   * place among its siblings, same children, same current marker. For changes that keep the
   * parent (a driver rewriting disk paths or `revertDisks`); use {@link MomentList.replace}
   * to re-parent.
   *
   * @throws `NO_DOMAIN_SNAPSHOT` / `NO_DOMAIN_CHECKPOINT` when there is no such moment;
   * `INVALID_ARG` when `def.parent` names another parent than the moment's.
   */
  update(def: D & { name: string }): void {
    const node = this.#node(def.name);
    const parent = this.#parentName(node);
    if ((def.parent ?? undefined) !== parent) {
      throw new VirtError(
        'INVALID_ARG',
        `update of moment ${def.name} would change its parent from ${parent ?? 'none'} to ${def.parent ?? 'none'}`,
      );
    }
    node.def = def;
  }

  /**
   * Checks that moment `name` may be (re)defined with parent `parent` (libvirt's
   * `CheckCycles`): the parent must exist and must not be the moment or one of its
   * descendants. The walk follows parent names and stops silently at one it cannot resolve.
   *
   * @throws `INVALID_ARG` "cannot set moment N as its own parent", "parent P for moment N
   * not found" or "parent A would create cycle to N".
   */
  checkRedefine(name: string, parent: string | undefined): void {
    if (parent === undefined) return;
    if (parent === name) {
      throw new VirtError('INVALID_ARG', `cannot set moment ${name} as its own parent`);
    }
    let other = this.#byName.get(parent);
    if (other === undefined) {
      throw new VirtError('INVALID_ARG', `parent ${parent} for moment ${name} not found`);
    }
    // Bounded so that unresolved names given to add() can never make the walk loop.
    for (let steps = this.#byName.size; other.def.parent !== undefined && steps > 0; steps--) {
      if (other.def.parent === name) {
        throw new VirtError('INVALID_ARG', `parent ${other.name} would create cycle to ${name}`);
      }
      other = this.#byName.get(other.def.parent);
      if (other === undefined) return;
    }
  }

  /**
   * Name of the moment's parent in the tree; `undefined` for a root.
   *
   * @throws `NO_DOMAIN_SNAPSHOT` / `NO_DOMAIN_CHECKPOINT` when there is no such moment.
   */
  parentOf(name: string): string | undefined {
    return this.#parentName(this.#node(name));
  }

  /**
   * Names of the direct children, most recently linked first.
   *
   * @throws `NO_DOMAIN_SNAPSHOT` / `NO_DOMAIN_CHECKPOINT` when there is no such moment.
   */
  children(name: string): string[] {
    const out: string[] = [];
    forEachChild(this.#node(name), (child) => out.push(child.name));
    return out;
  }

  /**
   * Number of direct children.
   *
   * @throws `NO_DOMAIN_SNAPSHOT` / `NO_DOMAIN_CHECKPOINT` when there is no such moment.
   */
  childCount(name: string): number {
    return this.#node(name).childCount;
  }

  /**
   * Whether `ancestor` is a proper ancestor of `name` (false when they are equal or
   * `ancestor` does not exist).
   *
   * @throws `NO_DOMAIN_SNAPSHOT` / `NO_DOMAIN_CHECKPOINT` when `name` does not exist.
   */
  isAncestor(name: string, ancestor: string): boolean {
    const target = this.#byName.get(ancestor);
    for (let p = this.#node(name).parent; p !== undefined; p = p.parent) {
      if (p === target) return true;
    }
    return false;
  }

  /**
   * Lists moment names like libvirt's `virDomainMomentObjListGetNames`.
   *
   * With `from === null` the whole domain is listed (only roots with `roots`); otherwise
   * the direct children of `from` (every descendant with `descendants`), never `from`
   * itself. Order is parents-first pre-order (most recently linked child first) when
   * walking a subtree or with `topological`, and insertion order for an unordered
   * whole-domain listing. `noMetadata` alone yields nothing; `leaves` with `noLeaves`
   * yields nothing; `filter` is the kind-specific test applied last.
   *
   * @throws `NO_DOMAIN_SNAPSHOT` / `NO_DOMAIN_CHECKPOINT` when `from` does not exist.
   */
  list(from: string | null, flags: MomentListFlags = {}, filter?: (def: D) => boolean): string[] {
    const top = from === null ? this.#metaroot : this.#node(from);
    if (flags.noMetadata === true && flags.metadata !== true) return [];
    const deep = from === null ? flags.roots !== true : flags.descendants === true;
    const keep = keeper(flags, filter);
    const out: string[] = [];
    const visit = (node: MomentNode<D>): void => {
      if (keep(node)) out.push(node.name);
    };
    if (!deep) forEachChild(top, visit);
    else if (from !== null || flags.topological === true) forEachDescendant(top, visit);
    else this.#byName.forEach(visit);
    return out;
  }

  /** Name of the current moment, if any. */
  get current(): string | undefined {
    return this.#current?.name;
  }

  /**
   * Makes the named moment current, or clears the current moment.
   *
   * @throws `NO_DOMAIN_SNAPSHOT` / `NO_DOMAIN_CHECKPOINT` when there is no such moment.
   */
  setCurrent(name: string | undefined): void {
    this.#current = name === undefined ? undefined : this.#node(name);
  }

  /**
   * Removes a moment the way libvirt's delete maintains the tree.
   *
   * - `self`: the children move to the moment's parent (their `parent` rewritten, roots
   *   when it had none), in front of the parent's other children and in their own order.
   * - `children`: every descendant goes too.
   * - `childrenOnly`: only the descendants go; the moment stays, childless.
   *
   * If a removed descendant was current, the target becomes current; if the target itself
   * goes while current, its parent becomes current (none for a root).
   *
   * @throws `NO_DOMAIN_SNAPSHOT` / `NO_DOMAIN_CHECKPOINT` when there is no such moment.
   */
  remove(name: string, mode: MomentRemoveMode = 'self'): MomentRemoval<D> {
    const node = this.#node(name);
    const currentBefore = this.current;
    const removed: D[] = [];
    const reparented: string[] = [];
    switch (mode) {
      case 'self':
        this.#reparentChildren(node, reparented);
        this.#discard(node, removed);
        break;
      case 'children':
        this.#discardDescendants(node, removed);
        this.#discard(node, removed);
        break;
      case 'childrenOnly':
        this.#discardDescendants(node, removed);
        break;
      default:
        assertNever(mode, 'remove mode');
    }
    return { removed, reparented, currentBefore, currentAfter: this.current };
  }

  /**
   * Rebuilds every link from the definitions' parent names, in insertion order (libvirt's
   * `UpdateRelations`, run after loading). A moment whose parent is missing, or the last
   * loaded member of a parent cycle, becomes a root and loses its `parent`. When anything
   * was wrong the current moment is cleared.
   *
   * @returns One message per problem ("moment X lacks parent P", "moment X in circular
   * chain"); empty when the relations are consistent.
   */
  updateRelations(): string[] {
    const nodes = [...this.#byName.values()];
    for (const node of nodes) unlink(node);
    unlink(this.#metaroot);
    const cut = this.#findCycleCuts(nodes);
    const errors: string[] = [];
    for (const node of nodes) {
      const parent = this.#resolve(node.def.parent);
      const problem = relationProblem(node, parent === this.#metaroot, cut.has(node));
      if (problem !== undefined) {
        errors.push(problem);
        node.def = withParent(node.def, undefined);
      }
      attach(node, problem === undefined ? parent : this.#metaroot);
    }
    if (errors.length > 0) this.#current = undefined;
    return errors;
  }

  /**
   * The single leaf of a list that is one unbranched chain (libvirt's `FindLeaf`, used to
   * pick the current checkpoint on load); `undefined` when empty or branched.
   */
  findLeaf(): string | undefined {
    let node = this.#metaroot;
    if (node.childCount !== 1) return undefined;
    while (node.childCount === 1 && node.firstChild !== undefined) node = node.firstChild;
    return node.childCount === 0 ? node.name : undefined;
  }

  #node(name: string): MomentNode<D> {
    const node = this.#byName.get(name);
    if (node === undefined) throw notFound(this.kind, name);
    return node;
  }

  #resolve(parent: string | undefined): MomentNode<D> {
    return (parent === undefined ? undefined : this.#byName.get(parent)) ?? this.#metaroot;
  }

  #parentName(node: MomentNode<D>): string | undefined {
    const parent = node.parent;
    return parent === undefined || parent === this.#metaroot ? undefined : parent.name;
  }

  #assertNotBelow(parent: MomentNode<D>, node: MomentNode<D>): void {
    if (parent === node) {
      throw new VirtError('INVALID_ARG', `cannot set moment ${node.name} as its own parent`);
    }
    for (let p = parent; p.parent !== undefined; p = p.parent) {
      if (p.parent === node) {
        throw new VirtError('INVALID_ARG', `parent ${p.name} would create cycle to ${node.name}`);
      }
    }
  }

  #reparentChildren(node: MomentNode<D>, reparented: string[]): void {
    const parent = node.parent ?? this.#metaroot;
    const parentName = this.#parentName(node);
    moveChildren(node, parent, (child) => {
      child.def = withParent(child.def, parentName);
      reparented.push(child.name);
    });
  }

  #discardDescendants(node: MomentNode<D>, removed: D[]): void {
    const doomed: MomentNode<D>[] = [];
    forEachDescendant(node, (d) => doomed.push(d));
    for (const d of doomed) {
      if (d === this.#current) this.#current = node;
      this.#byName.delete(d.name);
      removed.push(d.def);
      unlink(d);
    }
    node.firstChild = undefined;
    node.childCount = 0;
  }

  #discard(node: MomentNode<D>, removed: D[]): void {
    const parent = node.parent;
    detach(node);
    if (node === this.#current) this.#current = parent === this.#metaroot ? undefined : parent;
    this.#byName.delete(node.name);
    removed.push(node.def);
  }

  /**
   * In the parent graph given by names, every cycle loses exactly one link: the one of its
   * member loaded last, because libvirt's one-pass relinking only sees the cycle close when
   * it reaches that member. Found in O(n) by colouring walks.
   */
  #findCycleCuts(nodes: readonly MomentNode<D>[]): Set<MomentNode<D>> {
    const cut = new Set<MomentNode<D>>();
    for (const node of nodes) node.mark = 0;
    let walk = 0;
    for (const start of nodes) {
      walk++;
      let n: MomentNode<D> | undefined = start;
      while (n !== undefined && n.mark === 0) {
        n.mark = walk;
        n = n.def.parent === undefined ? undefined : this.#byName.get(n.def.parent);
      }
      if (n !== undefined && n.mark === walk) cut.add(lastLoadedOfCycle(n, this.#byName));
    }
    return cut;
  }
}

function notFound(kind: MomentKind, name: string): VirtError {
  switch (kind) {
    case 'snapshot':
      return new VirtError('NO_DOMAIN_SNAPSHOT', `no domain snapshot with matching name '${name}'`);
    case 'checkpoint':
      return new VirtError('NO_DOMAIN_CHECKPOINT', `no domain checkpoint with matching name '${name}'`);
    default:
      return assertNever(kind, 'moment kind');
  }
}

function withParent<D extends MomentDefLike>(def: D, parent: string | undefined): D {
  if (def.parent === parent) return def;
  if (parent !== undefined) return { ...def, parent };
  const { parent: _dropped, ...rest } = def;
  return rest as unknown as D;
}

function relationProblem<D extends MomentDefLike>(
  node: MomentNode<D>,
  unresolved: boolean,
  inCycle: boolean,
): string | undefined {
  const wanted = node.def.parent;
  if (wanted !== undefined && unresolved) return `moment ${node.name} lacks parent ${wanted}`;
  if (inCycle) return `moment ${node.name} in circular chain`;
  return undefined;
}

function keeper<D>(flags: MomentListFlags, filter?: (def: D) => boolean): (node: MomentNode<D>) => boolean {
  const leaves = flags.leaves === true;
  const noLeaves = flags.noLeaves === true;
  return (node) =>
    !(leaves && node.childCount > 0) &&
    !(noLeaves && node.childCount === 0) &&
    (filter === undefined || filter(node.def));
}

function lastLoadedOfCycle<D extends MomentDefLike>(
  entry: MomentNode<D>,
  byName: Map<string, MomentNode<D>>,
): MomentNode<D> {
  let last = entry;
  for (let n = parentByName(entry, byName); n !== undefined && n !== entry; n = parentByName(n, byName)) {
    if (n.seq > last.seq) last = n;
  }
  return last;
}

function parentByName<D extends MomentDefLike>(
  node: MomentNode<D>,
  byName: Map<string, MomentNode<D>>,
): MomentNode<D> | undefined {
  return node.def.parent === undefined ? undefined : byName.get(node.def.parent);
}
