// Run by smoke.test.ts with node from the package root: loads the BUILT package through its
// own name (package self-reference), as ESM and as CJS, and prints one JSON report.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const esm = await import('virtkit');
const cjs = require('virtkit');
const esmTest = await import('virtkit/drivers/test');
const cjsTest = require('virtkit/drivers/test');
const esmQemu = await import('virtkit/drivers/qemu');
const cjsQemu = require('virtkit/drivers/qemu');
const esmQmp = await import('virtkit/qmp');
const cjsQmp = require('virtkit/qmp');

const report = {};
report.distinctCopies = esm.VirtError !== cjs.VirtError;
report.sharedRegistry = esm.defaultRegistry() === cjs.defaultRegistry();
report.drivers = [
  esmTest.testDriver?.name,
  cjsTest.testDriver?.name,
  esmQemu.qemuDriver?.name,
  cjsQemu.qemuDriver?.name,
];

const conn = await cjs.connect('test:///default');
const domains = await conn.listDomains();
report.cjsConnect = domains.map((d) => d.name);
try {
  await (await conn.lookupDomainByName('test')).lookupSnapshotByName('nope');
} catch (err) {
  report.cjsErrorIsEsmVirtError = err instanceof esm.VirtError;
  report.cjsErrorCode = esm.isVirtError(err, 'NO_DOMAIN_SNAPSHOT');
}
await conn.close();

const conn2 = await esm.connect('test:///default');
try {
  await conn2.lookupDomainByName('nope');
} catch (err) {
  report.esmErrorIsCjsVirtError = err instanceof cjs.VirtError;
}
await conn2.close();
// virtkit/qmp throws the core's own VirtError class (ESM with ESM, CJS with CJS) and its
// errors pass the brand check of both copies.
report.qmp = [typeof esmQmp.QmpClient?.connect, typeof cjsQmp.QmpClient?.connect];
report.qmpErrors = [];
for (const [qmp, core] of [
  [esmQmp, esm],
  [cjsQmp, cjs],
]) {
  try {
    await qmp.QmpClient.connect('/nonexistent/virtkit-smoke/qmp.sock');
  } catch (err) {
    report.qmpErrors.push([
      err.code,
      err.constructor === core.VirtError,
      err instanceof esm.VirtError,
      err instanceof cjs.VirtError,
    ]);
  }
}
console.log(JSON.stringify(report));
