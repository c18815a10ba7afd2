import { VirtError } from '../errors.js';
import { child, childText, xmlErrorAt } from './xml/reader.js';
import type { XmlElement } from './xml/tree.js';

// What snapshots and checkpoints (libvirt's "moments") share when parsed.

/** The common part of a parsed moment. @internal */
export interface MomentBase {
  readonly name?: string;
  readonly description?: string;
  readonly parent?: string;
  readonly creationTime?: number;
}

/**
 * Reads name, description and, on redefine, creation time and parent; otherwise applies
 * libvirt's post-parse hook (`creationTime := now`, `name := String(now)` when missing) when
 * `now` is a non-zero number of seconds.
 *
 * @throws `XML_ERROR` "a redefined KIND must have a name"; `INTERNAL_ERROR` "missing
 * creationTime from existing KIND".
 * @internal
 */
export function parseMomentBase(
  root: XmlElement,
  kind: string,
  redefine: boolean,
  now: number | undefined,
): MomentBase {
  const name = childText(root, 'name');
  if (name === undefined && redefine) throw xmlErrorAt(root, `a redefined ${kind} must have a name`);
  const description = childText(root, 'description');
  if (redefine) {
    const creationTime = parseLongLong(childText(root, 'creationTime'));
    if (creationTime === undefined) {
      throw new VirtError('INTERNAL_ERROR', `missing creationTime from existing ${kind}`);
    }
    return { name, description, creationTime, parent: parentName(root) };
  }
  if (now === undefined || now === 0) return { name, description };
  return { name: name ?? String(now), description, creationTime: now };
}

/** `string(./parent/name)`. @internal */
export function parentName(root: XmlElement): string | undefined {
  const parent = child(root, 'parent');
  return parent === undefined ? undefined : childText(parent, 'name');
}

/**
 * C `strtoll(s, &end, 10)` with the whole string consumed, as libvirt's `virXPathLongLong`:
 * leading whitespace and a sign are allowed, nothing after the digits.
 *
 * @internal
 */
export function parseLongLong(text: string | undefined): number | undefined {
  if (text === undefined || !/^[ \t\n\v\f\r]*[+-]?[0-9]+$/.test(text)) return undefined;
  const value = BigInt(text.trim());
  if (value > 9223372036854775807n || value < -9223372036854775808n) return undefined;
  return Number(value);
}
