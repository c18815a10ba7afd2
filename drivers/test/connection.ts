import type { DriverConnection } from 'virtkit';
import { disposeJobs } from './backup-job.js';
import { testBackupOps } from './backup-ops.js';
import { testCheckpointOps } from './checkpoint-ops.js';
import { testDomainOps } from './domain-ops.js';
import { testSnapshotOps } from './snapshot-ops.js';
import type { TestWorld } from './state.js';

/**
 * A test-driver connection over one in-memory world; every capability is offered.
 *
 * @internal
 */
export function testConnection(world: TestWorld): DriverConnection {
  return {
    domains: testDomainOps(world),
    snapshots: testSnapshotOps(world),
    checkpoints: testCheckpointOps(world),
    backups: testBackupOps(world),
    close: async () => disposeJobs(world),
  };
}
