import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isVirtError } from 'virtkit';
import { corpusLocation, loadCases, parseInvalid, runCase } from './libvirt-corpus.js';
import { fixtureRoot, loadManifest, runFixture, type FixtureKind } from './own-fixtures.js';

const corpus = corpusLocation();
const requireCorpus = process.env.CI === 'true';
let corpusRun = 0;
let fixturesRun = 0;

afterAll(() => {
  const total = corpusRun + fixturesRun;
  console.log(
    `conformance: ${total} cases run (${corpusRun} libvirt corpus, ${fixturesRun} virtkit fixtures)`,
  );
});

describe('libvirt XML corpus (INDEX.json)', () => {
  if (requireCorpus && !corpus.present) {
    it('is required when CI=true', () => {
      expect.fail(`no INDEX.json under ${corpus.dir} (set VIRTKIT_CONFORMANCE_DIR)`);
    });
  }

  describe.runIf(corpus.present)('cases', () => {
    const cases = corpus.present ? loadCases(corpus.dir) : [];

    it('covers every kind', () => {
      expect(new Set(cases.map((c) => c.kind))).toEqual(new Set(['snapshot', 'checkpoint', 'backup']));
    });

    for (const c of cases) {
      it(c.id, () => {
        corpusRun++;
        if (c.mode === 'invalid' || c.mode === 'schema-negative') {
          const err = parseInvalid(corpus.dir, c);
          expect(isVirtError(err, 'XML_INVALID_SCHEMA'), String(err)).toBe(true);
          return;
        }
        if (c.expected === null) throw new Error(`case ${c.id} has no expected file`);
        const expected = readFileSync(join(corpus.dir, c.expected), 'utf8');
        expect(runCase(corpus.dir, c)).toBe(expected);
      });
    }
  });
});

describe('virtkit XML fixtures', () => {
  for (const kind of ['snapshot', 'checkpoint', 'backup'] as const satisfies readonly FixtureKind[]) {
    describe(kind, () => {
      for (const fixture of loadManifest(kind)) {
        it(`${fixture.mode} ${fixture.name}`, () => {
          fixturesRun++;
          runFixture(kind, fixture, (actual, expected, what) => expect(actual, what).toBe(expected));
        });
      }
    });
  }

  it('has fixtures for every kind', () => {
    expect(fixtureRoot()).toContain('fixtures');
    for (const kind of ['snapshot', 'checkpoint', 'backup'] as const) {
      expect(loadManifest(kind).length).toBeGreaterThan(0);
    }
  });
});
