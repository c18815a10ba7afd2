import { describe, expect, it } from 'vitest';
import { ERROR_CODES, isVirtError, toVirtError, VirtError } from './errors.js';

describe('VirtError', () => {
  it('carries code, libvirt number, details and cause', () => {
    const cause = new Error('boom');
    const err = new VirtError('NO_DOMAIN_SNAPSHOT', "no domain snapshot with matching name 's1'", {
      cause,
      details: { stderr: 'x' },
      driver: 'test',
    });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('VirtError');
    expect(err.code).toBe('NO_DOMAIN_SNAPSHOT');
    expect(err.libvirtCode).toBe(72);
    expect(err.cause).toBe(cause);
    expect(err.details).toEqual({ stderr: 'x' });
    expect(err.driver).toBe('test');
  });

  it('keeps libvirt numbers', () => {
    expect(ERROR_CODES).toMatchObject({
      INVALID_ARG: 8,
      OPERATION_FAILED: 9,
      XML_ERROR: 27,
      OPERATION_DENIED: 29,
      NO_DOMAIN: 42,
      OPERATION_INVALID: 55,
      CONFIG_UNSUPPORTED: 67,
      SNAPSHOT_REVERT_RISKY: 77,
      OPERATION_UNSUPPORTED: 84,
      XML_INVALID_SCHEMA: 92,
      NO_DOMAIN_CHECKPOINT: 103,
      NO_DOMAIN_BACKUP: 104,
      CHECKPOINT_INCONSISTENT: 109,
    });
  });

  it('is recognised across module copies by its brand', () => {
    // An error made by another copy of the class: same brand, different constructor.
    const foreign = Object.assign(new Error('x'), { code: 'INVALID_ARG' });
    Object.defineProperty(foreign, Symbol.for('virtkit.VirtError'), { value: true });
    expect(foreign instanceof VirtError).toBe(true);
    expect(isVirtError(foreign, 'INVALID_ARG')).toBe(true);
    expect(isVirtError(new Error('plain'))).toBe(false);
    expect(isVirtError(null)).toBe(false);
  });

  it('isVirtError filters by code', () => {
    const err = new VirtError('XML_ERROR', 'bad');
    expect(isVirtError(err)).toBe(true);
    expect(isVirtError(err, 'XML_ERROR')).toBe(true);
    expect(isVirtError(err, 'NO_DOMAIN')).toBe(false);
  });

  it('toVirtError wraps foreign errors as INTERNAL_ERROR and passes VirtErrors through', () => {
    const mine = new VirtError('NO_DOMAIN', 'x');
    expect(toVirtError(mine)).toBe(mine);
    const wrapped = toVirtError(new TypeError('oops'), 'qemu');
    expect(wrapped.code).toBe('INTERNAL_ERROR');
    expect(wrapped.message).toBe('oops');
    expect(wrapped.cause).toBeInstanceOf(TypeError);
    expect(wrapped.driver).toBe('qemu');
  });
});
