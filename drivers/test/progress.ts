import type { LongOperationOptions } from 'virtkit';

/**
 * Reports a long operation of the test driver as done: the work is instantaneous, so
 * `onProgress` sees one finished step.
 *
 * @internal
 */
export function reportDone(options: LongOperationOptions, phase: string): void {
  options.onProgress?.({ phase, completed: 1, total: 1, unit: 'steps' });
}
