import type { QmpJobInfo, QmpRunState, QmpVersion } from './types.js';

/**
 * Arguments of a QMP command: a JSON object.
 *
 * @public
 */
export type QmpArguments = Readonly<Record<string, unknown>>;

/**
 * A command whose arguments are an open JSON object with some typed members.
 *
 * @public
 */
export type QmpOpenArguments<T> = T & QmpArguments;

/**
 * Arguments of the jobs commands that take a job id.
 *
 * @public
 */
export interface QmpJobIdArguments {
  /** The job id. */
  readonly id: string;
}

/**
 * Arguments of the `block-job-*` commands that name the job by `device` (its job id).
 *
 * @public
 */
export interface QmpBlockJobDeviceArguments {
  /** The job id (QEMU's historic name for it). */
  readonly device: string;
}

/**
 * A persistent or temporary dirty bitmap on a node.
 *
 * @public
 */
export interface QmpBitmapArguments {
  /** Node name of the block node that holds the bitmap. */
  readonly node: string;
  /** The bitmap's name. */
  readonly name: string;
}

/**
 * Arguments of `snapshot-save` / `snapshot-load`.
 *
 * @public
 */
export interface QmpSnapshotJobArguments {
  /** Id of the job to create. */
  readonly 'job-id': string;
  /** The internal snapshot's name. */
  readonly tag: string;
  /** Node that receives (or holds) the VM state. */
  readonly vmstate: string;
  /** Every node to snapshot. */
  readonly devices: readonly string[];
}

/**
 * One action of a `transaction`.
 *
 * @public
 */
export interface QmpTransactionAction {
  /** The action, e.g. `blockdev-snapshot`, `block-dirty-bitmap-add`, `blockdev-backup`. */
  readonly type: string;
  /** The arguments the command of the same name takes. */
  readonly data: QmpArguments;
}

/**
 * The commands virtkit's qemu driver uses, with their arguments and results. Arguments
 * and results list the members the driver reads; everything else QEMU accepts or returns
 * passes through untyped. Any other command can be sent with an explicit result type:
 * `client.execute<MyResult>('query-cpus-fast')`.
 *
 * @public
 */
export interface QmpCommandMap {
  /** Leaves capabilities negotiation mode; {@link QmpClient.connect} sends it. */
  qmp_capabilities: {
    args: { readonly enable?: readonly string[] } | undefined;
    return: Record<string, never>;
  };
  /** QEMU's version. */
  'query-version': { args: undefined; return: QmpVersion };
  /** The names of every command this QEMU knows. */
  'query-commands': { args: undefined; return: readonly { readonly name: string }[] };
  /** The run state. */
  'query-status': {
    args: undefined;
    return: { readonly status: QmpRunState; readonly running: boolean; readonly singlestep?: boolean };
  };
  /** Block backends and what is inserted in them. */
  'query-block': { args: undefined; return: readonly QmpOpenArguments<{ readonly device: string }>[] };
  /** Every named block node. */
  'query-named-block-nodes': {
    args: { readonly flat?: boolean } | undefined;
    return: readonly QmpOpenArguments<{ readonly 'node-name': string; readonly drv: string }>[];
  };
  /** Adds a block node (`driver`, `node-name`, driver options). */
  'blockdev-add': { args: QmpOpenArguments<{ readonly driver: string }>; return: Record<string, never> };
  /** Removes a block node nothing uses. */
  'blockdev-del': { args: { readonly 'node-name': string }; return: Record<string, never> };
  /** Starts a job that formats an image (`options.driver` e.g. `qcow2`). */
  'blockdev-create': {
    args: { readonly 'job-id': string; readonly options: QmpOpenArguments<{ readonly driver: string }> };
    return: Record<string, never>;
  };
  /** Makes `overlay` (added with `backing: null`) the new top of `node`. */
  'blockdev-snapshot': {
    args: { readonly node: string; readonly overlay: string };
    return: Record<string, never>;
  };
  /** Starts a commit job. */
  'block-commit': { args: QmpOpenArguments<{ readonly device: string }>; return: Record<string, never> };
  /** Starts a stream job. */
  'block-stream': { args: QmpOpenArguments<{ readonly device: string }>; return: Record<string, never> };
  /** Starts a backup job. */
  'blockdev-backup': {
    args: QmpOpenArguments<{ readonly device: string; readonly target: string; readonly sync: string }>;
    return: Record<string, never>;
  };
  /** Runs several actions all or nothing. */
  transaction: {
    args: {
      readonly actions: readonly QmpTransactionAction[];
      readonly properties?: { readonly 'completion-mode'?: 'individual' | 'grouped' };
    };
    return: Record<string, never>;
  };
  /** Adds a dirty bitmap. */
  'block-dirty-bitmap-add': {
    args: QmpBitmapArguments & {
      readonly granularity?: number;
      readonly persistent?: boolean;
      readonly disabled?: boolean;
    };
    return: Record<string, never>;
  };
  /** Removes a dirty bitmap. */
  'block-dirty-bitmap-remove': { args: QmpBitmapArguments; return: Record<string, never> };
  /** Clears a dirty bitmap. */
  'block-dirty-bitmap-clear': { args: QmpBitmapArguments; return: Record<string, never> };
  /** Starts recording writes in a bitmap. */
  'block-dirty-bitmap-enable': { args: QmpBitmapArguments; return: Record<string, never> };
  /** Stops recording writes in a bitmap. */
  'block-dirty-bitmap-disable': { args: QmpBitmapArguments; return: Record<string, never> };
  /** Merges bitmaps (names on `node`, or `{ node, name }` elsewhere) into `target`. */
  'block-dirty-bitmap-merge': {
    args: {
      readonly node: string;
      readonly target: string;
      readonly bitmaps: readonly (string | QmpBitmapArguments)[];
    };
    return: Record<string, never>;
  };
  /** Starts a job saving an internal snapshot with the VM state. */
  'snapshot-save': { args: QmpSnapshotJobArguments; return: Record<string, never> };
  /** Starts a job loading an internal snapshot with the VM state. */
  'snapshot-load': { args: QmpSnapshotJobArguments; return: Record<string, never> };
  /** Starts a job deleting an internal snapshot. */
  'snapshot-delete': {
    args: { readonly 'job-id': string; readonly tag: string; readonly devices: readonly string[] };
    return: Record<string, never>;
  };
  /** Every job and its state. */
  'query-jobs': { args: undefined; return: readonly QmpJobInfo[] };
  /** Removes a concluded job. */
  'job-dismiss': { args: QmpJobIdArguments; return: Record<string, never> };
  /** Cancels a job. */
  'job-cancel': { args: QmpJobIdArguments; return: Record<string, never> };
  /** Completes a job that is `ready`. */
  'job-complete': { args: QmpJobIdArguments; return: Record<string, never> };
  /** Finalizes a `pending` job (`auto-finalize: false`). */
  'job-finalize': { args: QmpJobIdArguments; return: Record<string, never> };
  /** Pauses a job. */
  'job-pause': { args: QmpJobIdArguments; return: Record<string, never> };
  /** Resumes a paused job. */
  'job-resume': { args: QmpJobIdArguments; return: Record<string, never> };
  /** Block jobs and their progress. */
  'query-block-jobs': {
    args: undefined;
    return: readonly QmpOpenArguments<{ readonly device: string; readonly type: string }>[];
  };
  /** Cancels a block job. */
  'block-job-cancel': {
    args: QmpBlockJobDeviceArguments & { readonly force?: boolean };
    return: Record<string, never>;
  };
  /** Completes a block job that is ready (pivot of mirror / active commit). */
  'block-job-complete': { args: QmpBlockJobDeviceArguments; return: Record<string, never> };
  /** Pauses a block job. */
  'block-job-pause': { args: QmpBlockJobDeviceArguments; return: Record<string, never> };
  /** Resumes a block job. */
  'block-job-resume': { args: QmpBlockJobDeviceArguments; return: Record<string, never> };
  /** Finalizes a pending block job. */
  'block-job-finalize': { args: QmpJobIdArguments; return: Record<string, never> };
  /** Removes a concluded block job. */
  'block-job-dismiss': { args: QmpJobIdArguments; return: Record<string, never> };
  /** Starts an outgoing migration (QEMU 7.2: `exec:cat > FILE` for a memory image). */
  migrate: { args: QmpOpenArguments<{ readonly uri: string }>; return: Record<string, never> };
  /** Starts an incoming migration on a QEMU started with `-incoming defer`. */
  'migrate-incoming': { args: { readonly uri: string }; return: Record<string, never> };
  /** Migration state. */
  'query-migrate': { args: undefined; return: QmpOpenArguments<{ readonly status?: string }> };
  /** Enables or disables migration capabilities (`events`, …). */
  'migrate-set-capabilities': {
    args: { readonly capabilities: readonly { readonly capability: string; readonly state: boolean }[] };
    return: Record<string, never>;
  };
  /** Pauses the guest. */
  stop: { args: undefined; return: Record<string, never> };
  /** Resumes the guest. */
  cont: { args: undefined; return: Record<string, never> };
  /** Sends an ACPI power button press to the guest. */
  system_powerdown: { args: undefined; return: Record<string, never> };
  /** Resets the guest. */
  system_reset: { args: undefined; return: Record<string, never> };
  /** Ends QEMU; it answers, then closes the socket. */
  quit: { args: undefined; return: Record<string, never> };
  /** Runs an HMP command line and returns its output. */
  'human-monitor-command': {
    args: { readonly 'command-line': string; readonly 'cpu-index'?: number };
    return: string;
  };
}

/**
 * The name of a command in {@link QmpCommandMap}.
 *
 * @public
 */
export type QmpCommandName = keyof QmpCommandMap;

/**
 * The result type of a known command.
 *
 * @public
 */
export type QmpCommandReturn<C extends QmpCommandName> = QmpCommandMap[C]['return'];
