import { describe, expect, it } from 'vitest';
import { isVirtError } from '../errors.js';
import type { DomainDef } from './domain-def.js';
import { validateSnapshotRedefinition } from './snapshot-redefine.js';

const UUID = '6695eb01-f6a4-8304-79aa-97f2502e193f';
const domain = (uuid: string): DomainDef => ({
  type: 'test',
  name: 'test',
  uuid,
  disks: [],
  element: { name: 'domain', attributes: { type: 'test' }, children: [] },
});

function message(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return isVirtError(err) ? `${err.code}: ${err.message}` : String(err);
  }
  return 'no error';
}

describe('validateSnapshotRedefinition', () => {
  it('accepts a new snapshot as given', () => {
    const def = { name: 's1', state: 'running' as const, domain: domain(UUID) };
    expect(validateSnapshotRedefinition(def, undefined, { domainUuid: UUID })).toBe(def);
  });

  it('refuses diskOnly without disk-snapshot state', () => {
    expect(
      message(() =>
        validateSnapshotRedefinition({ name: 's1', state: 'running' }, undefined, {
          domainUuid: UUID,
          diskOnly: true,
        }),
      ),
    ).toBe('INVALID_ARG: disk-only flag for snapshot s1 requires disk-snapshot state');
  });

  it("refuses another domain's definition", () => {
    const other = domain('00000000-0000-0000-0000-000000000001');
    expect(
      message(() =>
        validateSnapshotRedefinition({ name: 's1', domain: other }, undefined, { domainUuid: UUID }),
      ),
    ).toBe(`INVALID_ARG: definition for snapshot s1 must use uuid ${UUID}`);
  });

  it('refuses switching online/offline and disk-only/full when replacing', () => {
    const ctx = { domainUuid: UUID };
    expect(
      message(() => validateSnapshotRedefinition({ name: 's1', state: 'shutoff' }, { state: 'paused' }, ctx)),
    ).toBe('INVALID_ARG: cannot change between online and offline snapshot state in snapshot s1');
    expect(
      message(() =>
        validateSnapshotRedefinition({ name: 's1', state: 'disk-snapshot' }, { state: 'shutoff' }, ctx),
      ),
    ).toBe('INVALID_ARG: cannot change between disk only and full system in snapshot s1');
  });

  it("keeps the replaced snapshot's domain when the new definition has none", () => {
    const kept = domain(UUID);
    const out = validateSnapshotRedefinition(
      { name: 's1', state: 'running', description: 'new' },
      { state: 'paused', domain: kept },
      { domainUuid: UUID },
    );
    expect(out).toEqual({ name: 's1', state: 'running', description: 'new', domain: kept });
  });
});
