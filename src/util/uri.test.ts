import { describe, expect, it } from 'vitest';
import { isVirtError } from '../errors.js';
import { parseUri } from './uri.js';

describe('parseUri', () => {
  it('parses local driver URIs', () => {
    expect(parseUri('test:///default')).toMatchObject({
      scheme: 'test',
      transport: undefined,
      host: undefined,
      path: '/default',
      query: {},
    });
    expect(parseUri('test:///abs/path/node.xml').path).toBe('/abs/path/node.xml');
  });

  it('parses query parameters and transports', () => {
    const u = parseUri('qemu+ssh://root@host.example:2222/system?keyfile=/k%20x&no_verify=1');
    expect(u).toMatchObject({
      scheme: 'qemu',
      transport: 'ssh',
      user: 'root',
      host: 'host.example',
      port: 2222,
      path: '/system',
      query: { keyfile: '/k x', no_verify: '1' },
    });
    expect(parseUri('qemu:///embed?root=/var/tmp/vms').query).toEqual({ root: '/var/tmp/vms' });
  });

  it('decodes percent-escapes in the path', () => {
    expect(parseUri('test:///tmp/my%20node.xml').path).toBe('/tmp/my node.xml');
  });

  it.each(['', 'default', 'test:/default', '://x', '1abc:///x', 'test:///%E0%A4%A'])('refuses %j', (uri) => {
    let caught: unknown;
    try {
      parseUri(uri);
    } catch (err) {
      caught = err;
    }
    expect(isVirtError(caught, 'INVALID_ARG')).toBe(true);
  });
});
