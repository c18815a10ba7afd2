import { createConnection, type Socket } from 'node:net';
import type { VirtError } from 'virtkit';
import { qmpError } from './errors.js';

/** Connects to a unix socket, retrying while it is missing or refuses when `wait` is set. */
export async function openSocket(path: string, wait: boolean, cancelled: () => boolean): Promise<Socket> {
  for (;;) {
    try {
      return await connectOnce(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const retry = wait && !cancelled() && (code === 'ENOENT' || code === 'ECONNREFUSED');
      if (!retry) throw connectError(path, err as NodeJS.ErrnoException);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

function connectOnce(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

function connectError(path: string, err: NodeJS.ErrnoException): VirtError {
  const refused = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
  const message = `cannot connect to QMP socket '${path}': ${err.message}`;
  return refused
    ? qmpError('NO_CONNECT', message, { path, errno: err.code }, err)
    : qmpError('SYSTEM_ERROR', message, { path, errno: err.code }, err);
}
