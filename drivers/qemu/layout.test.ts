import { describe, expect, it } from 'vitest';
import { isVirtError } from 'virtkit';
import { assertStorableName, MAX_NAME_BYTES, nameProblem, namesFromListing, RootLayout } from './layout.js';

const HOSTILE = [
  '',
  '/',
  'a/b',
  '../x',
  '..',
  '.',
  '.hidden',
  'a\0b',
  'a\nb',
  'x'.repeat(MAX_NAME_BYTES + 1),
];

describe('name validation', () => {
  it.each(HOSTILE)('refuses %j', (name) => {
    expect(nameProblem(name)).toBeTypeOf('string');
    let code: string | undefined;
    try {
      assertStorableName('snapshot', name);
    } catch (err) {
      code = isVirtError(err) ? err.code : 'other';
    }
    expect(code).toBe('XML_DETAIL');
  });

  it.each(['s1', 'a.b', 'a..b', '-dash', 'é', '1795308023', 'x'.repeat(MAX_NAME_BYTES)])(
    'accepts %j',
    (name) => {
      expect(nameProblem(name)).toBeUndefined();
    },
  );

  it("uses libvirt's wording", () => {
    expect(() => assertStorableName('snapshot', 'bad/name')).toThrow(
      "invalid snapshot name 'bad/name': name can't contain '/'",
    );
    expect(() => assertStorableName('domain', '.x')).toThrow(
      "invalid domain name '.x': name can't start with '.'",
    );
  });

  it('counts bytes, not characters', () => {
    expect(nameProblem('é'.repeat(MAX_NAME_BYTES / 2))).toBeUndefined();
    expect(nameProblem('é'.repeat(MAX_NAME_BYTES / 2 + 1))).toMatch(/longer/);
  });
});

describe('RootLayout', () => {
  const layout = new RootLayout('/srv/vms');

  it('places every file under the root', () => {
    expect(layout.domainFile('vm')).toBe('/srv/vms/domains/vm.xml');
    expect(layout.snapshotFile('vm', 's1')).toBe('/srv/vms/snapshots/vm/s1.xml');
    expect(layout.checkpointFile('vm', 'c1')).toBe('/srv/vms/checkpoints/vm/c1.xml');
    expect(layout.domainRunDir('vm')).toBe('/srv/vms/run/vm');
    expect(layout.journalFile('vm')).toBe('/srv/vms/journal/vm.json');
    expect(layout.lockFile('vm')).toBe('/srv/vms/locks/vm.lock');
  });

  it('never builds a path from a hostile name', () => {
    for (const name of HOSTILE) {
      expect(() => layout.snapshotFile('vm', name)).toThrow(/refusing to build a path/);
      expect(() => layout.domainFile(name)).toThrow(/refusing to build a path/);
    }
  });

  it('refuses a relative root', () => {
    expect(() => new RootLayout('relative/dir')).toThrow(/not absolute/);
  });

  it('lists names of xml files only', () => {
    expect(namesFromListing(['a.xml', '.a.xml.12.ab.tmp', 'current', 'b.xml', '.x.xml'])).toEqual(['a', 'b']);
  });
});
