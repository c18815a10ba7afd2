// virtkit/qmp: a QMP client for QEMU over a unix socket, in TypeScript (no native code).
export { QmpClient } from './client.js';
export type {
  QmpClientEvents,
  QmpConnectOptions,
  QmpEventsOptions,
  QmpExecuteOptions,
  QmpExecuteRest,
  QmpWaitOptions,
} from './options.js';
export type { QmpWaitJobOptions } from './jobs.js';
export type {
  QmpArguments,
  QmpBitmapArguments,
  QmpBlockJobDeviceArguments,
  QmpCommandMap,
  QmpCommandName,
  QmpCommandReturn,
  QmpJobIdArguments,
  QmpOpenArguments,
  QmpSnapshotJobArguments,
  QmpTransactionAction,
} from './commands.js';
export { QMP_JOB_STATUSES, QMP_RUN_STATES } from './types.js';
export type {
  QmpBlockJobEventData,
  QmpEvent,
  QmpEventMap,
  QmpEventName,
  QmpGreeting,
  QmpJobInfo,
  QmpJobStatus,
  QmpRunState,
  QmpTimestamp,
  QmpVersion,
} from './types.js';
