// Child process of the running-domain tests. Usage: node --import tsx qemu-process-child.ts URI MODE NAME
//   state: prints the domain's state, whether it is active and its live XML's first line, then exits
//   start-and-wait: starts the domain, prints "started", and waits to be killed
//   race-start GO_AT: at GO_AT (ms since the epoch) starts the domain, prints the outcome as
//     JSON ({ ok } or { code, message }) and exits, leaving any QEMU it started running
//   race-create GO_AT XML: the same with conn.createDomain(XML) (NAME unused)
import { connect, isVirtError } from 'virtkit';

const [uri = '', mode = '', name = '', goAt = '0', xml = ''] = process.argv.slice(2);
const conn = await connect(uri);

async function race(work: () => Promise<unknown>): Promise<void> {
  await new Promise((r) => setTimeout(r, Math.max(0, Number(goAt) - Date.now())));
  try {
    await work();
    console.log(JSON.stringify({ ok: true }));
  } catch (err) {
    if (!isVirtError(err)) throw err;
    console.log(JSON.stringify({ code: err.code, message: err.message }));
  }
  await conn.close();
  process.exit(0);
}

if (mode === 'race-create') {
  await race(() => conn.createDomain(xml));
}
const dom = await conn.lookupDomainByName(name);
if (mode === 'race-start') {
  await race(() => dom.start());
} else if (mode === 'state') {
  const state = await dom.getState();
  const active = await dom.isActive();
  const xml = (await dom.getXml()).split('\n')[0];
  const status = JSON.parse(await dom.qemuMonitorCommand('{"execute":"query-status"}')) as unknown;
  console.log(JSON.stringify({ state, active, xml, status }));
  await conn.close();
} else if (mode === 'start-and-wait') {
  await dom.start();
  console.log('started');
  setInterval(() => undefined, 1000);
} else {
  throw new Error(`unknown mode ${mode}`);
}
