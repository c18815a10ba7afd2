// Prints "N passed, N failed, N skipped" from vitest's JSON report.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.vitest-results.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.error(`no test report at ${file}: ${err.message}`);
  process.exit(1);
}
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
const failedSuites = (report.testResults ?? []).filter(
  (r) => r.status === 'failed' && r.assertionResults?.length === 0,
);
for (const s of failedSuites) console.error(`suite failed to run: ${s.name}: ${s.message ?? ''}`);
const failed = report.numFailedTests + failedSuites.length;
// vitest's JSON report does not count errors outside tests (unhandled rejections); its exit status does.
const exitStatus = Number(process.argv[3] ?? 0);
if (exitStatus !== 0 && failed === 0) {
  console.error(
    `vitest exited with status ${exitStatus}: errors outside the tests (see "Unhandled Errors" above)`,
  );
}
console.log(`${report.numPassedTests} passed, ${failed} failed, ${skipped} skipped`);
