import { SaxesParser } from 'saxes';
import type { CheckpointXmlField, SnapshotXmlField } from './scenario.js';

// Extracts the compared fields from snapshot / checkpoint XML, exactly as run-libvirt.py does
// with ElementTree, so both runners report the same JSON. Deliberately independent of virtkit's
// own XML code: the suite must not trust what it tests.

interface Node {
  readonly name: string;
  readonly attributes: Record<string, string>;
  readonly children: Node[];
  text: string;
}

/** Parses XML into a minimal element tree (text = concatenated direct text). */
function parse(xml: string): Node {
  const parser = new SaxesParser({ position: false });
  const stack: Node[] = [];
  let root: Node | undefined;
  parser.on('opentag', (tag) => {
    const node: Node = {
      name: tag.name,
      attributes: { ...tag.attributes } as Record<string, string>,
      children: [],
      text: '',
    };
    stack.at(-1)?.children.push(node);
    stack.push(node);
    root ??= node;
  });
  parser.on('text', (text) => {
    const top = stack.at(-1);
    if (top) top.text += text;
  });
  parser.on('cdata', (text) => {
    const top = stack.at(-1);
    if (top) top.text += text;
  });
  parser.on('closetag', () => void stack.pop());
  parser.write(xml).close();
  if (root === undefined) throw new Error('empty XML document');
  return root;
}

function find(node: Node | undefined, path: string): Node | undefined {
  let cur = node;
  for (const part of path.split('/')) cur = cur?.children.find((c) => c.name === part);
  return cur;
}

function findAll(node: Node, path: string): Node[] {
  const parts = path.split('/');
  const last = parts.pop() ?? '';
  const parent = parts.length === 0 ? node : find(node, parts.join('/'));
  return parent?.children.filter((c) => c.name === last) ?? [];
}

function textOf(node: Node, path: string): string | null {
  return find(node, path)?.text ?? null;
}

function attr(node: Node | undefined, name: string): string | null {
  return node?.attributes[name] ?? null;
}

function domainOf(root: Node): [string | null, string | null] | null {
  const dom = find(root, 'domain');
  return dom === undefined ? null : [textOf(dom, 'name'), textOf(dom, 'uuid')];
}

/** The selected fields of `<domainsnapshot>` XML. */
export function snapshotFields(xml: string, fields: readonly SnapshotXmlField[]): Record<string, unknown> {
  const root = parse(xml);
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    switch (field) {
      case 'name':
      case 'description':
      case 'state':
      case 'creationTime':
        out[field] = textOf(root, field);
        break;
      case 'parent':
        out[field] = textOf(root, 'parent/name');
        break;
      case 'memory':
        out[field] = attr(find(root, 'memory'), 'snapshot');
        break;
      case 'disks':
        out[field] = findAll(root, 'disks/disk').map((d) => [attr(d, 'name'), attr(d, 'snapshot')]);
        break;
      case 'domain':
        out[field] = domainOf(root);
        break;
      default:
        unreachable(field);
    }
  }
  return out;
}

/** The selected fields of `<domaincheckpoint>` XML. */
export function checkpointFields(
  xml: string,
  fields: readonly CheckpointXmlField[],
): Record<string, unknown> {
  const root = parse(xml);
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    switch (field) {
      case 'name':
      case 'description':
      case 'creationTime':
        out[field] = textOf(root, field);
        break;
      case 'parent':
        out[field] = textOf(root, 'parent/name');
        break;
      case 'disks':
        out[field] = findAll(root, 'disks/disk').map((d) => [
          attr(d, 'name'),
          attr(d, 'checkpoint'),
          attr(d, 'bitmap'),
        ]);
        break;
      case 'sizes':
        out[field] = findAll(root, 'disks/disk').map((d) => [attr(d, 'name'), attr(d, 'size')]);
        break;
      case 'domain':
        out[field] = domainOf(root);
        break;
      default:
        unreachable(field);
    }
  }
  return out;
}

function unreachable(value: never): never {
  throw new Error(`unknown xml field ${String(value)}`);
}
