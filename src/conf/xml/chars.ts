import { VirtError } from '../../errors.js';

// Characters an XML 1.0 document cannot hold (its Char production), as UTF-16: C0 controls
// other than TAB/LF/CR, U+FFFE/U+FFFF, and unpaired surrogates — a JavaScript string can hold
// those, UTF-8 cannot encode them.
const INVALID_XML_CHAR_SOURCE =
  '[\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\uFFFE\\uFFFF]|' +
  '[\\uD800-\\uDBFF](?![\\uDC00-\\uDFFF])|(?<![\\uD800-\\uDBFF])[\\uDC00-\\uDFFF]';

/**
 * Every character XML 1.0 cannot hold (global: for `replace`).
 *
 * @internal
 */
export const INVALID_XML_CHARS = new RegExp(INVALID_XML_CHAR_SOURCE, 'g');

const INVALID_XML_CHAR = new RegExp(INVALID_XML_CHAR_SOURCE);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Where a string holds a character XML cannot: its index and a description of it. */
export interface InvalidXmlChar {
  readonly index: number;
  /** e.g. `U+D800 (an unpaired UTF-16 surrogate)`, `U+0001`. */
  readonly description: string;
}

function found(value: string, index: number): InvalidXmlChar {
  const code = value.charCodeAt(index);
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  const surrogate = code >= 0xd800 && code <= 0xdfff;
  return { index, description: surrogate ? `${hex} (an unpaired UTF-16 surrogate)` : hex };
}

/**
 * The first character of `value` that XML 1.0 cannot hold, or `undefined`.
 *
 * @internal
 */
export function findInvalidXmlChar(value: string): InvalidXmlChar | undefined {
  const m = INVALID_XML_CHAR.exec(value);
  return m === null ? undefined : found(value, m.index);
}

/**
 * The first unpaired surrogate of `value`, or `undefined` (the XML reader's check of string
 * input; saxes refuses the other invalid characters itself).
 *
 * @internal
 */
export function findLoneSurrogate(value: string): InvalidXmlChar | undefined {
  const m = LONE_SURROGATE.exec(value);
  return m === null ? undefined : found(value, m.index);
}

/**
 * Refuses a definition object (`SnapshotDef`, `CheckpointDef`, `BackupDef`, with the
 * `DomainDef` and XML elements inside them) holding a string that XML cannot hold: names,
 * descriptions, paths, element and attribute names and values, text. Such a string could be
 * neither written to the metadata nor used as a file name, and the XML writer would drop the
 * character, so the definition is refused before anything changes — with the code libvirt gives
 * the same content as XML text, which libxml2 cannot parse (`XML_DETAIL`).
 *
 * @param what - the definition's kind for the message, e.g. `snapshot`.
 * @throws `XML_DETAIL` "invalid char U+D800 (an unpaired UTF-16 surrogate) in snapshot
 * definition at name"; `details.path` is the field's path, `details.index` the position.
 * @internal
 */
export function assertXmlSafeDefinition(def: unknown, what: string): void {
  const seen = new Set<object>();
  const walk = (value: unknown, path: string): void => {
    if (typeof value === 'string') {
      const bad = findInvalidXmlChar(value);
      if (bad !== undefined) {
        throw new VirtError(
          'XML_DETAIL',
          `invalid char ${bad.description} in ${what} definition at ${path === '' ? 'top level' : path}`,
          { details: { path, index: bad.index } },
        );
      }
      return;
    }
    if (typeof value !== 'object' || value === null || seen.has(value)) return;
    seen.add(value);
    const isArray = Array.isArray(value);
    for (const [key, v] of Object.entries(value)) {
      const at = isArray ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
      // keys matter too: an XML element's attribute names are the keys of `attributes`
      if (!isArray) walk(key, `${at} (key)`);
      walk(v, at);
    }
  };
  walk(def, '');
}
