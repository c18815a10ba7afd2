import { describe, expect, it } from 'vitest';
import { VirtError } from '../../errors.js';
import { parseDomainXml } from '../domain-xml.js';
import { formatSnapshotXml } from '../snapshot-xml.js';
import { assertXmlSafeDefinition, findInvalidXmlChar, findLoneSurrogate } from './chars.js';
import { parseXml } from './reader.js';

function errorOf(fn: () => unknown): VirtError {
  try {
    fn();
  } catch (err) {
    if (err instanceof VirtError) return err;
    throw err;
  }
  throw new Error('expected a VirtError');
}

describe('characters XML cannot hold', () => {
  it.each([
    ['\u0000', 'U+0000'],
    ['\u0008', 'U+0008'],
    ['\u000B', 'U+000B'],
    ['\u001F', 'U+001F'],
    ['\uFFFE', 'U+FFFE'],
    ['\uFFFF', 'U+FFFF'],
    ['\uD800', 'U+D800 (an unpaired UTF-16 surrogate)'],
    ['\uDBFFx', 'U+DBFF (an unpaired UTF-16 surrogate)'],
    ['\uDC00x', 'U+DC00 (an unpaired UTF-16 surrogate)'],
    ['\uDC00\uD800', 'U+DC00 (an unpaired UTF-16 surrogate)'],
  ])('finds %j', (bad, description) => {
    expect(findInvalidXmlChar(`ab${bad}`)).toEqual({ index: 2, description });
  });

  it('accepts TAB, LF, CR, paired surrogates and the rest of the BMP', () => {
    for (const ok of ['\t\n\r', '\u{1F600}', '\uD83D\uDE00', '\u00e9\uFFFD\uE000', ''])
      expect(findInvalidXmlChar(ok)).toBeUndefined();
    expect(findLoneSurrogate('\u0001')).toBeUndefined();
  });
});

describe('assertXmlSafeDefinition', () => {
  it('names the field holding the character, nested and in arrays', () => {
    const err = errorOf(() =>
      assertXmlSafeDefinition(
        { name: 's1', disks: [{ name: 'vda' }, { name: 'vdb', source: { file: '/a\uD800' } }] },
        'snapshot',
      ),
    );
    expect(err.code).toBe('XML_DETAIL');
    expect(err.message).toBe(
      'invalid char U+D800 (an unpaired UTF-16 surrogate) in snapshot definition at disks[1].source.file',
    );
    expect(err.details).toMatchObject({ path: 'disks[1].source.file', index: 2 });
  });

  it('walks the XML elements of an embedded domain: text, attribute values and names', () => {
    const domain = parseDomainXml(
      "<domain type='qemu'><name>vm</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></domain>",
    );
    assertXmlSafeDefinition({ name: 's', domain }, 'snapshot');
    const withText = { ...domain, element: { ...domain.element, children: [{ text: 'a\u0002' }] } };
    expect(errorOf(() => assertXmlSafeDefinition({ domain: withText }, 'snapshot')).details).toMatchObject({
      path: 'domain.element.children[0].text',
    });
    const withAttr = { ...domain, element: { ...domain.element, attributes: { ['t\uDFFF']: 'x' } } };
    expect(errorOf(() => assertXmlSafeDefinition({ domain: withAttr }, 'snapshot')).message).toMatch(
      /U\+DFFF .* at domain\.element\.attributes\.t.* \(key\)$/,
    );
  });

  it('stops at cycles and ignores numbers and booleans', () => {
    const def: Record<string, unknown> = { name: 'ok', creationTime: 5, active: true };
    def['self'] = def;
    expect(() => assertXmlSafeDefinition(def, 'snapshot')).not.toThrow();
  });

  it('what it refuses the writer would have dropped silently', () => {
    expect(formatSnapshotXml({ name: 's\uD800x' })).toContain('<name>sx</name>');
    expect(errorOf(() => assertXmlSafeDefinition({ name: 's\uD800x' }, 'snapshot')).code).toBe('XML_DETAIL');
  });
});

describe('parseXml: lone surrogates in string input', () => {
  it.each([
    ['<a>\uD800x</a>', 1, 4],
    ['<a>\n  <b c="\uDC00"/></a>', 2, 9],
    ['<a>\uD83D\uDE00\uD83D</a>', 1, 6],
  ])('refuses %j with XML_DETAIL at its position', (xml, line, column) => {
    const err = errorOf(() => parseXml(xml));
    expect(err.code).toBe('XML_DETAIL');
    expect(err.message).toMatch(
      new RegExp(
        `^XML error at line ${line}, column ${column}: invalid char U\\+D[89A-F][0-9A-F]{2} \\(an unpaired UTF-16 surrogate\\)$`,
      ),
    );
    expect(err.details).toMatchObject({ line, column });
  });
});
