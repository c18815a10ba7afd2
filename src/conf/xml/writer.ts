import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import { XMLWriter } from 'xmlbuilder2/lib/writers/XMLWriter.js';
import { VirtError } from '../../errors.js';
import { INVALID_XML_CHARS } from './chars.js';
import { isElement } from './reader.js';
import type { XmlElement, XmlText } from './tree.js';

/**
 * Formats an element tree the way libvirt prints its XML: two-space indentation, attributes
 * in single quotes, an element holding only text on one line, an empty element as `<x/>`, and
 * a trailing newline. Text and attribute values are escaped like libvirt's
 * `virBufferEscapeString` (`&`, `<`, `>`, `'` and `"` become entities; characters XML cannot
 * carry are dropped).
 *
 * Two exceptions follow libvirt too: a domain's `<metadata>` subtree is printed the way libxml2
 * dumps it (double quotes, namespace declarations first, libxml2's escaping), and an element
 * with mixed content (text next to elements) is printed without added whitespace.
 *
 * @throws `INVALID_ARG` when an element or attribute name is not a valid XML name.
 * @public
 */
export function formatXml(el: XmlElement): string {
  const doc = create();
  const libxml2Nodes = new WeakSet<object>();
  build(doc, el, 0, false, false, libxml2Nodes, '');
  return new LibvirtXmlWriter(doc.options, libxml2Nodes).serialize(doc.node) + '\n';
}

/** Attribute values for {@link element}: `undefined` leaves the attribute out. @internal */
export type AttrValues = Readonly<Record<string, string | number | undefined>>;
/** Children for {@link element}: `undefined` and `false` entries are skipped. @internal */
export type ChildList = readonly (XmlElement | XmlText | undefined | false)[];

/**
 * Builds an {@link XmlElement} for the formatters, keeping attribute order and skipping
 * absent attributes and children.
 *
 * @internal
 */
export function element(name: string, attrs: AttrValues = {}, children: ChildList = []): XmlElement {
  const attributes = Object.create(null) as Record<string, string>;
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined) attributes[key] = String(value);
  }
  const kids: (XmlElement | XmlText)[] = [];
  for (const c of children) if (c !== undefined && c !== false) kids.push(c);
  return { name, attributes, children: kids };
}

/** An element holding one text node, e.g. `<name>s1</name>`. @internal */
export function textElement(name: string, text: string | number, attrs: AttrValues = {}): XmlElement {
  return element(name, attrs, [{ text: String(text) }]);
}

/**
 * libvirt's `virBufferEscapeString` for text and single-quoted attributes: `&<>"'` become
 * entities and characters that XML 1.0 cannot carry are dropped.
 *
 * @internal
 */
export function escapeLibvirt(value: string): string {
  return dropInvalidChars(value).replace(/[&<>"']/g, (c) => LIBVIRT_ENTITIES[c] ?? c);
}

const LIBVIRT_ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

// libvirt drops U+0001-U+0019 except TAB/LF/CR; dropping every character XML cannot hold keeps
// the output well formed. The public API refuses such characters before they get here (the
// reader, assertXmlSafeDefinition); this covers direct callers of the format functions.
function dropInvalidChars(value: string): string {
  return value.replace(INVALID_XML_CHARS, '');
}

/** libxml2's escaping of text content (`xmlEscapeContent`). */
function escapeLibxml2Text(value: string): string {
  return dropInvalidChars(value).replace(/[&<>\r]/g, (c) => LIBXML2_TEXT_ENTITIES[c] ?? c);
}

const LIBXML2_TEXT_ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '\r': '&#13;',
};

/**
 * libxml2's escaping of attribute values of a node outside a document: the usual entities,
 * TAB/LF/CR as character references and non-ASCII as hexadecimal character references. The
 * latter are emitted as decimal references here, which xmlbuilder2 leaves alone, and turned
 * into libxml2's hexadecimal form by {@link LibvirtXmlWriter.attribute}.
 */
function escapeLibxml2Attr(value: string): string {
  let out = '';
  for (const ch of dropInvalidChars(value)) {
    const cp = ch.codePointAt(0) ?? 0;
    const entity = LIBXML2_ATTR_ENTITIES[ch];
    if (entity !== undefined) out += entity;
    else if (cp >= 0x80) out += `&#${cp};`;
    else out += ch;
  }
  return out;
}

const LIBXML2_ATTR_ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  '\n': '&#10;',
  '\r': '&#13;',
  '\t': '&#9;',
};

const INDENT = '  ';

/**
 * Adds `el` under `parent`, with whitespace text nodes for libvirt's layout. `inline` turns
 * layout off (mixed content); `libxml2` switches to libxml2's quoting and escaping.
 */
function build(
  parent: XMLBuilder,
  el: XmlElement,
  level: number,
  inline: boolean,
  libxml2: boolean,
  libxml2Nodes: WeakSet<object>,
  parentName: string,
): void {
  const ownLibxml2 =
    libxml2 || (el.name === 'metadata' && (parentName === 'domain' || parentName === 'inactiveDomain'));
  const node = checkedName(el.name, () => parent.ele(el.name));
  for (const [name, value] of orderedAttributes(el, ownLibxml2)) {
    checkedName(name, () => node.att(name, ownLibxml2 ? escapeLibxml2Attr(value) : escapeLibvirt(value)));
  }
  // Set after the attributes: an xmlns attribute makes xmlbuilder2 replace the DOM node.
  if (ownLibxml2) libxml2Nodes.add(node.node);
  const children = el.children;
  if (children.length === 0) return;
  const mixed = inline || children.some((c) => !isElement(c));
  for (const c of children) {
    if (!mixed) node.txt('\n' + INDENT.repeat(level + 1));
    if (isElement(c)) build(node, c, level + 1, mixed, ownLibxml2, libxml2Nodes, el.name);
    else if (c.text !== '') node.txt(ownLibxml2 ? escapeLibxml2Text(c.text) : escapeLibvirt(c.text));
  }
  if (!mixed) node.txt('\n' + INDENT.repeat(level));
}

/** Runs an xmlbuilder2 call that can reject `name`, turning its error into ours. */
function checkedName<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new VirtError('INVALID_ARG', `invalid XML name '${name}'`, { cause: err });
  }
}

/** libxml2 prints namespace declarations before the other attributes. */
function orderedAttributes(el: XmlElement, libxml2: boolean): [string, string][] {
  const entries = Object.entries(el.attributes);
  if (!libxml2) return entries;
  const isNs = ([name]: [string, string]): boolean => name === 'xmlns' || name.startsWith('xmlns:');
  return [...entries.filter(isNs), ...entries.filter((e) => !isNs(e))];
}

/**
 * xmlbuilder2's XML writer with libvirt's attribute quoting. Values arrive already escaped
 * (only entity and character references, no bare `&`, `<`, `>` or quotes), so xmlbuilder2's own
 * escaping leaves them unchanged.
 */
class LibvirtXmlWriter extends XMLWriter {
  constructor(
    builderOptions: ConstructorParameters<typeof XMLWriter>[0],
    private readonly libxml2Nodes: WeakSet<object>,
  ) {
    super(builderOptions, { headless: true, prettyPrint: false, wellFormed: false });
  }

  override attribute(name: string, value: string): void {
    if (this.libxml2Nodes.has(this.currentNode)) {
      super.attribute(name, value.replace(/&#(\d+);/g, hexCharRef));
    } else {
      this.text(` ${name}='${value}'`);
    }
  }
}

function hexCharRef(ref: string, digits: string): string {
  const cp = Number(digits);
  return cp >= 0x80 ? `&#x${cp.toString(16).toUpperCase()};` : ref;
}
