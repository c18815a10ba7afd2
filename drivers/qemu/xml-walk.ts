import type { XmlElement, XmlText } from 'virtkit';

/** Small read helpers over the public {@link XmlElement} tree (the core's own are internal). */

/** Tells whether a child node is an element. @internal */
export function isEl(node: XmlElement | XmlText): node is XmlElement {
  return (node as XmlElement).name !== undefined;
}

/** The element children of `el`, optionally only those named `name`. @internal */
export function elements(el: XmlElement, name?: string): XmlElement[] {
  return el.children.filter((c): c is XmlElement => isEl(c) && (name === undefined || c.name === name));
}

/** The first child element named `name`. @internal */
export function first(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el === undefined ? undefined : elements(el, name)[0];
}

/** An attribute value. @internal */
export function attrOf(el: XmlElement | undefined, name: string): string | undefined {
  return el?.attributes[name];
}

/** The concatenated text of an element (XPath `string()`), trimmed. @internal */
export function textOf(el: XmlElement | undefined): string | undefined {
  if (el === undefined) return undefined;
  const parts: string[] = [];
  const walk = (e: XmlElement): void => {
    for (const c of e.children) {
      if (isEl(c)) walk(c);
      else parts.push(c.text);
    }
  };
  walk(el);
  return parts.join('').trim();
}
