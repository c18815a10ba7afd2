import type { DomainCheckpoint } from './checkpoint.js';
import type { Domain } from './domain.js';
import { isVirtError, type ErrorCode } from './errors.js';
import { assertOptions } from './options.js';
import type { DomainSnapshot } from './snapshot.js';

/**
 * Options of {@link formatSnapshotTree} and {@link formatCheckpointTree}.
 *
 * @public
 */
export interface TreeFormatOptions {
  /**
   * Drop virsh's trailing blanks and closing empty lines, for `console.log`: no line ends in
   * white space and the text ends with the last line (no newline). Blank lines between
   * trees stay.
   * @defaultValue `false` (byte-identical to virsh)
   */
  trim?: boolean;
}

/**
 * Prints a domain's snapshots exactly as `virsh snapshot-list DOMAIN --tree` does: every root
 * and its descendants, siblings sorted by name the way virsh sorts them (case-insensitive for
 * ASCII letters), with virsh's ASCII art, trailing blanks and closing empty line — or,
 * with `trim`, without the trailing white space.
 *
 * @example
 * ```ts
 * console.log(await formatSnapshotTree(domain, { trim: true }));
 * // s1
 * //   |
 * //   +- s2
 * //   +- s3
 * ```
 *
 * @throws `NO_DOMAIN` when the domain is gone, `NO_SUPPORT` when the driver has no snapshots.
 * @public
 */
export async function formatSnapshotTree(domain: Domain, options: TreeFormatOptions = {}): Promise<string> {
  assertOptions(options, ['trim'], 'formatSnapshotTree');
  const snapshots = await domain.listSnapshots();
  const nodes = await Promise.all(snapshots.map((s) => treeNode(s, 'NO_DOMAIN_SNAPSHOT')));
  return finish(printForest(nodes), options);
}

/**
 * Prints a domain's checkpoints exactly as `virsh checkpoint-list DOMAIN --tree` does (the
 * same layout and options as {@link formatSnapshotTree}).
 *
 * @throws `NO_DOMAIN` when the domain is gone, `NO_SUPPORT` when the driver has no checkpoints.
 * @public
 */
export async function formatCheckpointTree(domain: Domain, options: TreeFormatOptions = {}): Promise<string> {
  assertOptions(options, ['trim'], 'formatCheckpointTree');
  const checkpoints = await domain.listCheckpoints();
  const nodes = await Promise.all(checkpoints.map((c) => treeNode(c, 'NO_DOMAIN_CHECKPOINT')));
  return finish(printForest(nodes), options);
}

function finish(text: string, options: TreeFormatOptions): string {
  if (options.trim !== true) return text;
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .replace(/\n+$/, '');
}

/** virsh's name order (`strcasecmp` in a UTF-8 locale): ASCII letters folded to lower case. */
function compareVirshNames(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = foldAscii(x[i] ?? '') - foldAscii(y[i] ?? '');
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

interface TreeNode {
  readonly name: string;
  readonly parent: string | undefined;
}

async function treeNode(moment: DomainSnapshot | DomainCheckpoint, rootCode: ErrorCode): Promise<TreeNode> {
  try {
    return { name: moment.name, parent: (await moment.getParent()).name };
  } catch (err) {
    if (isVirtError(err, rootCode)) return { name: moment.name, parent: undefined };
    throw err;
  }
}

function foldAscii(ch: string): number {
  const c = ch.codePointAt(0) ?? 0;
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
}

/** virsh's `vshTreePrint` for every root, without recursion so that deep chains print too. */
function printForest(nodes: readonly TreeNode[]): string {
  const sorted = [...nodes].sort((a, b) => compareVirshNames(a.name, b.name));
  const children = new Map<string, string[]>();
  for (const n of sorted) {
    if (n.parent === undefined) continue;
    const siblings = children.get(n.parent);
    if (siblings === undefined) children.set(n.parent, [n.name]);
    else siblings.push(n.name);
  }
  const lines: string[] = [];
  for (const n of sorted) if (n.parent === undefined) printTree(n.name, children, lines);
  return lines.map((l) => `${l}\n`).join('') + '\n';
}

interface Frame {
  readonly kids: readonly string[];
  readonly indent: string;
  next: number;
}

function printTree(root: string, children: ReadonlyMap<string, string[]>, lines: string[]): void {
  const stack: Frame[] = [];
  const enter = (name: string, indent: string, isRoot: boolean, last: boolean): void => {
    lines.push(`${indent}${isRoot ? '' : '+- '}${name}`);
    const own = isRoot ? indent : `${indent}${last ? ' ' : '|'} `;
    const kids = children.get(name) ?? [];
    if (kids.length > 0) lines.push(`${own}  |`);
    else if (last) lines.push(own);
    stack.push({ kids, indent: own, next: 0 });
  };
  enter(root, '', true, true);
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as Frame;
    const kid = top.kids[top.next];
    if (kid === undefined) {
      stack.pop();
      continue;
    }
    top.next++;
    enter(kid, `${top.indent}  `, false, top.next === top.kids.length);
  }
}
