// Shared by the test driver's unit tests (not part of the driver).
import { connect, isVirtError, type Connection, type Domain } from 'virtkit';

/** 2023-11-14T22:13:20Z, the fixed clock of the unit tests. */
export const T0 = 1_700_000_000_000;

/**
 * Codes for XML that is not well formed: libvirt reports libxml2's parse errors as
 * `XML_DETAIL`; virtkit's reader says `XML_ERROR` (reported to the conf owners).
 */
export const MALFORMED = /^XML_DETAIL$/;

/** A test world with a controllable clock (`world.now += 1000`). */
export interface OpenWorld extends AsyncDisposable {
  readonly conn: Connection;
  readonly domain: Domain;
  /** Lifecycle events seen so far, as `EVENT/DETAIL` of the domain named in front. */
  readonly events: string[];
  now: number;
}

/** Opens `uri` (test:///default by default) with a fixed clock and records its events. */
export async function openWorld(
  uri = 'test:///default',
  driverOptions: Record<string, unknown> = {},
): Promise<OpenWorld> {
  const clock = { now: T0 };
  const events: string[] = [];
  const conn = await connect(uri, { clock: () => clock.now, driverOptions });
  conn.on('domain-event', (e) => events.push(`${e.domain.name} ${e.event}/${e.detail}`));
  const domains = await conn.listDomains();
  const domain = (domains.find((d) => d.name === 'test') ?? domains[0]) as Domain;
  return {
    conn,
    domain,
    events,
    get now() {
      return clock.now;
    },
    set now(value: number) {
      clock.now = value;
    },
    [Symbol.asyncDispose]: () => conn.close(),
  };
}

/** `CODE: message` of the VirtError a promise rejects with, or `ok`. */
export async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (isVirtError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
}

/** The code of the VirtError a promise rejects with, or `ok`. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  return (await outcome(p)).split(':')[0] ?? '';
}

/** Names of moment handles, sorted. */
export function sortedNames(items: readonly { readonly name: string }[]): string[] {
  return items.map((i) => i.name).sort();
}

/** `<domainsnapshot>` with just a name. */
export function snapXml(name: string): string {
  return `<domainsnapshot><name>${name}</name></domainsnapshot>`;
}

/** A minimal domain definition of the test hypervisor. */
export function domainXml(name: string, uuid: string, extra = ''): string {
  return `<domain type='test'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='KiB'>1024</memory>
  <os>
    <type>hvm</type>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/img/${name}.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>${extra}
</domain>
`;
}
