/**
 * virtkit — libvirt-grade snapshots, checkpoints and incremental backup for Node.
 *
 * @packageDocumentation
 */

// Connecting and handles
export { connect, type ConnectOptions, type RecoveryEvent } from './connect.js';
export type {
  DriverOptionsByScheme,
  DriverOptionsFor,
  QemuDriverOptions,
  TestDriverOptions,
  UriScheme,
} from './driver/driver-options.js';
export {
  Connection,
  type ConnectionEvents,
  type DomainEvent,
  type DomainRebootEvent,
  type JobCompletedEvent,
} from './connection.js';
export { Domain } from './domain.js';
export { DomainSnapshot } from './snapshot.js';
export { DomainCheckpoint } from './checkpoint.js';

// Errors
export {
  ERROR_CODES,
  VirtError,
  isVirtError,
  type ErrorCode,
  type VirtErrorDetails,
  type VirtErrorOptions,
} from './errors.js';

// Options (libvirt flags as option objects)
export {
  KNOWN_OPTIONS,
  assertExclusive,
  assertOptions,
  assertRequires,
  type BackupBeginOptions,
  type CheckpointChildrenOptions,
  type CheckpointCreateOptions,
  type CheckpointFilterOptions,
  type CheckpointListOptions,
  type CheckpointXmlOptions,
  type DomainCreateOptions,
  type DomainDefineOptions,
  type DomainDestroyOptions,
  type DomainShutdownOptions,
  type QemuMonitorCommandOptions,
  type DomainStartOptions,
  type DomainUndefineOptions,
  type DomainXmlOptions,
  type ListDisksOptions,
  type JobInfoOptions,
  type ListDomainsOptions,
  type LongOperationOptions,
  type MomentDeleteOptions,
  type OptionsFunction,
  type Progress,
  type SnapshotChildrenOptions,
  type SnapshotCreateOptions,
  type SnapshotFilterOptions,
  type SnapshotListOptions,
  type SnapshotRevertOptions,
  type SnapshotXmlOptions,
} from './options.js';

// States, events, jobs
export {
  DOMAIN_EVENTS,
  DOMAIN_STATES,
  DOMAIN_STATE_REASONS,
  JOB_OPERATIONS,
  JOB_TYPES,
  domainEventCode,
  domainEventDetailCode,
  domainStateReasonCode,
  type DomainEventDetail,
  type DomainEventType,
  type DomainState,
  type DomainStateInfo,
  type DomainStateOf,
  type DomainStateReason,
  type JobInfo,
  type JobOperation,
  type JobType,
} from './events.js';

// Driver contract and registry (for driver authors)
export type {
  BackupOps,
  CheckpointOps,
  DomainIdentity,
  DomainOps,
  DriverConnection,
  QemuOps,
  DriverDomainEvent,
  DriverDomainRebootEvent,
  DriverEventSink,
  DriverJobCompletedEvent,
  DriverOpenOptions,
  DriverRecoveryEvent,
  HypervisorDriver,
  SnapshotOps,
} from './driver/driver.js';
export { defineDriver } from './driver/define-driver.js';
export { DriverRegistry, defaultRegistry, registerDriver } from './driver/registry.js';
export type { DriverLoader } from './driver/builtin.js';
export { parseUri, type ParsedUri } from './util/uri.js';

// Definitions and XML (libvirt's formats), shared by drivers
export type { XmlElement, XmlText } from './conf/xml/tree.js';
export { parseXml, type XmlReadOptions } from './conf/xml/reader.js';
export { formatXml } from './conf/xml/writer.js';
export {
  SNAPSHOT_LOCATIONS,
  type DomainDef,
  type DomainDiskDef,
  type SnapshotLocation,
} from './conf/domain-def.js';
export {
  domainDefFromElement,
  formatDomainXml,
  parseDomainXml,
  renameDomainDef,
  updateDomainDisk,
  type DomainFormatOptions,
} from './conf/domain-xml.js';
export { checkDuplicateDiskTargets } from './conf/domain-validate.js';
export {
  SNAPSHOT_STATES,
  type DiskSource,
  type DiskSourceHost,
  type SnapshotDef,
  type SnapshotDiskDef,
  type SnapshotMemoryDef,
  type SnapshotState,
} from './conf/snapshot-def.js';
export {
  alignSnapshotDisks,
  defaultExternalSnapshotPath,
  formatSnapshotXml,
  parseSnapshotXml,
  type SnapshotFormatOptions,
  type SnapshotParseOptions,
} from './conf/snapshot-xml.js';
export { validateSnapshotRedefinition, type SnapshotRedefineContext } from './conf/snapshot-redefine.js';
export type { CheckpointDef, CheckpointDiskDef } from './conf/checkpoint-def.js';
export {
  alignCheckpointDisks,
  defaultCheckpointBitmapNames,
  formatCheckpointXml,
  parseCheckpointXml,
  type CheckpointFormatOptions,
  type CheckpointParseOptions,
} from './conf/checkpoint-xml.js';
export type { BackupDef, BackupDiskDef, BackupDiskState, BackupServerDef } from './conf/backup-def.js';
export {
  alignBackupDisks,
  formatBackupXml,
  parseBackupXml,
  type BackupXmlOptions,
} from './conf/backup-xml.js';

// Moment-list algorithms, shared by drivers
export {
  MOMENT_KINDS,
  MOMENT_REMOVE_MODES,
  MomentList,
  momentRemoveMode,
  type MomentDefLike,
  type MomentKind,
  type MomentListFlags,
  type MomentRemoval,
  type MomentRemoveMode,
} from './conf/moment-list.js';
export {
  isExternalSnapshot,
  listSnapshots,
  snapshotFilter,
  type SnapshotListFilter,
  type SnapshotListOptionsLike,
} from './conf/snapshot-list.js';
export { redefineMakesCurrent } from './conf/checkpoint-list.js';

// Tree views (what `virsh snapshot-list --tree` / `checkpoint-list --tree` print)
export { formatCheckpointTree, formatSnapshotTree, type TreeFormatOptions } from './tree-view.js';
