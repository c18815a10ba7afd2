/**
 * Returns a copy of `fields` without the properties whose value is `undefined`, so parsed
 * definitions only carry what the XML said.
 *
 * @internal
 */
export function compact<T extends object>(fields: T): T {
  const out: Record<string, unknown> = {};
  for (const k in fields) {
    const v = fields[k];
    if (v !== undefined) out[k] = v;
  }
  return out as T;
}
