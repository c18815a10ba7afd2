// Child process of the running-domain tests. Usage: node --import tsx qemu-process-child.ts URI MODE NAME
//   state: prints the domain's state, whether it is active and its live XML's first line, then exits
//   start-and-wait: starts the domain, prints "started", and waits to be killed
import { connect } from 'virtkit';

const [uri = '', mode = '', name = ''] = process.argv.slice(2);
const conn = await connect(uri);
const dom = await conn.lookupDomainByName(name);
if (mode === 'state') {
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
