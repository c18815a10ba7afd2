import { VirtError, type XmlElement } from 'virtkit';
import { attrOf, textOf } from './xml-walk.js';

/** libvirt's scale suffixes (`virScaleInteger`), compared case-insensitively; bare = KiB here. */
const SCALES: Readonly<Record<string, bigint>> = {
  b: 1n,
  byte: 1n,
  bytes: 1n,
  k: 1024n,
  kib: 1024n,
  kb: 1000n,
  m: 1024n ** 2n,
  mib: 1024n ** 2n,
  mb: 1000n ** 2n,
  g: 1024n ** 3n,
  gib: 1024n ** 3n,
  gb: 1000n ** 3n,
  t: 1024n ** 4n,
  tib: 1024n ** 4n,
  tb: 1000n ** 4n,
  p: 1024n ** 5n,
  pib: 1024n ** 5n,
  pb: 1000n ** 5n,
  e: 1024n ** 6n,
  eib: 1024n ** 6n,
  eb: 1000n ** 6n,
};

/** libvirt's cap for memory sizes: what fits an unsigned long long of bytes, in KiB. */
const MAX_KIB = (2n ** 64n - 1n) / 1024n;

/**
 * libvirt's `virDomainParseMemory`: the element's number times its `unit=` (KiB when absent),
 * rounded up to whole KiB.
 *
 * @throws `XML_ERROR` for a value that is not an unsigned integer, an unknown unit or a size
 * too large.
 * @internal
 */
export function parseMemoryKiB(el: XmlElement, what: string): number {
  const text = textOf(el) ?? '';
  const unit = attrOf(el, 'unit');
  const scale = unit === undefined ? 1024n : SCALES[unit.toLowerCase()];
  if (scale === undefined)
    throw new VirtError('XML_ERROR', `unknown suffix '${unit ?? ''}' in element <${what}>`);
  if (!/^\+?[0-9]+$/.test(text)) {
    throw new VirtError('XML_ERROR', `invalid value '${text}' for element <${what}>`);
  }
  const kib = (BigInt(text) * scale + 1023n) / 1024n;
  if (kib > MAX_KIB || kib > BigInt(Number.MAX_SAFE_INTEGER))
    throw new VirtError('XML_ERROR', `size in element <${what}> is too large`);
  return Number(kib);
}
