import { errorAt, isElement } from './reader.js';
import type { XmlElement } from './tree.js';

/** Constraint on an attribute or on text content. @internal */
export interface ValueRule {
  /** The value must be one of these. */
  readonly values?: readonly string[];
  /** The whole value must match (XML Schema patterns are anchored). */
  readonly pattern?: RegExp;
}

/** Constraint on an attribute. @internal */
export interface AttrRule extends ValueRule {
  readonly required?: boolean;
}

/** A child element allowed by an {@link ElementRule}. @internal */
export interface ChildRule {
  readonly rule: ElementRule | ((el: XmlElement) => ElementRule);
  /** @defaultValue 0 */
  readonly min?: number;
  /** @defaultValue 1 */
  readonly max?: number;
}

/**
 * A hand-written stand-in for a RELAX NG element pattern: which attributes, children and text
 * an element may carry. Co-occurrence constraints go into `check`.
 *
 * @internal
 */
export interface ElementRule {
  readonly attrs?: Readonly<Record<string, AttrRule>>;
  /** Attributes not listed in `attrs` are accepted too. */
  readonly otherAttrs?: boolean;
  readonly children?: Readonly<Record<string, ChildRule>>;
  /** Rule for children not listed in `children` (any number of them). */
  readonly otherChildren?: ElementRule;
  /** Non-blank text allowed (with an optional value constraint). */
  readonly text?: true | ValueRule;
  /** Anything goes below this element (RNG `anyName`, or a grammar not modelled here). */
  readonly any?: boolean;
  /** Extra checks; returns a description of the first violation. */
  readonly check?: (el: XmlElement) => string | undefined;
}

/** Accepts any attributes and content. @internal */
export const ANY: ElementRule = { any: true };
/** Accepts text only. @internal */
export const TEXT: ElementRule = { text: true };

/**
 * Validates `el` against `rule` the way libvirt validates against its RNG schemas.
 *
 * @throws `XML_INVALID_SCHEMA` naming the schema file and the first violation, with its position.
 * @internal
 */
export function validateSchema(el: XmlElement, rule: ElementRule, schema: string): void {
  const failure = validate(el, rule);
  if (failure === undefined) return;
  const [where, detail] = failure;
  const at = where.line === undefined ? '' : ` (line ${where.line}, column ${where.column})`;
  throw errorAt('XML_INVALID_SCHEMA', where, `unable to validate doc against ${schema}: ${detail}${at}`);
}

type Failure = readonly [XmlElement, string];

function validate(el: XmlElement, rule: ElementRule): Failure | undefined {
  if (rule.any === true) return undefined;
  const problem = checkAttributes(el, rule) ?? checkText(el, rule) ?? rule.check?.(el);
  if (problem !== undefined) return [el, problem];
  return checkChildren(el, rule);
}

function checkAttributes(el: XmlElement, rule: ElementRule): string | undefined {
  const allowed = rule.attrs ?? {};
  for (const [name, value] of Object.entries(el.attributes)) {
    const a = allowed[name];
    if (a === undefined) {
      // Namespace declarations are not attributes for RELAX NG (libvirt accepts them anywhere).
      if (rule.otherAttrs === true || name === 'xmlns' || name.startsWith('xmlns:')) continue;
      return `attribute '${name}' is not allowed in element '${el.name}'`;
    }
    if (!matches(value, a)) return `invalid value '${value}' for attribute '${name}' of element '${el.name}'`;
  }
  for (const [name, a] of Object.entries(allowed)) {
    if (a.required === true && !Object.prototype.hasOwnProperty.call(el.attributes, name)) {
      return `missing attribute '${name}' in element '${el.name}'`;
    }
  }
  return undefined;
}

function checkText(el: XmlElement, rule: ElementRule): string | undefined {
  let text = '';
  for (const c of el.children) if (!isElement(c)) text += c.text;
  if (rule.text === undefined) {
    return /^[ \t\r\n]*$/.test(text) ? undefined : `text is not allowed in element '${el.name}'`;
  }
  if (rule.text === true || matches(text, rule.text)) return undefined;
  return `invalid value '${text}' in element '${el.name}'`;
}

function checkChildren(el: XmlElement, rule: ElementRule): Failure | undefined {
  const allowed = rule.children ?? {};
  const counts = new Map<string, number>();
  for (const c of el.children) {
    if (!isElement(c)) continue;
    const childRule = allowed[c.name] ?? (rule.otherChildren && { rule: rule.otherChildren, max: Infinity });
    if (childRule === undefined) return [c, `element '${c.name}' is not allowed in '${el.name}'`];
    const n = (counts.get(c.name) ?? 0) + 1;
    counts.set(c.name, n);
    if (n > (childRule.max ?? 1)) return [c, `element '${c.name}' may appear only once in '${el.name}'`];
    const inner = typeof childRule.rule === 'function' ? childRule.rule(c) : childRule.rule;
    const failure = validate(c, inner);
    if (failure !== undefined) return failure;
  }
  for (const [name, childRule] of Object.entries(allowed)) {
    if ((counts.get(name) ?? 0) < (childRule.min ?? 0))
      return [el, `missing element '${name}' in '${el.name}'`];
  }
  return undefined;
}

function matches(value: string, rule: ValueRule): boolean {
  if (rule.values !== undefined && !rule.values.includes(value)) return false;
  return rule.pattern === undefined || rule.pattern.test(value);
}

/** Common RNG data types of libvirt's `basictypes.rng`. @internal */
export const PATTERNS = {
  absFilePath: /^(?:\/|[a-zA-Z]:\\).+$/,
  diskTargetDev: /^(?:ioemu:)?(?:fd|hd|sd|vd|xvd|ubd)[a-zA-Z0-9_]+$/,
  uuid: /^(?:[a-fA-F0-9]{32}|[a-fA-F0-9]{8}-(?:[a-fA-F0-9]{4}-){3}[a-fA-F0-9]{12})$/,
  unsigned: /^[0-9]+$/,
  hostName: /^[a-zA-Z0-9.:[\]-]+$/,
  scaledUnit: /^(?:[bB](?:[yY][tT][eE][sS]?)?|[kKmMgGtTpPeE](?:[iI]?[bB])?)$/,
} as const;
