/** The number of bytes `s` takes in UTF-8. @internal */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });
const LOSSY_UTF8 = new TextDecoder('utf-8');

/** Where a byte sequence stops being valid UTF-8. @internal */
export interface Utf8Failure {
  /** 1-based line of the offending byte. */
  readonly line: number;
  /** 1-based column (in characters) of the offending byte. */
  readonly column: number;
  /** The first byte of the invalid sequence. */
  readonly byte: number;
}

/**
 * Decodes strict UTF-8 (a leading byte order mark is dropped), or tells where it is invalid.
 *
 * @internal
 */
export function decodeUtf8Strict(bytes: Uint8Array): string | Utf8Failure {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    const bad = firstInvalidUtf8(bytes);
    const lineStart = bytes.lastIndexOf(0x0a, bad - 1) + 1;
    let line = 1;
    for (let i = 0; i < lineStart; i++) if (bytes[i] === 0x0a) line++;
    const column = [...LOSSY_UTF8.decode(bytes.subarray(lineStart, bad))].length + 1;
    return { line, column, byte: bytes[bad] ?? 0 };
  }
}

/** Index of the first byte that does not start a valid UTF-8 sequence. */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] ?? 0;
    const len =
      c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len === 0) return i;
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k < len; k++) {
      const x = b[i + k];
      if (x === undefined) return i;
      if (k === 1 ? x < lo || x > hi : x < 0x80 || x > 0xbf) return i;
    }
    i += len;
  }
  return b.length;
}
