import { VirtError } from '../errors.js';
import type { BackupDef, BackupDiskDef, BackupDiskState, BackupServerDef } from './backup-def.js';
import { compact } from './compact.js';
import { formatDiskSource, parseDiskSource, STORAGE_FORMATS, STORAGE_TYPES } from './disk-source-xml.js';
import type { DomainDef } from './domain-def.js';
import { isDiskEmpty } from './domain-xml.js';
import { backupSchema } from './moment-schemas.js';
import {
  attr,
  child,
  childElements,
  childText,
  errorAt,
  expectRoot,
  parseXml,
  xmlErrorAt,
} from './xml/reader.js';
import { validateSchema } from './xml/schema.js';
import type { XmlElement } from './xml/tree.js';
import { element, formatXml, textElement } from './xml/writer.js';

const DISK_STATES: readonly BackupDiskState[] = ['running', 'complete', 'failed', 'cancelling', 'cancelled'];

/**
 * Options of {@link parseBackupXml} and {@link formatBackupXml}.
 *
 * @public
 */
export interface BackupXmlOptions {
  /** The status form libvirt keeps for a running job: per-disk `state=`/`index=` and `<privateData>`, no schema check. */
  readonly internal?: boolean;
}

/**
 * Parses a `<domainbackup>` document as libvirt's `virDomainBackupDefParseString`. The public
 * form is validated against the structure of `domainbackup.rng` first; `internal` reads the
 * status form instead (per-disk `state=` and `index=`, `<privateData>`) without validation.
 *
 * @throws `XML_ERROR` for malformed XML, a wrong root, a disk without name or bad values;
 * `XML_INVALID_SCHEMA` when the public form breaks the schema; `CONFIG_UNSUPPORTED` for an
 * unknown mode, `<server>` in push mode or the rdma transport.
 * @public
 */
export function parseBackupXml(xml: string | Uint8Array, options: BackupXmlOptions = {}): BackupDef {
  const root = parseXml(xml);
  expectRoot(root, 'domainbackup');
  const internal = options.internal === true;
  if (!internal) validateSchema(root, backupSchema(root), 'domainbackup.rng');
  const modeText = attr(root, 'mode');
  if (modeText !== undefined && modeText !== 'push' && modeText !== 'pull') {
    throw errorAt('CONFIG_UNSUPPORTED', root, `unknown backup mode '${modeText}'`);
  }
  const mode = modeText ?? 'push';
  const serverEl = child(root, 'server');
  if (serverEl !== undefined && mode !== 'pull') {
    throw errorAt('CONFIG_UNSUPPORTED', serverEl, 'use of <server> requires pull mode backup');
  }
  const disksEl = child(root, 'disks');
  const disks =
    disksEl === undefined ? [] : childElements(disksEl).map((d) => parseDisk(d, mode === 'push', internal));
  return compact({
    mode,
    incremental: childText(root, 'incremental'),
    server: serverEl === undefined ? undefined : parseServer(serverEl),
    disks: disks.length > 0 ? disks : undefined,
    privateData: internal ? parsePrivateData(root) : undefined,
  });
}

/**
 * Formats a backup as libvirt's `virDomainBackupDefFormat`; `internal` adds the status-only
 * parts (disk `state=`, `<privateData>`).
 *
 * @public
 */
export function formatBackupXml(def: BackupDef, options: BackupXmlOptions = {}): string {
  const internal = options.internal === true;
  const push = (def.mode ?? 'push') === 'push';
  const disks = (def.disks ?? []).map((d) => formatDisk(d, push, internal));
  return formatXml(
    element('domainbackup', { mode: def.mode ?? 'push' }, [
      def.incremental !== undefined && textElement('incremental', def.incremental),
      def.server !== undefined && formatServer(def.server),
      disks.length > 0 && element('disks', {}, disks),
      internal && formatPrivateData(def.privateData),
    ]),
  );
}

/**
 * Completes a backup definition against the domain, as libvirt's `virDomainBackupAlignDisks`:
 * listed disks must exist once; backed-up disks without a target or scratch file get
 * `<domain disk path>.<suffix>`; every other domain disk is appended in domain order, backed
 * up when the definition listed no disks at all (except empty and read-only ones), else with
 * `backup='no'`; `backupmode` defaults to `incremental` when a checkpoint applies, else `full`,
 * and incremental disks inherit the global checkpoint.
 *
 * @throws `CONFIG_UNSUPPORTED` for a domain without disks, an unknown or repeated disk, an
 * incremental disk without checkpoint, a disk without media, or a file name that cannot be
 * generated because the domain disk is not a local file.
 * @public
 */
export function alignBackupDisks(def: BackupDef, domain: DomainDef, suffix: string): BackupDef {
  if (domain.disks.length === 0) {
    throw new VirtError('CONFIG_UNSUPPORTED', 'domain must have at least one disk to perform backup');
  }
  const listed = new Set<string>();
  const disks: BackupDiskDef[] = [];
  for (const disk of def.disks ?? []) {
    const domDisk = domain.disks.find((d) => d.target === disk.name);
    if (domDisk === undefined) throw new VirtError('CONFIG_UNSUPPORTED', `no disk named '${disk.name}'`);
    if (listed.has(disk.name))
      throw new VirtError('CONFIG_UNSUPPORTED', `disk '${disk.name}' specified twice`);
    listed.add(disk.name);
    if (
      disk.backupmode === 'incremental' &&
      disk.incremental === undefined &&
      def.incremental === undefined
    ) {
      throw new VirtError(
        'CONFIG_UNSUPPORTED',
        `'incremental' backup mode of disk '${disk.name}' requires setting 'incremental' field for disk or backup`,
      );
    }
    if ((disk.backup ?? 'yes') === 'yes' && isDiskEmpty(domDisk)) {
      throw new VirtError('CONFIG_UNSUPPORTED', `disk '${disk.name}' has no media`);
    }
    disks.push((disk.backup ?? 'yes') === 'yes' ? assignStore(disk, domDisk, suffix) : disk);
  }
  const backupAll = disks.length === 0;
  for (const domDisk of domain.disks) {
    if (listed.has(domDisk.target)) continue;
    const backup = backupAll && !isDiskEmpty(domDisk) && !domDisk.readonly;
    const disk: BackupDiskDef = { name: domDisk.target, backup: backup ? 'yes' : 'no' };
    disks.push(backup ? assignStore(disk, domDisk, suffix) : disk);
  }
  return { ...def, disks: disks.map((d) => defaultMode(d, def.incremental)) };
}

function parseServer(el: XmlElement): BackupServerDef {
  const transport = attr(el, 'transport') ?? 'tcp';
  if (!['tcp', 'unix', 'rdma', 'fd'].includes(transport)) {
    throw xmlErrorAt(el, `Invalid value for attribute 'transport' in element 'server': '${transport}'.`);
  }
  const socket = attr(el, 'socket');
  if (transport === 'unix' && socket === undefined) throw xmlErrorAt(el, 'missing socket for unix transport');
  if (transport !== 'unix' && socket !== undefined) {
    throw xmlErrorAt(el, `transport '${transport}' does not support socket attribute`);
  }
  if (transport === 'rdma')
    throw errorAt('CONFIG_UNSUPPORTED', el, 'transport rdma is not supported for <server>');
  if (transport === 'unix' && !(socket ?? '').startsWith('/')) {
    throw xmlErrorAt(el, `backup socket path '${socket ?? ''}' must be absolute`);
  }
  const tls = attr(el, 'tls');
  if (tls !== undefined && tls !== 'yes' && tls !== 'no') {
    throw xmlErrorAt(el, `Invalid value for attribute 'tls' in element 'server': '${tls}'.`);
  }
  return compact({
    transport: transport as BackupServerDef['transport'],
    tls,
    socket,
    ...hostPart(el, transport),
  });
}

function hostPart(el: XmlElement, transport: string): Pick<BackupServerDef, 'name' | 'port' | 'fdgroup'> {
  if (transport === 'unix') return {};
  if (transport === 'fd') {
    const fdgroup = attr(el, 'fdgroup');
    if (fdgroup === undefined) throw xmlErrorAt(el, "missing 'fdgroup' for fd transport");
    return { fdgroup };
  }
  const name = attr(el, 'name');
  if (name === undefined) throw xmlErrorAt(el, 'missing name for host');
  const portText = attr(el, 'port');
  if (portText === undefined) return { name };
  if (!/^[0-9]+$/.test(portText) || Number(portText) > 65535) {
    throw xmlErrorAt(el, `failed to parse port number '${portText}'`);
  }
  const port = Number(portText);
  return port === 0 ? { name } : { name, port: String(port) };
}

function parseDisk(el: XmlElement, push: boolean, internal: boolean): BackupDiskDef {
  const name = attr(el, 'name');
  if (name === undefined) throw xmlErrorAt(el, 'missing name from disk backup element');
  const backup = attr(el, 'backup') ?? 'yes';
  if (backup !== 'yes' && backup !== 'no') {
    throw xmlErrorAt(el, `Invalid value for attribute 'backup' in element 'disk': '${backup}'.`);
  }
  if (backup === 'no') return { name, backup };
  const backupmode = attr(el, 'backupmode');
  if (backupmode !== undefined && backupmode !== 'full' && backupmode !== 'incremental') {
    throw xmlErrorAt(el, `Invalid value for attribute 'backupmode' in element 'disk': '${backupmode}'.`);
  }
  const type = storeType(el);
  const driverEl = child(el, 'driver');
  const driverType = driverEl === undefined ? undefined : attr(driverEl, 'type') || undefined;
  if (driverType !== undefined && !STORAGE_FORMATS.includes(driverType)) {
    throw xmlErrorAt(driverEl, `unknown storage source format '${driverType}'`);
  }
  const storeEl = child(el, push ? 'target' : 'scratch');
  const store = storeEl === undefined ? undefined : parseDiskSource(storeEl, type);
  return compact({
    name,
    backup,
    state: internal ? diskState(el) : undefined,
    type,
    backupmode,
    incremental: attr(el, 'incremental'),
    exportname: push ? undefined : attr(el, 'exportname'),
    exportbitmap: push ? undefined : attr(el, 'exportbitmap'),
    index: internal ? diskIndex(el) : undefined,
    driverType,
    store: store !== undefined && Object.keys(store).length > 0 ? store : undefined,
  });
}

function storeType(el: XmlElement): 'file' | 'block' {
  const type = attr(el, 'type') ?? 'file';
  if (!STORAGE_TYPES.includes(type)) throw xmlErrorAt(el, `unknown storage source type '${type}'`);
  if (type !== 'file' && type !== 'block') throw xmlErrorAt(el, `unsupported disk backup type '${type}'`);
  return type;
}

function diskState(el: XmlElement): BackupDiskState {
  const state = attr(el, 'state');
  if (state === undefined) throw xmlErrorAt(el, "missing required attribute 'state' in element 'disk'");
  if (!(DISK_STATES as readonly string[]).includes(state)) {
    throw xmlErrorAt(el, `Invalid value for attribute 'state' in element 'disk': '${state}'.`);
  }
  return state as BackupDiskState;
}

function diskIndex(el: XmlElement): number | undefined {
  const text = attr(el, 'index');
  if (text === undefined) return undefined;
  if (!/^[0-9]+$/.test(text) || Number(text) > 0xffffffff) {
    throw xmlErrorAt(el, `invalid storage source index '${text}'`);
  }
  return Number(text);
}

function parsePrivateData(root: XmlElement): BackupDef['privateData'] {
  const privateData = child(root, 'privateData');
  const objects = privateData === undefined ? undefined : child(privateData, 'objects');
  if (objects === undefined) return undefined;
  const secret = childElements(objects, 'secret').find((s) => attr(s, 'type') === 'tlskey');
  const tls = child(objects, 'TLSx509');
  const data = compact({
    tlsKeyAlias: (secret && attr(secret, 'alias')) || undefined,
    tlsObjAlias: (tls && attr(tls, 'alias')) || undefined,
  });
  return Object.keys(data).length > 0 ? data : undefined;
}

function formatServer(server: BackupServerDef): XmlElement {
  const port = server.port === undefined || Number(server.port) === 0 ? undefined : Number(server.port);
  return element('server', {
    transport: server.transport ?? 'tcp',
    tls: server.tls,
    name: server.name,
    port,
    socket: server.socket,
    fdgroup: server.fdgroup,
  });
}

/** libvirt's `virDomainBackupDiskDefFormat`. */
function formatDisk(disk: BackupDiskDef, push: boolean, internal: boolean): XmlElement {
  const backup = disk.backup ?? 'yes';
  const state = internal ? disk.state : undefined;
  if (backup === 'no') return element('disk', { name: disk.name, backup, state });
  const type = disk.type ?? 'file';
  return element(
    'disk',
    {
      name: disk.name,
      backup,
      state,
      type,
      backupmode: disk.backupmode,
      incremental: disk.incremental,
      exportname: disk.exportname,
      exportbitmap: disk.exportbitmap,
      index: disk.index === 0 ? undefined : disk.index,
    },
    [
      disk.driverType !== undefined && element('driver', { type: disk.driverType }),
      formatDiskSource(push ? 'target' : 'scratch', type, disk.store),
    ],
  );
}

function formatPrivateData(data: BackupDef['privateData']): XmlElement | undefined {
  const objects = [
    data?.tlsKeyAlias !== undefined && element('secret', { type: 'tlskey', alias: data.tlsKeyAlias }),
    data?.tlsObjAlias !== undefined && element('TLSx509', { alias: data.tlsObjAlias }),
  ].filter((o): o is XmlElement => o !== false);
  return objects.length === 0 ? undefined : element('privateData', {}, [element('objects', {}, objects)]);
}

/** libvirt's `virDomainBackupDefAssignStore` for a disk that is backed up. */
function assignStore(
  disk: BackupDiskDef,
  domDisk: DomainDef['disks'][number],
  suffix: string,
): BackupDiskDef {
  const path = (disk.type ?? 'file') === 'block' ? disk.store?.dev : disk.store?.file;
  if (path !== undefined) return disk;
  if (domDisk.type !== 'file' || domDisk.source === undefined) {
    throw new VirtError('CONFIG_UNSUPPORTED', `refusing to generate file name for disk '${disk.name}'`);
  }
  const { dev: _dev, ...rest } = disk.store ?? {};
  return { ...disk, type: 'file', store: { ...rest, file: `${domDisk.source}.${suffix}` } };
}

function defaultMode(disk: BackupDiskDef, incremental: string | undefined): BackupDiskDef {
  if ((disk.backup ?? 'yes') !== 'yes') return disk;
  const backupmode =
    disk.backupmode ?? (incremental !== undefined || disk.incremental !== undefined ? 'incremental' : 'full');
  const inherited = backupmode === 'incremental' ? (disk.incremental ?? incremental) : disk.incremental;
  return compact({ ...disk, backupmode, incremental: inherited });
}
