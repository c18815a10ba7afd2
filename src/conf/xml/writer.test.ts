import { describe, expect, it } from 'vitest';
import { parseXml } from './reader.js';
import { element, escapeLibvirt, formatXml, textElement } from './writer.js';

describe('formatXml: libvirt layout', () => {
  it('indents by two spaces, single-quotes attributes and ends with a newline', () => {
    const el = element('domainsnapshot', {}, [
      textElement('name', 's1'),
      element('disks', {}, [
        element('disk', { name: 'vda', snapshot: 'external' }, [element('source', { file: '/a' })]),
      ]),
    ]);
    expect(formatXml(el)).toBe(
      [
        '<domainsnapshot>',
        '  <name>s1</name>',
        '  <disks>',
        "    <disk name='vda' snapshot='external'>",
        "      <source file='/a'/>",
        '    </disk>',
        '  </disks>',
        '</domainsnapshot>',
        '',
      ].join('\n'),
    );
  });

  it('prints an empty element as <x/> and leaves out undefined attributes and children', () => {
    expect(formatXml(element('a', { b: undefined, c: 1 }, [undefined, false]))).toBe("<a c='1'/>\n");
  });

  it('prints mixed content without adding whitespace', () => {
    const el = parseXml('<r><p>one <b>two</b> three<c><d/></c></p></r>');
    expect(formatXml(el)).toBe('<r>\n  <p>one <b>two</b> three<c><d/></c></p>\n</r>\n');
  });

  it('refuses names that are not XML names', () => {
    expect(() => formatXml(element('a b'))).toThrow("invalid XML name 'a b'");
    expect(() => formatXml(element('a', { 'x:y:z': '1' }))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARG' }),
    );
  });

  it('keeps multi-line text as it is', () => {
    expect(formatXml(textElement('description', 'line 1\n  line 2\tend'))).toBe(
      '<description>line 1\n  line 2\tend</description>\n',
    );
  });

  it('reproduces a libvirt-formatted document byte for byte', () => {
    const doc = [
      "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>",
      '  <name>vm</name>',
      '  <devices>',
      "    <disk type='file' device='disk'>",
      "      <source file='/img/a&amp;b.qcow2'/>",
      '    </disk>',
      '  </devices>',
      '  <qemu:commandline>',
      "    <qemu:arg value='-S'/>",
      '  </qemu:commandline>',
      '</domain>',
      '',
    ].join('\n');
    expect(formatXml(parseXml(doc))).toBe(doc);
  });
});

describe('formatXml: escaping like virBufferEscapeString', () => {
  it('escapes the five XML specials in text and attributes', () => {
    const el = textElement('name', `it's "a" & <b>`, { file: `/x'y"z&<>` });
    expect(formatXml(el)).toBe(
      "<name file='/x&apos;y&quot;z&amp;&lt;&gt;'>it&apos;s &quot;a&quot; &amp; &lt;b&gt;</name>\n",
    );
    expect(escapeLibvirt(`'"&<>`)).toBe('&apos;&quot;&amp;&lt;&gt;');
  });

  it('never lets text that looks like an entity through unescaped', () => {
    const el = textElement('description', '&amp; &#233; &lt;', { a: '&quot;' });
    expect(formatXml(el)).toBe("<description a='&amp;quot;'>&amp;amp; &amp;#233; &amp;lt;</description>\n");
    expect(parseXml(formatXml(el)).children).toEqual([{ text: '&amp; &#233; &lt;' }]);
  });

  it('drops characters XML cannot carry and keeps TAB, LF and CR', () => {
    const el = textElement('d', 'a\u0001b\u0008c\u000Bd\u001Fe\uFFFEf\uD800g\tx\ny', { v: 'p\u0002q' });
    expect(formatXml(el)).toBe("<d v='pq'>abcdefg\tx\ny</d>\n");
  });

  it('keeps non-ASCII characters as they are', () => {
    expect(formatXml(textElement('name', 'snäpshot ✓ 𝄞'))).toBe('<name>snäpshot ✓ 𝄞</name>\n');
  });
});

describe('formatXml: domain <metadata> like libxml2', () => {
  it('double-quotes, puts namespace declarations first and escapes the libxml2 way', () => {
    const input =
      `<domain type='kvm'><metadata>` +
      `<app1:foo maman="b&amp;a'z&lt;é&#10;x&#9;y" xmlns:app1="http://foo.org/">fo&amp;o&gt;'"ish é&#13;</app1:foo>` +
      `<app3:x xmlns:app3="urn:x"><app3:y a="1">t<app3:z/>u</app3:y><app3:w><app3:v/></app3:w></app3:x>` +
      `</metadata><name>vm</name></domain>`;
    // Expected output taken from libvirt 9.0 (virsh dumpxml of the same metadata).
    expect(formatXml(parseXml(input))).toBe(
      [
        "<domain type='kvm'>",
        '  <metadata>',
        `    <app1:foo xmlns:app1="http://foo.org/" maman="b&amp;a'z&lt;&#xE9;&#10;x&#9;y">fo&amp;o&gt;'"ish é&#13;</app1:foo>`,
        '    <app3:x xmlns:app3="urn:x">',
        '      <app3:y a="1">t<app3:z/>u</app3:y>',
        '      <app3:w>',
        '        <app3:v/>',
        '      </app3:w>',
        '    </app3:x>',
        '  </metadata>',
        '  <name>vm</name>',
        '</domain>',
        '',
      ].join('\n'),
    );
  });

  it('applies only to <metadata> directly under a domain', () => {
    const input = `<domainsnapshot><metadata><a:b xmlns:a="urn:a" c="1"/></metadata></domainsnapshot>`;
    expect(formatXml(parseXml(input))).toContain(`<a:b xmlns:a='urn:a' c='1'/>`);
    const inactive = `<inactiveDomain type='kvm'><metadata><a:b xmlns:a="urn:a"/></metadata></inactiveDomain>`;
    expect(formatXml(parseXml(inactive))).toContain(`<a:b xmlns:a="urn:a"/>`);
  });
});
