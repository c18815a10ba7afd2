// Testing application code against test:///default: a fixed clock makes snapshot names,
// creation times and backup progress deterministic, every connection starts from libvirt's
// default world, and events and error codes are libvirt's.
// Run: npx tsx examples/03-testing-your-app.ts
import assert from 'node:assert/strict';
import { connect, isVirtError, type Domain, type JobInfo } from 'virtkit';

/** Application code under test: take a snapshot before a risky change, roll back if it fails. */
export async function safeUpgrade(
  domain: Domain,
  upgrade: () => Promise<void>,
): Promise<'upgraded' | 'rolled-back'> {
  const before = await domain.createSnapshot({ description: 'before upgrade' });
  try {
    await upgrade();
    return 'upgraded';
  } catch {
    await before.revert();
    return 'rolled-back';
  }
}

/** Application code under test: a full push backup that also starts a checkpoint chain. */
export async function nightlyBackup(domain: Domain, name: string): Promise<void> {
  await domain.backupBegin('<domainbackup/>', { name });
}

export async function main(): Promise<void> {
  let now = Date.UTC(2024, 0, 1, 12, 0, 0);
  await using conn = await connect('test:///default', { clock: () => now });
  const events: string[] = [];
  conn.on('domain-event', (e) => events.push(`${e.event}/${e.detail}`));
  const jobs: JobInfo[] = [];
  conn.on('job-completed', (e) => jobs.push(e.info));
  const domain = await conn.lookupDomainByName('test');

  // A successful upgrade keeps the snapshot, named after the (fixed) creation time.
  assert.equal(await safeUpgrade(domain, async () => {}), 'upgraded');
  assert.deepEqual(
    (await domain.listSnapshots()).map((s) => s.name),
    ['1704110400'],
  );
  console.log('upgrade ok: snapshot 1704110400 kept');

  // A failing upgrade reverts: the guest restarts from the snapshot, as libvirt reports it.
  now += 60_000;
  assert.equal(await safeUpgrade(domain, async () => Promise.reject(new Error('disk full'))), 'rolled-back');
  assert.deepEqual(events, ['STOPPED/FROM_SNAPSHOT', 'STARTED/FROM_SNAPSHOT']);
  assert.equal((await domain.currentSnapshot()).name, '1704110460');
  assert.deepEqual(await domain.getState(), { state: 'running', reason: 'FROM_SNAPSHOT' });
  console.log(`failed upgrade rolled back: ${events.join(', ')}`);

  // Errors carry libvirt's codes.
  try {
    await domain.createSnapshot({ name: '1704110460' });
    assert.fail('a duplicate name must be refused');
  } catch (err) {
    assert.ok(isVirtError(err, 'OPERATION_FAILED'));
    console.log(`duplicate refused: ${err.code}`);
  }

  // Backups progress on the connection clock: nothing moves until the test moves the clock.
  await nightlyBackup(domain, 'nightly-1');
  assert.equal((await domain.getJobInfo()).dataProcessed, 0);
  now += 50;
  const half = await domain.getJobInfo();
  assert.equal(half.dataProcessed, (half.dataTotal ?? 0) / 2);
  now += 50;
  assert.equal((await domain.getJobInfo()).type, 'none');
  assert.deepEqual(
    jobs.map((j) => j.type),
    ['completed'],
  );
  assert.equal((await domain.lookupCheckpointByName('nightly-1')).name, 'nightly-1');
  console.log(`backup completed after 100 ms of clock time: ${jobs[0]?.dataTotal} bytes`);

  // A new connection starts from libvirt's default world again.
  await using fresh = await connect('test:///default');
  const again = await fresh.lookupDomainByName('test');
  assert.deepEqual(await again.listSnapshots(), []);
  console.log('a fresh connection has no snapshots');
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
