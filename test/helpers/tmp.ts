import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A private temporary directory removed on dispose (`await using dir = await tempDir()`). */
export interface TempDir extends AsyncDisposable {
  readonly path: string;
}

export async function tempDir(prefix = 'virtkit-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    async [Symbol.asyncDispose]() {
      await rm(path, { recursive: true, force: true });
    },
  };
}
