const SCALES: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  byte: 1,
  bytes: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
  p: 1024 ** 5,
  pib: 1024 ** 5,
  pb: 1000 ** 5,
  e: 1024 ** 6,
  eib: 1024 ** 6,
  eb: 1000 ** 6,
};

const MAX_ULLONG = 18446744073709551615n;

/**
 * libvirt's `virParseScaledValue` with a minimum of 1: an unsigned number times the unit
 * (`b`/`bytes`, `KiB`/`k` = 1024, `KB` = 1000, … up to `E`), in bytes. Returns the error text
 * instead of throwing so callers can attach the element position.
 *
 * @internal
 */
export function parseScaledInteger(text: string, unit: string | undefined): number | string {
  const scale = SCALES[(unit ?? '').toLowerCase()];
  if (scale === undefined) return `unknown suffix '${unit ?? ''}'`;
  if (!/^[ \t\n\v\f\r]*\+?[0-9]+$/.test(text)) return `invalid value '${text}' for element 'max_size'`;
  const bytes = BigInt(text.trim()) * BigInt(scale);
  if (bytes > MAX_ULLONG) return 'value too large';
  if (bytes < 1n) return 'value too small';
  return Number(bytes);
}
