import { connect } from 'virtkit';
import { describeDriverConformance } from './suite.js';

// Every test gets a fresh test:///default world; push backups take 10 ms of the real clock.
describeDriverConformance(
  'test:///default',
  async () => {
    const connection = await connect('test:///default', { driverOptions: { backupDurationMs: 10 } });
    return { connection, domain: 'test', dispose: () => connection.close() };
  },
  {
    snapshots: true,
    checkpoints: true,
    backups: true,
    events: true,
    lifecycle: true,
    checkpointsNeedActiveDomain: true,
    snapshotsWithCheckpoints: true,
  },
);
