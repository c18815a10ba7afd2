import { VirtError, type VirtErrorDetails } from 'virtkit';

/** Builds the errors of the QMP client, all `VirtError`s with driver `qemu`. */
export function qmpError(
  code: VirtError['code'],
  message: string,
  details: VirtErrorDetails = {},
  cause?: unknown,
): VirtError {
  return new VirtError(code, message, { details, cause, driver: 'qemu' });
}

/** A QMP `error` reply, as libvirt reports it ("unable to execute QEMU command 'x': desc"). */
export function commandError(command: string, error: unknown): VirtError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const qmpClass = typeof e.class === 'string' ? e.class : 'GenericError';
  const desc = typeof e.desc === 'string' ? e.desc : 'unknown error';
  return qmpError('INTERNAL_ERROR', `internal error: unable to execute QEMU command '${command}': ${desc}`, {
    qmpClass,
    desc,
    qmpCommand: command,
  });
}

/** The peer broke the protocol; the connection is closed. */
export function protocolError(reason: string, details: VirtErrorDetails = {}, cause?: unknown): VirtError {
  return qmpError('INTERNAL_ERROR', `internal error: QMP protocol error: ${reason}`, details, cause);
}

/** Up to 200 characters of a line, for error details. */
export function excerpt(line: string): string {
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/**
 * Runs `fn` until it settles, `timeoutMs` passes (`OPERATION_TIMEOUT`) or `signal` aborts
 * (`OPERATION_ABORTED`); `cleanup` runs in every case.
 */
export function guard<T>(
  what: string,
  options: { readonly timeoutMs?: number | undefined; readonly signal?: AbortSignal | undefined },
  details: VirtErrorDetails,
  start: (resolve: (value: T) => void, reject: (err: unknown) => void) => () => void,
): Promise<T> {
  const { timeoutMs, signal } = options;
  if (signal?.aborted) return Promise.reject(aborted(what, details, signal));
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let cleanup: (() => void) | undefined;
    const finish = (settle: () => void): void => {
      if (done) return;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      cleanup?.();
      settle();
    };
    const onAbort = (): void => finish(() => reject(aborted(what, details, signal)));
    if (timeoutMs !== undefined) {
      const timeout = qmpError('OPERATION_TIMEOUT', `timed out after ${timeoutMs} ms: ${what}`, {
        ...details,
        timeoutMs,
      });
      timer = setTimeout(() => finish(() => reject(timeout)), timeoutMs);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    const stop = start(
      (value) => finish(() => resolve(value)),
      (err) => finish(() => reject(err)),
    );
    if (done) stop();
    else cleanup = stop;
  });
}

function aborted(what: string, details: VirtErrorDetails, signal: AbortSignal | undefined): VirtError {
  return qmpError('OPERATION_ABORTED', `operation aborted: ${what}`, details, signal?.reason);
}

/** The error a waiter gets when the connection ends for `reason` while it waits. */
export function closedWhile(
  what: string,
  reason: VirtError | undefined,
  details: Record<string, unknown>,
): VirtError {
  const code = reason?.code ?? 'OPERATION_FAILED';
  const why = reason?.message ?? 'operation failed: QMP connection was closed';
  return qmpError(code, `${why} (while ${what})`, { ...reason?.details, ...details }, reason);
}

/** The connection ended (QEMU exited, the socket closed), maybe in the middle of a line. */
export function eof(path: string, pendingBytes: number, cause?: Error): VirtError {
  const where = pendingBytes > 0 ? ' in the middle of a message' : '';
  const message = `operation failed: end of file from QEMU monitor '${path}'${where}`;
  return qmpError('OPERATION_FAILED', message, { path }, cause);
}
