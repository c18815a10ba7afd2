import { randomUUID } from 'node:crypto';
import {
  checkDuplicateDiskTargets,
  domainDefFromElement,
  type DomainDef,
  type XmlElement,
  type XmlText,
} from 'virtkit';

/**
 * libvirt's namespace of the test driver's `<domain>` extensions.
 *
 * @internal
 */
export const TEST_NAMESPACE = 'http://libvirt.org/schemas/domain/test/1.0';

/**
 * Tells whether a child node is an element.
 *
 * @internal
 */
export function isElement(node: XmlElement | XmlText): node is XmlElement {
  return (node as XmlElement).name !== undefined;
}

/**
 * The element children of `el`, optionally only those named `name`.
 *
 * @internal
 */
export function elements(el: XmlElement, name?: string): XmlElement[] {
  return el.children.filter((c): c is XmlElement => isElement(c) && (name === undefined || c.name === name));
}

/**
 * The concatenated text of an element (XPath `string()`).
 *
 * @internal
 */
export function textOf(el: XmlElement): string {
  let out = '';
  for (const c of el.children) out += isElement(c) ? textOf(c) : c.text;
  return out;
}

/**
 * The text of the first child named `name`, trimmed; `undefined` when absent or empty.
 *
 * @internal
 */
export function childText(el: XmlElement, name: string): string | undefined {
  const c = elements(el, name)[0];
  const text = c === undefined ? '' : textOf(c).trim();
  return text === '' ? undefined : text;
}

/**
 * Serialises an element back to text, for handing a subtree to a conf parser.
 *
 * @internal
 */
export function elementToXml(el: XmlElement): string {
  const attrs = Object.entries(el.attributes)
    .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
    .join('');
  const body = el.children.map((c) => (isElement(c) ? elementToXml(c) : escapeXml(c.text))).join('');
  return `<${el.name}${attrs}>${body}</${el.name}>`;
}

/**
 * A definition as libvirt stores it after a define: validated like libvirt validates every
 * definition it defines, starts or loads (two disks may not share a target), the runtime `id`
 * attribute dropped and a random uuid added when the XML had none.
 *
 * @throws `XML_ERROR` "target 'T' duplicated for disk sources 'A' and 'B'".
 * @internal
 */
export function normalizeDomainDef(def: DomainDef): DomainDef {
  checkDuplicateDiskTargets(def);
  let el = def.element;
  if (el.attributes['id'] !== undefined) el = { ...el, attributes: without(el.attributes, ['id']) };
  if (def.uuid === '') el = insertAfter(el, 'name', textElement('uuid', randomUUID()));
  return el === def.element ? def : domainDefFromElement(el);
}

/**
 * The live definition with its runtime id on the root, as libvirt prints an active domain.
 *
 * @internal
 */
export function withRuntimeId(def: DomainDef, id: number): DomainDef {
  const { type, ...rest } = def.element.attributes;
  const attributes: Record<string, string> = type === undefined ? {} : { type };
  attributes['id'] = String(id);
  Object.assign(attributes, without(rest, ['id']));
  return { ...def, element: { ...def.element, attributes } };
}

/**
 * The `<domain>` without the test driver's namespace extensions (libvirt parses them and
 * never prints them back).
 *
 * @internal
 */
export function stripTestNamespace(el: XmlElement, prefixes: ReadonlySet<string>): XmlElement {
  const children = el.children.filter((c) => !isElement(c) || !prefixes.has(prefixOf(c.name)));
  const attributes = Object.fromEntries(
    Object.entries(el.attributes).filter(([k, v]) => !(k.startsWith('xmlns:') && v === TEST_NAMESPACE)),
  );
  return { ...el, attributes, children };
}

/**
 * Prefixes bound to the test namespace on `el` or on one of `scopes`.
 *
 * @internal
 */
export function testPrefixes(...scopes: XmlElement[]): Set<string> {
  const out = new Set<string>();
  for (const scope of scopes) {
    for (const [k, v] of Object.entries(scope.attributes)) {
      if (k.startsWith('xmlns:') && v === TEST_NAMESPACE) out.add(k.slice('xmlns:'.length));
    }
  }
  return out;
}

/**
 * The namespace prefix of a qualified name (`''` for none).
 *
 * @internal
 */
export function prefixOf(name: string): string {
  const colon = name.indexOf(':');
  return colon < 0 ? '' : name.slice(0, colon);
}

/**
 * The local part of a qualified name.
 *
 * @internal
 */
export function localName(name: string): string {
  return name.slice(name.indexOf(':') + 1);
}

/**
 * What the guest does on a lifecycle event (`<on_poweroff>` …), libvirt's default when absent.
 *
 * @internal
 */
export function lifecycleAction(def: DomainDef, which: 'on_poweroff' | 'on_reboot'): string {
  return childText(def.element, which) ?? (which === 'on_poweroff' ? 'destroy' : 'restart');
}

function textElement(name: string, text: string): XmlElement {
  return { name, attributes: {}, children: [{ text }] };
}

function insertAfter(el: XmlElement, after: string, node: XmlElement): XmlElement {
  const at = el.children.findIndex((c) => isElement(c) && c.name === after);
  const children = [...el.children];
  children.splice(at + 1, 0, node);
  return { ...el, children };
}

function without(attrs: Readonly<Record<string, string>>, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(attrs).filter(([k]) => !names.includes(k)));
}

function escapeXml(value: string): string {
  return value.replace(/[&<>"]/g, (c) => XML_ENTITIES[c] ?? c);
}

const XML_ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
};
