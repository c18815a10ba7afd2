// Checkpoints and incremental backup on the test hypervisor: a full push backup that creates
// the first checkpoint, a second checkpoint, an incremental backup from the first, a pull
// backup ended by abortJob, and checkpoint deletion.
// Run: npx tsx examples/05-checkpoints-and-backup.ts
import { connect, formatCheckpointTree, type Connection, type JobInfo } from 'virtkit';

/** Resolves with the next backup job's final statistics. */
function nextCompletion(conn: Connection): Promise<JobInfo> {
  return new Promise((resolve) => conn.once('job-completed', (e) => resolve(e.info)));
}

export async function main(): Promise<void> {
  await using conn = await connect('test:///default');
  const domain = await conn.lookupDomainByName('test');

  // A full push backup of every disk, creating checkpoint 'full' at the same instant.
  let done = nextCompletion(conn);
  await domain.backupBegin(
    "<domainbackup mode='push'/>",
    '<domaincheckpoint><name>full</name></domaincheckpoint>',
  );
  console.log((await domain.backupGetXml()).trim());
  let info = await done;
  console.log(`full backup: ${info.type}, ${info.dataProcessed} bytes`);

  await domain.createCheckpoint({ name: 'after-install', description: 'packages installed' });
  console.log(await formatCheckpointTree(domain, { trim: true }));

  // Only what changed since 'full': an incremental push backup.
  done = nextCompletion(conn);
  await domain.backupBegin("<domainbackup mode='push'><incremental>full</incremental></domainbackup>");
  info = await done;
  console.log(`incremental backup: ${info.type}, ${info.dataProcessed} bytes`);

  // A pull backup exports the disks (over NBD with a real hypervisor) until the application ends it.
  await domain.backupBegin(
    "<domainbackup mode='pull'><server transport='unix' socket='/run/backup.sock'/></domainbackup>",
  );
  console.log(`pull job: ${(await domain.getJobInfo()).type}`);
  await domain.abortJob();
  console.log(`after abortJob: ${(await domain.getJobInfo({ completed: true })).type}`);

  // Deleting a checkpoint keeps incremental backups from the remaining ones correct.
  await (await domain.lookupCheckpointByName('full')).delete();
  const left = await domain.listCheckpoints();
  console.log(`checkpoints left: ${left.map((c) => c.name).join(', ')}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
