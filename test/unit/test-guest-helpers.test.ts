// The test guest's own pieces without QEMU: the cpio newc writer read back by a small reader,
// and the guest agent client against a fake agent on a unix socket.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cpioNewc } from '../helpers/cpio.js';
import { GuestAgentClient, GuestAgentError } from '../helpers/guest-agent.js';

interface Read {
  name: string;
  mode: number;
  data: Buffer;
}

/** Reads a newc archive back, checking magic and 4-byte alignment on the way. */
function readCpio(buf: Buffer): Read[] {
  const out: Read[] = [];
  let off = 0;
  for (;;) {
    expect(off % 4).toBe(0);
    expect(buf.subarray(off, off + 6).toString()).toBe('070701');
    const field = (i: number): number =>
      parseInt(buf.subarray(off + 6 + i * 8, off + 14 + i * 8).toString(), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const name = buf.subarray(off + 110, off + 110 + nameSize - 1).toString();
    expect(buf[off + 110 + nameSize - 1]).toBe(0);
    off += 110 + nameSize;
    off += (4 - (off % 4)) % 4;
    const data = buf.subarray(off, off + size);
    off += size;
    off += (4 - (off % 4)) % 4;
    if (name === 'TRAILER!!!') break;
    out.push({ name, mode, data });
  }
  expect(off).toBe(buf.length);
  return out;
}

describe('cpioNewc', () => {
  it('writes files, symlinks and implied parent directories, parents first', () => {
    const archive = cpioNewc([
      { type: 'file', path: '/init', data: '#!/bin/sh\n', mode: 0o755 },
      { type: 'file', path: 'lib/modules/virtio.ko', data: Buffer.from([1, 2, 3]) },
      { type: 'symlink', path: 'bin/sh', target: 'busybox' },
      { type: 'dir', path: 'tmp', mode: 0o1777 },
      { type: 'dir', path: 'lib', mode: 0o700 },
    ]);
    const entries = readCpio(archive);
    expect(entries.map((e) => [e.name, e.mode.toString(8)])).toEqual([
      ['bin', '40755'],
      ['bin/sh', '120777'],
      ['init', '100755'],
      ['lib', '40700'],
      ['lib/modules', '40755'],
      ['lib/modules/virtio.ko', '100644'],
      ['tmp', '41777'],
    ]);
    expect(entries.find((e) => e.name === 'init')?.data.toString()).toBe('#!/bin/sh\n');
    expect(entries.find((e) => e.name === 'bin/sh')?.data.toString()).toBe('busybox');
    expect([...entries.find((e) => e.name === 'lib/modules/virtio.ko')!.data]).toEqual([1, 2, 3]);
  });

  it('is deterministic and refuses duplicate or escaping paths', () => {
    const entries = [{ type: 'file', path: 'a', data: 'x' }] as const;
    expect(cpioNewc(entries).equals(cpioNewc(entries))).toBe(true);
    expect(() => cpioNewc([...entries, ...entries])).toThrow("'a' is given twice");
    expect(() => cpioNewc([{ type: 'file', path: '../etc/passwd', data: '' }])).toThrow('invalid path');
  });
});

describe('GuestAgentClient', () => {
  let dir: string | undefined;
  let server: Server | undefined;

  afterEach(async () => {
    await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    server = undefined;
    dir = undefined;
  });

  /** A fake agent that answers like qemu-ga 7.2, after `silentMs` of not reading (booting). */
  function fakeAgent(silentMs: number, seen: string[]): string {
    dir = mkdtempSync(join(tmpdir(), 'virtkit-qga-'));
    const path = join(dir, 'qga.sock');
    server = createServer((socket: Socket) => {
      let buf = '';
      const started = Date.now();
      const handle = (): void => {
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const req = JSON.parse(buf.slice(0, nl)) as { execute: string; arguments?: { id?: number } };
          buf = buf.slice(nl + 1);
          seen.push(req.execute);
          if (req.execute === 'guest-sync-delimited') {
            socket.write(Buffer.concat([Buffer.from('{"return": 7}\n{"ret'), Buffer.from([0xff])]));
            socket.write(`{"return": ${req.arguments?.id}}\n`);
          } else if (req.execute === 'guest-ping') socket.write('{"return": {}}\n');
          else if (req.execute !== 'guest-shutdown')
            socket.write('{"error": {"class": "CommandNotFound", "desc": "nope"}}\n');
        }
      };
      socket.on('data', (b: Buffer) => {
        buf += b.toString();
        const wait = silentMs - (Date.now() - started);
        if (wait > 0) setTimeout(handle, wait);
        else handle();
      });
    });
    server.listen(path);
    return path;
  }

  it('syncs with guest-sync-delimited across a boot delay, drops stale bytes, runs commands', async () => {
    const seen: string[] = [];
    const path = fakeAgent(1_200, seen);
    await using agent = await GuestAgentClient.connect(path, { timeoutMs: 5_000 });
    await agent.sync(10_000);
    expect(seen.filter((c) => c === 'guest-sync-delimited').length).toBeGreaterThanOrEqual(3);
    expect(await agent.execute('guest-ping')).toEqual({});
    const err = await agent.execute('guest-bogus').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuestAgentError);
    expect((err as GuestAgentError).errorClass).toBe('CommandNotFound');
    await agent.send('guest-shutdown');
    expect(await agent.execute('guest-ping')).toEqual({});
    expect(seen.slice(-4)).toEqual(['guest-ping', 'guest-bogus', 'guest-shutdown', 'guest-ping']);
  });

  it('retries connecting until the socket appears', async () => {
    const base = mkdtempSync(join(tmpdir(), 'virtkit-qga-'));
    try {
      const connecting = GuestAgentClient.connect(join(base, 'late.sock'), { timeoutMs: 5_000 });
      const late = createServer(() => undefined);
      setTimeout(() => late.listen(join(base, 'late.sock')), 200);
      const agent = await connecting;
      agent.close();
      await new Promise((resolve) => late.close(resolve));
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
