/**
 * Exhaustiveness check for switches over unions: a new member breaks the build.
 *
 * @internal
 */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${String(value)}`);
}
