import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const documented = [...doc.matchAll(/^## ([A-Z_]+)$/gm)].map((m) => m[1]);

describe('docs/errors.md', () => {
  it.each(Object.entries(ERROR_CODES))('documents %s with its libvirt number', (code, num) => {
    const section = doc.split(/^## /m).find((s) => s.startsWith(`${code}\n`));
    expect(section, `missing section for ${code}`).toBeDefined();
    expect(section).toContain(`\`VIR_ERR_${code}\` (${num})`);
  });

  it('documents no code that does not exist', () => {
    expect(documented.filter((c) => !(c! in ERROR_CODES))).toEqual([]);
  });
});
