import type { QmpEvent, QmpGreeting } from './types.js';

type Json = Record<string, unknown>;

/** One line from QEMU, sorted by kind; `invalid` lines break the protocol. */
export type QmpMessage =
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'greeting'; readonly value: Json }
  | { readonly kind: 'event'; readonly value: Json & { readonly event: string } }
  | { readonly kind: 'return'; readonly value: Json; readonly id: unknown }
  | { readonly kind: 'error'; readonly value: Json; readonly id: unknown };

export function classify(line: string): QmpMessage {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { kind: 'invalid', reason: 'a line from QEMU is not JSON' };
  }
  if (!isObject(value)) return { kind: 'invalid', reason: 'a line from QEMU is not a JSON object' };
  if ('QMP' in value) return { kind: 'greeting', value };
  if (typeof value.event === 'string') return { kind: 'event', value: value as Json & { event: string } };
  if ('return' in value) return { kind: 'return', value, id: value.id };
  if ('error' in value) return { kind: 'error', value, id: value.id };
  return { kind: 'invalid', reason: 'a message from QEMU is neither a reply nor an event' };
}

/** The greeting's version and capabilities, or undefined when it is malformed. */
export function parseGreeting(value: Json): QmpGreeting | undefined {
  const qmp = value.QMP;
  if (!isObject(qmp) || !isObject(qmp.version) || !isObject(qmp.version.qemu)) return undefined;
  const { major, minor, micro } = qmp.version.qemu;
  if (typeof major !== 'number' || typeof minor !== 'number' || typeof micro !== 'number') return undefined;
  const pkg = typeof qmp.version.package === 'string' ? qmp.version.package : '';
  const capabilities = Array.isArray(qmp.capabilities)
    ? qmp.capabilities.filter((c): c is string => typeof c === 'string')
    : [];
  return { version: { qemu: { major, minor, micro }, package: pkg }, capabilities };
}

export function parseEvent(value: Json & { event: string }): QmpEvent {
  const ts = isObject(value.timestamp) ? value.timestamp : {};
  return {
    event: value.event,
    data: isObject(value.data) ? value.data : {},
    timestamp: {
      seconds: typeof ts.seconds === 'number' ? ts.seconds : 0,
      microseconds: typeof ts.microseconds === 'number' ? ts.microseconds : 0,
    },
  };
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
