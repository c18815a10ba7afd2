import { describe, expect, it } from 'vitest';
import { VirtError } from '../../errors.js';
import {
  attr,
  child,
  childElements,
  childText,
  expectRoot,
  parseXml,
  requiredAttr,
  textContent,
  type XmlReadOptions,
} from './reader.js';

function parseError(input: string | Uint8Array, options?: XmlReadOptions): VirtError {
  try {
    parseXml(input, options);
  } catch (err) {
    if (err instanceof VirtError) return err;
    throw err;
  }
  throw new Error('expected parseXml to fail');
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('parseXml: trees', () => {
  it('keeps names, attribute order and positions', () => {
    const root = parseXml(
      "<?xml version='1.0'?>\n<disk name='vda' snapshot='external'>\n  <source file='/a'/>\n</disk>",
    );
    expect(root.name).toBe('disk');
    expect(Object.keys(root.attributes)).toEqual(['name', 'snapshot']);
    expect([root.line, root.column]).toEqual([2, 1]);
    const source = child(root, 'source');
    expect(source?.attributes).toEqual({ file: '/a' });
    expect([source?.line, source?.column]).toEqual([3, 3]);
  });

  it('reports the start of a tag whose name ends a line', () => {
    const root = parseXml('<a>\n  <b\n x="1"/><c\r\n/></a>');
    expect(childElements(root).map((c) => [c.name, c.line, c.column])).toEqual([
      ['b', 2, 3],
      ['c', 3, 9],
    ]);
  });

  it('decodes entities and character references and merges CDATA into text', () => {
    const root = parseXml('<a>x &amp; &lt;&#233;&#x41;<![CDATA[<raw>]]>y</a>');
    expect(root.children).toEqual([{ text: 'x & <éA<raw>y' }]);
  });

  it('drops comments, processing instructions and layout whitespace', () => {
    const root = parseXml('<a>\n  <!-- c -->\n  <?pi x?>\n  <b/>\n  <c> </c>\n</a>');
    expect(childElements(root).map((c) => c.name)).toEqual(['b', 'c']);
    expect(root.children).toHaveLength(2);
    expect(child(root, 'c')?.children).toEqual([{ text: ' ' }]);
  });

  it('keeps whitespace inside mixed content like libxml2', () => {
    const root = parseXml('<a>x <b/> <c/> y</a>');
    expect(root.children.map((c) => ('name' in c ? `<${c.name}>` : c.text))).toEqual([
      'x ',
      '<b>',
      ' ',
      '<c>',
      ' y',
    ]);
  });

  it('gives the XPath string value of elements', () => {
    const root = parseXml('<r><name>a<i>b</i>c</name><empty/><description></description></r>');
    expect(textContent(root)).toBe('abc');
    expect(childText(root, 'name')).toBe('abc');
    expect(childText(root, 'empty')).toBeUndefined();
    expect(childText(root, 'description')).toBeUndefined();
    expect(childText(root, 'missing')).toBeUndefined();
  });

  it('treats attribute names such as __proto__ as plain data', () => {
    const root = parseXml('<a __proto__="x" constructor="y"/>');
    expect(attr(root, '__proto__')).toBe('x');
    expect(attr(root, 'constructor')).toBe('y');
    expect(attr(root, 'toString')).toBeUndefined();
  });

  it('accepts UTF-8 bytes, with or without a byte order mark', () => {
    expect(parseXml(utf8('<a>é</a>')).children).toEqual([{ text: 'é' }]);
    expect(parseXml(new Uint8Array([0xef, 0xbb, 0xbf, ...utf8('<a/>')])).name).toBe('a');
    expect(parseXml(utf8('<?xml version="1.0" encoding="UTF-8"?><a/>')).name).toBe('a');
  });
});

describe('parseXml: helpers', () => {
  it('requiredAttr names the attribute, the element and the position', () => {
    const root = parseXml('<r>\n  <disk snapshot="no"/>\n</r>');
    const disk = child(root, 'disk');
    if (disk === undefined) throw new Error('no disk');
    expect(requiredAttr(disk, 'snapshot')).toBe('no');
    const err = (() => {
      try {
        requiredAttr(disk, 'name');
      } catch (e) {
        return e as VirtError;
      }
      throw new Error('expected an error');
    })();
    expect(err.code).toBe('XML_ERROR');
    expect(err.message).toBe("missing required attribute 'name' in element 'disk'");
    expect(err.details).toEqual({ line: 2, column: 3 });
  });

  it('expectRoot names the expected root', () => {
    expect(() => expectRoot(parseXml('<domaincheckpoint/>'), 'domainsnapshot')).toThrow(
      "expecting root element of 'domainsnapshot', not 'domaincheckpoint'",
    );
  });
});

describe('parseXml: malformed input', () => {
  it.each([
    ['', 'document must contain a root element', 1, 1],
    ['<a/>\n<b/>', 'documents may contain only one root', 2, 3],
    ['<a/>text', 'text data outside of root node', 1, 8],
    ['<a>\n<b>', 'unclosed tag: b', 2, 3],
    ['<a><b></a>', 'unexpected close tag', 1, 10],
    ['<a b="1" b="2"/>', 'duplicate attribute: b', 1, 16],
    ['<a>\u0001</a>', 'disallowed character', 1, 4],
    ['<a:b:c/>', "invalid qualified name 'a:b:c'", 1, 8],
    ['<a x:y:z="1"/>', "invalid qualified name 'x:y:z'", 1, 14],
  ])('%j → %s', (input, message, line, column) => {
    const err = parseError(input);
    expect(err.code).toBe('XML_DETAIL');
    expect(err.message).toBe(`XML error at line ${line}, column ${column}: ${message}`);
    expect(err.details).toEqual({ line, column });
  });

  it('refuses undefined entities', () => {
    const err = parseError('<foo>\n  &xxe;</foo>');
    expect(err.message).toBe('XML error at line 2, column 7: undefined entity');
    expect(err.details).toEqual({ line: 2, column: 7 });
  });
});

describe('parseXml: hostile input', () => {
  it('refuses a DOCTYPE with entity declarations without expanding them (billion laughs)', () => {
    const lol = Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`).join(
      '\n',
    );
    const input = `<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol0 "lol">\n${lol}\n]>\n<lolz>&lol9;</lolz>`;
    const err = parseError(input);
    expect(err.code).toBe('XML_DETAIL');
    expect(err.message).toBe('XML error at line 13, column 2: DOCTYPE is not allowed');
    expect(err.details).toEqual({ line: 13, column: 2 });
  });

  it('refuses an external entity (XXE)', () => {
    const err = parseError('<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<foo>&xxe;</foo>');
    expect(err.code).toBe('XML_DETAIL');
    expect(err.message).toMatch(/^XML error at line 1, column \d+: DOCTYPE is not allowed$/);
  });

  it('refuses a plain DOCTYPE too', () => {
    expect(parseError('<!DOCTYPE domain>\n<domain/>').message).toContain('DOCTYPE is not allowed');
  });

  it('refuses a ~50 MB document before parsing it', () => {
    const big = `<a>${'x'.repeat(50 * 1024 * 1024)}</a>`;
    const err = parseError(big);
    expect(err.code).toBe('XML_DETAIL');
    expect(err.message).toBe('XML document exceeds the limit of 16777216 bytes');
    expect(err.details).toEqual({ maxBytes: 16777216 });
    expect(parseError(utf8(big)).message).toBe('XML document exceeds the limit of 16777216 bytes');
  });

  it('counts UTF-8 bytes, not characters, against maxBytes', () => {
    const doc = `<a>${'é'.repeat(20)}</a>`;
    expect(parseXml(doc, { maxBytes: 47 }).name).toBe('a');
    expect(parseError(doc, { maxBytes: 46 }).message).toBe('XML document exceeds the limit of 46 bytes');
  });

  it('refuses 100 000 levels of nesting at level 257, naming the position', () => {
    const deep = '<a>'.repeat(100_000) + '</a>'.repeat(100_000);
    const err = parseError(deep);
    expect(err.code).toBe('XML_DETAIL');
    expect(err.message).toBe('XML error at line 1, column 769: excessive depth in document: 257 (limit 256)');
    expect(err.details).toEqual({ line: 1, column: 769 });
  });

  it('accepts exactly maxDepth levels', () => {
    expect(parseXml('<a>'.repeat(256) + '</a>'.repeat(256)).name).toBe('a');
    expect(parseError('<a>\n'.repeat(4) + '</a>'.repeat(4), { maxDepth: 3 }).details).toEqual({
      line: 4,
      column: 1,
    });
  });

  it('refuses invalid UTF-8 and names the line and column of the bad byte', () => {
    const bytes = new Uint8Array([...utf8('<a>\n é'), 0xff, ...utf8('</a>')]);
    const err = parseError(bytes);
    expect(err.code).toBe('XML_DETAIL');
    expect(err.message).toBe('XML error at line 2, column 3: invalid UTF-8 byte 0xFF');
    expect(err.details).toEqual({ line: 2, column: 3 });
  });

  it.each([
    ['an overlong encoding', [0xc0, 0xaf], 'C0'],
    ['a UTF-16 surrogate', [0xed, 0xa0, 0x80], 'ED'],
    ['a truncated sequence', [0xe2, 0x82], 'E2'],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 'F4'],
  ])('refuses %s', (_what, bad, byte) => {
    const err = parseError(new Uint8Array([...utf8('<a>'), ...bad, ...utf8('</a>')]));
    expect(err.message).toMatch(new RegExp(`^XML error at line 1, column 4: invalid UTF-8 byte 0x${byte}$`));
  });

  it('refuses byte input that declares another encoding', () => {
    const err = parseError(utf8('<?xml version="1.0" encoding="ISO-8859-1"?><a/>'));
    expect(err.message).toBe("XML error at line 1, column 43: unsupported encoding 'ISO-8859-1'");
    expect(parseXml('<?xml version="1.0" encoding="ISO-8859-1"?><a/>').name).toBe('a');
  });
});

describe('parseXml: parser reuse', () => {
  it('parses correctly after every kind of failure', () => {
    const bad = ['<a>', '<a><b></a>', '<!DOCTYPE a><a/>', '<a/><b/>', '', '<a x="1" x="2"/>'];
    for (const input of bad) {
      expect(() => parseXml(input)).toThrow();
      const el = parseXml("<r n='1'>\n  <c>t</c>\n</r>");
      expect(el).toMatchObject({ name: 'r', attributes: { n: '1' }, line: 1, column: 1 });
      expect(el.children).toEqual([
        { name: 'c', attributes: {}, children: [{ text: 't' }], line: 2, column: 3 },
      ]);
    }
  });

  it('gives independent trees for consecutive documents', () => {
    const a = parseXml('<a><x/></a>');
    const b = parseXml('<b/>');
    expect(a.children).toHaveLength(1);
    expect(b).toMatchObject({ name: 'b', children: [] });
  });
});
