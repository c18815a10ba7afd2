import { SaxesParser } from 'saxes';
import type { SaxesStartTagPlain, SaxesTagPlain, XMLDecl } from 'saxes';
import { VirtError } from '../../errors.js';
import { findLoneSurrogate } from './chars.js';
import type { XmlElement, XmlText } from './tree.js';
import { decodeUtf8Strict, utf8Length } from './utf8.js';

/**
 * Limits applied by {@link parseXml}.
 *
 * @public
 */
export interface XmlReadOptions {
  /**
   * Largest accepted document, in bytes of UTF-8. Bigger input is refused before parsing.
   *
   * @defaultValue 16 MiB
   */
  readonly maxBytes?: number;
  /**
   * Deepest accepted element nesting (the root element is depth 1); libxml2's default.
   *
   * @defaultValue 256
   */
  readonly maxDepth?: number;
}

/** @internal */
export const DEFAULT_MAX_XML_BYTES = 16 * 1024 * 1024;
/** @internal */
export const DEFAULT_MAX_XML_DEPTH = 256;

/**
 * Parses an XML document into an {@link XmlElement} tree with source positions.
 *
 * Comments and processing instructions are dropped, and so is whitespace-only text the way
 * libxml2 drops "blank" nodes: it is kept only as the sole content of an element or inside
 * mixed content. A DOCTYPE (and with it every entity declaration) is refused without being
 * expanded, as are undefined entities, nesting deeper than `maxDepth` and documents larger
 * than `maxBytes`. Byte input must be UTF-8.
 *
 * @throws `XML_DETAIL` (libvirt's code for libxml2 parse failures) for anything that is not a
 * well-formed, acceptable document; the message names the line and column, which are also in
 * `details`.
 * @public
 */
export function parseXml(input: string | Uint8Array, options: XmlReadOptions = {}): XmlElement {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_XML_BYTES;
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_XML_DEPTH;
  if (typeof input === 'string') {
    checkStringSize(input, maxBytes);
    checkSurrogates(input);
    return new TreeBuilder(input, maxDepth, false).run();
  }
  if (input.byteLength > maxBytes) throw sizeError(maxBytes);
  return new TreeBuilder(decodeUtf8(input), maxDepth, true).run();
}

/** Tells whether a child node is an element. @internal */
export function isElement(node: XmlElement | XmlText): node is XmlElement {
  return (node as XmlElement).name !== undefined;
}

/** The element children of `el`, optionally only those named `name`. @internal */
export function childElements(el: XmlElement, name?: string): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of el.children) {
    if (isElement(c) && (name === undefined || c.name === name)) out.push(c);
  }
  return out;
}

/** The first child element named `name`, like XPath `./name`. @internal */
export function child(el: XmlElement, name: string): XmlElement | undefined {
  for (const c of el.children) {
    if (isElement(c) && c.name === name) return c;
  }
  return undefined;
}

/** The string value of an element: all descendant text concatenated (XPath `string()`). @internal */
export function textContent(el: XmlElement): string {
  let out = '';
  for (const c of el.children) out += isElement(c) ? textContent(c) : c.text;
  return out;
}

/**
 * libvirt's `virXPathString("string(./name)")`: the text of the first `name` child, or
 * `undefined` when the child is missing or its text is empty.
 *
 * @internal
 */
export function childText(el: XmlElement, name: string): string | undefined {
  const c = child(el, name);
  if (c === undefined) return undefined;
  const text = textContent(c);
  return text === '' ? undefined : text;
}

/** An attribute value, or `undefined` when absent. @internal */
export function attr(el: XmlElement, name: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(el.attributes, name) ? el.attributes[name] : undefined;
}

/**
 * An attribute that must be present.
 *
 * @throws `XML_ERROR` "missing required attribute 'a' in element 'e'" with the element's position.
 * @internal
 */
export function requiredAttr(el: XmlElement, name: string): string {
  const value = attr(el, name);
  if (value === undefined) {
    throw xmlErrorAt(el, `missing required attribute '${name}' in element '${el.name}'`);
  }
  return value;
}

/**
 * Builds a {@link VirtError} whose details carry the position of `el` (when known).
 *
 * @internal
 */
export function errorAt(
  code: ConstructorParameters<typeof VirtError>[0],
  el: XmlElement | undefined,
  message: string,
): VirtError {
  if (el?.line === undefined) return new VirtError(code, message);
  return new VirtError(code, message, { details: { line: el.line, column: el.column } });
}

/** `XML_ERROR` with the position of `el` in `details`. @internal */
export function xmlErrorAt(el: XmlElement | undefined, message: string): VirtError {
  return errorAt('XML_ERROR', el, message);
}

/**
 * Checks the root element name the way libvirt's `virXMLParse` does.
 *
 * @throws `XML_ERROR` "expecting root element of 'y', not 'x'".
 * @internal
 */
export function expectRoot(el: XmlElement, name: string): void {
  if (el.name !== name) {
    throw xmlErrorAt(el, `expecting root element of '${name}', not '${el.name}'`);
  }
}

// Failures to parse the document at all are libxml2 errors, which libvirt reports as XML_DETAIL;
// XML_ERROR is for well-formed documents with the wrong content.
function positionedError(line: number, column: number, message: string): VirtError {
  return new VirtError('XML_DETAIL', `XML error at line ${line}, column ${column}: ${message}`, {
    details: { line, column },
  });
}

function sizeError(maxBytes: number): VirtError {
  return new VirtError('XML_DETAIL', `XML document exceeds the limit of ${maxBytes} bytes`, {
    details: { maxBytes },
  });
}

// saxes pairs a high surrogate with whatever code unit follows it, so a lone one would pass into
// names and paths that cannot be encoded as UTF-8 (byte input is strict UTF-8 already).
function checkSurrogates(input: string): void {
  const bad = findLoneSurrogate(input);
  if (bad === undefined) return;
  const lineStart = input.lastIndexOf('\n', bad.index - 1) + 1;
  let line = 1;
  for (let i = input.indexOf('\n'); i !== -1 && i < bad.index; i = input.indexOf('\n', i + 1)) line++;
  throw positionedError(line, bad.index - lineStart + 1, `invalid char ${bad.description}`);
}

function checkStringSize(input: string, maxBytes: number): void {
  if (input.length > maxBytes) throw sizeError(maxBytes);
  if (input.length * 3 > maxBytes && utf8Length(input) > maxBytes) throw sizeError(maxBytes);
}

function decodeUtf8(bytes: Uint8Array): string {
  const decoded = decodeUtf8Strict(bytes);
  if (typeof decoded === 'string') return decoded;
  const byte = decoded.byte.toString(16).toUpperCase().padStart(2, '0');
  throw positionedError(decoded.line, decoded.column, `invalid UTF-8 byte 0x${byte}`);
}

interface Frame {
  readonly name: string;
  readonly attributes: Record<string, string>;
  readonly children: (XmlElement | XmlText)[];
  readonly line: number;
  readonly column: number;
  pendingBlank: string;
}

// Creating a SaxesParser and attaching handlers costs ~10x the parse of a small document
// (handlers become per-object properties), so one parser is kept and reused: parsing is
// synchronous, and saxes resets itself at the end of every well-formed document.
type SaxEvent = 'error' | 'doctype' | 'xmldecl' | 'opentagstart' | 'opentag' | 'closetag' | 'text' | 'cdata';
const SAX_EVENTS: readonly SaxEvent[] = [
  'error',
  'doctype',
  'xmldecl',
  'opentagstart',
  'opentag',
  'closetag',
  'text',
  'cdata',
];
/** A reusable parser and the builder its handlers currently feed. */
interface PooledParser {
  readonly parser: SaxesParser;
  owner: TreeBuilder | undefined;
}

let idle: PooledParser | undefined;

function acquireParser(owner: TreeBuilder): PooledParser {
  const pooled = idle ?? newParser();
  idle = undefined;
  pooled.owner = owner;
  return pooled;
}

function releaseParser(pooled: PooledParser): void {
  pooled.owner = undefined;
  idle = pooled;
}

function newParser(): PooledParser {
  const pooled: PooledParser = {
    parser: new SaxesParser({ xmlns: false, position: true }),
    owner: undefined,
  };
  for (const event of SAX_EVENTS) {
    pooled.parser.on(event as 'text', (payload: unknown) => pooled.owner?.handle(event, payload));
  }
  return pooled;
}

const BLANK = /^[ \t\r\n]*$/;
const QNAME = /^[^:]+(?::[^:]+)?$/;

class TreeBuilder {
  private readonly pooled: PooledParser;
  private readonly parser: SaxesParser;
  private readonly stack: Frame[] = [];
  private root: XmlElement | undefined;
  private start: { line: number; column: number } = { line: 1, column: 1 };

  constructor(
    private readonly input: string,
    private readonly maxDepth: number,
    private readonly fromBytes: boolean,
  ) {
    this.pooled = acquireParser(this);
    this.parser = this.pooled.parser;
  }

  run(): XmlElement {
    try {
      this.parser.write(this.input).close();
    } catch (err) {
      // A handler threw mid-document: the parser's state is undefined, so it is not reused.
      this.pooled.owner = undefined;
      throw err;
    }
    releaseParser(this.pooled);
    if (this.root === undefined) this.fail('document must contain a root element');
    return this.root as XmlElement;
  }

  /** @internal */
  handle(event: SaxEvent, payload: unknown): void {
    switch (event) {
      case 'error':
        return this.onError(payload as Error);
      case 'doctype':
        return this.fail('DOCTYPE is not allowed');
      case 'xmldecl':
        return this.onDecl(payload as XMLDecl);
      case 'opentagstart':
        return this.onOpenTagStart(payload as SaxesStartTagPlain);
      case 'opentag':
        return this.onOpenTag(payload as SaxesTagPlain);
      case 'closetag':
        return this.onCloseTag();
      case 'text':
        return this.onText(payload as string);
      case 'cdata':
        return this.onCdata(payload as string);
    }
  }

  private fail(message: string): never {
    throw positionedError(this.parser.line, Math.max(this.parser.column, 1), message);
  }

  private onError(err: Error): never {
    this.fail(err.message.replace(/^\d+:\d+: /, '').replace(/\.$/, ''));
  }

  private onDecl(decl: XMLDecl): void {
    const enc = decl.encoding;
    if (this.fromBytes && enc !== undefined && !/^(utf-?8|us-ascii|ascii)$/i.test(enc)) {
      this.fail(`unsupported encoding '${enc}'`);
    }
  }

  private onOpenTagStart(tag: SaxesStartTagPlain): void {
    this.start = this.tagStart(tag.name.length);
    const depth = this.stack.length + 1;
    if (depth > this.maxDepth) {
      const { line, column } = this.start;
      throw positionedError(line, column, `excessive depth in document: ${depth} (limit ${this.maxDepth})`);
    }
  }

  /** Line and 1-based column of the `<` of the start tag whose name was just read. */
  private tagStart(nameLength: number): { line: number; column: number } {
    const p = this.parser;
    const pos = p.position;
    if (p.column !== 0) {
      const lineStart = pos - p.columnIndex;
      return { line: p.line, column: pos - 1 - nameLength - 1 - lineStart + 1 };
    }
    const crlf = this.input.charCodeAt(pos - 1) === 0x0a && this.input.charCodeAt(pos - 2) === 0x0d;
    const lt = pos - (crlf ? 2 : 1) - nameLength - 1;
    const lineStart = Math.max(this.input.lastIndexOf('\n', lt), this.input.lastIndexOf('\r', lt)) + 1;
    return { line: p.line - 1, column: lt - lineStart + 1 };
  }

  private onOpenTag(tag: SaxesTagPlain): void {
    if (!QNAME.test(tag.name)) this.fail(`invalid qualified name '${tag.name}'`);
    const attributes: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [name, value] of Object.entries(tag.attributes)) {
      if (!QNAME.test(name)) this.fail(`invalid qualified name '${name}'`);
      attributes[name] = value;
    }
    const parent = this.stack[this.stack.length - 1];
    if (parent !== undefined) this.settleBlank(parent, false);
    this.stack.push({ name: tag.name, attributes, children: [], ...this.start, pendingBlank: '' });
  }

  private onCloseTag(): void {
    const frame = this.stack.pop();
    if (frame === undefined) return;
    this.settleBlank(frame, true);
    const el: XmlElement = {
      name: frame.name,
      attributes: frame.attributes,
      children: frame.children,
      line: frame.line,
      column: frame.column,
    };
    const parent = this.stack[this.stack.length - 1];
    if (parent === undefined) this.root = el;
    else parent.children.push(el);
  }

  private onText(text: string): void {
    const frame = this.stack[this.stack.length - 1];
    if (frame === undefined) return;
    if (BLANK.test(text)) {
      frame.pendingBlank += text;
      return;
    }
    this.settleBlank(frame, false);
    this.appendTextTo(frame, text);
  }

  /**
   * libxml2's blank-node heuristic: whitespace is kept as the only content of an element or
   * inside mixed content (the element already starts with text); otherwise it is layout.
   */
  private settleBlank(frame: Frame, closing: boolean): void {
    const blank = frame.pendingBlank;
    if (blank === '') return;
    frame.pendingBlank = '';
    const first = frame.children[0];
    const keep = (closing && first === undefined) || (first !== undefined && !isElement(first));
    if (keep) this.appendTextTo(frame, blank);
  }

  private onCdata(text: string): void {
    const frame = this.stack[this.stack.length - 1];
    if (frame === undefined) return;
    this.settleBlank(frame, false);
    this.appendTextTo(frame, text);
  }

  private appendTextTo(frame: Frame, text: string): void {
    const last = frame.children[frame.children.length - 1];
    if (last !== undefined && !isElement(last)) {
      frame.children[frame.children.length - 1] = { text: last.text + text };
    } else {
      frame.children.push({ text });
    }
  }
}
