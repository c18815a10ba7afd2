// Domain.qemuMonitorCommand in the core: an optional driver capability (libvirt-qemu).
import { connect, isVirtError } from 'virtkit';
import { describe, expect, it } from 'vitest';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (isVirtError(err)) return err.code;
    throw err;
  }
}

describe('Domain.qemuMonitorCommand', () => {
  it('is NO_SUPPORT on the test driver, after the argument and read-only checks', async () => {
    const conn = await connect('test:///default');
    const dom = await conn.lookupDomainByName('test');
    expect(await codeOf(dom.qemuMonitorCommand('{"execute":"query-status"}'))).toBe('NO_SUPPORT');
    expect(await codeOf(dom.qemuMonitorCommand('info status', { hmp: true }))).toBe('NO_SUPPORT');
    expect(await codeOf(dom.qemuMonitorCommand(''))).toBe('INVALID_ARG');
    expect(await codeOf(dom.qemuMonitorCommand('x', { bogus: 1 } as never))).toBe('INVALID_ARG');
    await conn.close();
    const ro = await connect('test:///default', { readOnly: true });
    const rodom = await ro.lookupDomainByName('test');
    expect(await codeOf(rodom.qemuMonitorCommand('{"execute":"query-status"}'))).toBe('OPERATION_DENIED');
    await ro.close();
  });
});
