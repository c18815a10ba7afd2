import { describe, expect, it } from 'vitest';
import { VirtError } from './errors.js';
import { assertExclusive, assertOptions, assertRequires, KNOWN_OPTIONS } from './options.js';

function codeOf(f: () => void): string | undefined {
  try {
    f();
  } catch (err) {
    return err instanceof VirtError ? `${err.code}: ${err.message}` : String(err);
  }
  return undefined;
}

describe('assertOptions', () => {
  it('accepts known keys, undefined and empty objects', () => {
    expect(codeOf(() => assertOptions(undefined, ['a'], 'f'))).toBeUndefined();
    expect(codeOf(() => assertOptions({}, ['a'], 'f'))).toBeUndefined();
    expect(codeOf(() => assertOptions({ a: true, b: undefined }, ['a'], 'f'))).toBeUndefined();
  });

  it('treats an unknown key set to false like an unset flag bit', () => {
    expect(codeOf(() => assertOptions({ b: false }, ['a'], 'f'))).toBeUndefined();
  });

  it('refuses unknown keys like unknown flag bits', () => {
    expect(codeOf(() => assertOptions({ b: true, c: 1 }, ['a'], 'createSnapshot'))).toBe(
      'INVALID_ARG: unsupported flags (b, c) in function createSnapshot',
    );
  });

  it('refuses values of the wrong type', () => {
    expect(codeOf(() => assertOptions({ a: 'yes' }, ['a'], 'f'))).toBe(
      "INVALID_ARG: invalid value for option 'a' in function f",
    );
    expect(codeOf(() => assertOptions({ signal: {} }, ['signal'], 'f'))).toMatch(/'signal'/);
    expect(codeOf(() => assertOptions({ onProgress: 1 }, ['onProgress'], 'f'))).toMatch(/'onProgress'/);
    expect(
      codeOf(() => assertOptions({ signal: new AbortController().signal }, ['signal'], 'f')),
    ).toBeUndefined();
  });

  it('takes durations (waitMs) as finite numbers >= 0', () => {
    const known = KNOWN_OPTIONS.shutdownDomain;
    expect(
      codeOf(() => assertOptions({ waitMs: 0, signal: AbortSignal.abort() }, known, 'shutdown')),
    ).toBeUndefined();
    for (const waitMs of [-1, Number.POSITIVE_INFINITY, '10', true]) {
      expect(codeOf(() => assertOptions({ waitMs }, known, 'shutdown'))).toBe(
        "INVALID_ARG: invalid value for option 'waitMs' in function shutdown",
      );
    }
  });

  it('refuses non-objects', () => {
    expect(codeOf(() => assertOptions([] as never, ['a'], 'f'))).toMatch(/^INVALID_ARG/);
    expect(codeOf(() => assertOptions(5 as never, ['a'], 'f'))).toMatch(/^INVALID_ARG/);
  });
});

describe('exclusive and required options', () => {
  it('assertExclusive refuses both set, in libvirt wording', () => {
    expect(codeOf(() => assertExclusive({ running: true, paused: true }, 'running', 'paused'))).toBe(
      "INVALID_ARG: Flags 'running' and 'paused' are mutually exclusive",
    );
    expect(
      codeOf(() => assertExclusive({ running: true, paused: false }, 'running', 'paused')),
    ).toBeUndefined();
  });

  it('assertRequires refuses a dependent flag alone', () => {
    expect(codeOf(() => assertRequires({ current: true }, 'current', 'redefine'))).toBe(
      "INVALID_ARG: Flag 'redefine' is required by flag 'current'",
    );
    expect(
      codeOf(() => assertRequires({ current: true, redefine: true }, 'current', 'redefine')),
    ).toBeUndefined();
  });
});

describe('KNOWN_OPTIONS', () => {
  it('lists every libvirt snapshot create flag', () => {
    expect(KNOWN_OPTIONS.createSnapshot).toEqual(
      expect.arrayContaining([
        'redefine',
        'current',
        'noMetadata',
        'halt',
        'diskOnly',
        'reuseExt',
        'quiesce',
        'atomic',
        'live',
        'validate',
      ]),
    );
  });
});
