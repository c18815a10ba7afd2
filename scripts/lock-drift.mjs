// Compares two package-lock.json files: exits 1 when a package present in both has another
// version, or one side has a package the other lacks that is not an optional package for
// another platform (os/cpu/libc set). Used only when `npm ci` refuses the committed lockfile.
import { readFileSync } from 'node:fs';

const [lockedPath, installedPath] = process.argv.slice(2);
const read = (p) => JSON.parse(readFileSync(p, 'utf8')).packages ?? {};
const locked = read(lockedPath);
const installed = read(installedPath);
const platformOptional = (e) => e.optional === true && (e.os || e.cpu || e.libc);
const drift = [];
for (const key of new Set([...Object.keys(locked), ...Object.keys(installed)])) {
  if (key === '') continue;
  const a = locked[key];
  const b = installed[key];
  if (a && b) {
    if (a.version !== b.version) drift.push(`${key}: locked ${a.version}, installed ${b.version}`);
  } else if (!platformOptional(a ?? b)) {
    drift.push(`${key}: ${a ? 'locked but not installed' : 'installed but not locked'}`);
  }
}
if (drift.length > 0) {
  console.error('package-lock.json does not match what npm install resolved:');
  for (const line of drift) console.error(`  ${line}`);
  process.exit(1);
}
console.error('package-lock.json: no drift beyond optional packages for other platforms');
