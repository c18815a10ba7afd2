// The documentation shipped in the tarball must stand on its own: every relative link points
// at a file the tarball contains, and nothing cites internal specs or issues.
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pack, root } from './pack.js';

const { files } = pack();
const shipped = new Set(files);
const texts = files.filter((f) => /\.(md|ts)$/.test(f) && !f.startsWith('dist/'));

function relativeLinks(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '');
  return links.filter((l) => !/^[a-z][a-z0-9+.-]*:/i.test(l) && !l.startsWith('#'));
}

describe('shipped documentation', () => {
  it('includes the README, the docs and the examples', () => {
    expect(texts).toEqual(expect.arrayContaining(['README.md', 'docs/qemu-driver.md', 'examples/README.md']));
    expect(relativeLinks('README.md')).toEqual(
      expect.arrayContaining(['examples/README.md', 'docs/errors.md']),
    );
  });

  it.each(texts.filter((f) => f.endsWith('.md')))('%s links only to files in the package', (file) => {
    const broken = relativeLinks(file).filter((link) => {
      const target = normalize(join(dirname(file), link.split('#')[0] ?? ''));
      return !shipped.has(target);
    });
    expect(broken).toEqual([]);
  });

  it.each(texts)('%s cites no internal spec sections or issues', (file) => {
    const text = readFileSync(join(root, file), 'utf8');
    const lines = text.split('\n').filter((l) => /§|\bthe issue\b|\(part [0-9]\)|\bpart 2\b/i.test(l));
    expect(lines).toEqual([]);
  });
});
