import { isElement } from './reader.js';
import type { XmlElement } from './tree.js';

// Immutable edits of XmlElement trees.

/** A copy of `attributes` with `name` set (appended when new). @internal */
export function withAttr(
  attributes: Readonly<Record<string, string>>,
  name: string,
  value: string,
): Record<string, string> {
  const out = Object.assign(Object.create(null) as Record<string, string>, attributes);
  out[name] = value;
  return out;
}

/** A copy of `attributes` without `names`. @internal */
export function withoutAttrs(
  attributes: Readonly<Record<string, string>>,
  names: readonly string[],
): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(attributes)) if (!names.includes(k)) out[k] = v;
  return out;
}

/** `el` with each element child replaced by `fn(child)`; `el` itself when nothing changed. @internal */
export function mapChildren(el: XmlElement, fn: (c: XmlElement) => XmlElement): XmlElement {
  let changed = false;
  const children = el.children.map((c) => {
    if (!isElement(c)) return c;
    const next = fn(c);
    if (next !== c) changed = true;
    return next;
  });
  return changed ? { ...el, children } : el;
}

/** `el` with its first child named `name` replaced by `fn(child)`. @internal */
export function mapChild(el: XmlElement, name: string, fn: (c: XmlElement) => XmlElement): XmlElement {
  let done = false;
  return mapChildren(el, (c) => {
    if (done || c.name !== name) return c;
    done = true;
    return fn(c);
  });
}
