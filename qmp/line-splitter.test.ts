import { describe, expect, it } from 'vitest';
import { LineSplitter } from './line-splitter.js';

describe('LineSplitter', () => {
  it('splits lines across chunks, drops \\r and decodes UTF-8 split between chunks', () => {
    const s = new LineSplitter(1024);
    const bytes = Buffer.from('{"a":"é"}\r\n{"b":1}\n{"c"', 'utf8');
    const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of é
    expect(s.push(bytes.subarray(0, cut))).toEqual([]);
    expect(s.push(bytes.subarray(cut))).toEqual(['{"a":"é"}', '{"b":1}']);
    expect(s.pendingBytes).toBe(4);
    expect(s.push(Buffer.from(':2}\n'))).toEqual(['{"c":2}']);
    expect(s.pendingBytes).toBe(0);
  });

  it('refuses a line longer than the limit, finished or not', () => {
    expect(new LineSplitter(8).push(Buffer.from('123456789\n'))).toBeUndefined();
    expect(new LineSplitter(8).push(Buffer.from('12345678\n'))).toEqual(['12345678']);
    const s = new LineSplitter(8);
    expect(s.push(Buffer.from('12345'))).toEqual([]);
    expect(s.push(Buffer.from('6789'))).toBeUndefined();
    const t = new LineSplitter(8);
    expect(t.push(Buffer.from('12345'))).toEqual([]);
    expect(t.push(Buffer.from('6789\n'))).toBeUndefined();
  });
});
