import { BACKING_FORMATS, STORAGE_FORMATS } from './disk-source-xml.js';
import { attr, child, childElements, isElement } from './xml/reader.js';
import { ANY, PATTERNS, TEXT, type ElementRule } from './xml/schema.js';
import type { XmlElement } from './xml/tree.js';

// Hand-written equivalents of libvirt's domainsnapshot.rng, domaincheckpoint.rng and
// domainbackup.rng (the parts that decide whether a document is accepted). Embedded domain
// definitions are only checked for their outline: virtkit does not model domain.rng.

const ABS = { pattern: PATTERNS.absFilePath };
const UUID = { pattern: PATTERNS.uuid };
const DISK_NAME = {
  required: true,
  pattern: /^(?:(?:ioemu:)?(?:fd|hd|sd|vd|xvd|ubd)[a-zA-Z0-9_]+|(?:\/|[a-zA-Z]:\\).+)$/,
};

const SECLABEL: ElementRule = {
  attrs: { model: {}, relabel: { values: ['yes', 'no'] }, labelskip: { values: ['yes'] } },
  children: { label: { rule: TEXT, max: Infinity } },
  check: (el) => {
    const labels = childElements(el, 'label').length;
    const relabel = attr(el, 'relabel');
    const ok =
      (relabel === 'no' && labels === 0 && attr(el, 'labelskip') === undefined) ||
      (attr(el, 'labelskip') === 'yes' && relabel === undefined && labels === 0) ||
      (relabel !== 'no' && attr(el, 'labelskip') === undefined && labels > 0);
    return ok ? undefined : `element 'seclabel' needs relabel='no', labelskip='yes' or a <label>`;
  },
};

const SECRET: ElementRule = {
  attrs: { type: { required: true, values: ['passphrase'] }, uuid: UUID, usage: {} },
  check: (el) =>
    (attr(el, 'uuid') === undefined) !== (attr(el, 'usage') === undefined)
      ? undefined
      : `element 'secret' needs exactly one of 'uuid' and 'usage'`,
};

function encryption(formats: readonly string[]): ElementRule {
  return {
    attrs: { format: { required: true, values: formats }, engine: { values: ['qemu', 'librbd'] } },
    children: { secret: { rule: SECRET, min: 1 }, cipher: { rule: ANY }, ivgen: { rule: ANY } },
  };
}

const SNAPSHOT_ENCRYPTION = encryption(['default', 'qcow', 'luks', 'luks2']);
const BACKUP_ENCRYPTION = encryption(['luks']);

// ---------------------------------------------------------------------------------------------
// <domainsnapshot>

const SNAPSHOT_DRIVER: ElementRule = {
  attrs: { type: { values: BACKING_FORMATS } },
  children: {
    metadata_cache: {
      rule: {
        children: {
          max_size: {
            rule: { attrs: { unit: { pattern: PATTERNS.scaledUnit } }, text: { pattern: PATTERNS.unsigned } },
          },
        },
      },
    },
  },
};

const EMPTY: ElementRule = {};

function localSource(pathAttr: 'file' | 'dev'): ElementRule {
  return {
    attrs: {
      [pathAttr]: { ...ABS, required: pathAttr === 'dev' },
      startupPolicy:
        pathAttr === 'file' ? { values: ['mandatory', 'requisite', 'optional'] } : { values: [] },
      index: { pattern: /^[1-9][0-9]*$/ },
    },
    children: {
      seclabel: { rule: SECLABEL, max: Infinity },
      encryption: { rule: SNAPSHOT_ENCRYPTION },
      slices: { rule: ANY },
    },
  };
}

const NETWORK_PROTOCOLS = [
  'nbd',
  'gluster',
  'iscsi',
  'rbd',
  'sheepdog',
  'http',
  'https',
  'ftp',
  'ftps',
  'tftp',
  'vxhs',
  'nfs',
  'ssh',
];
const NETWORK_SOURCE: ElementRule = {
  check: (el) =>
    NETWORK_PROTOCOLS.includes(attr(el, 'protocol') ?? '') ? undefined : `invalid network source protocol`,
  otherAttrs: true,
  otherChildren: ANY,
};

function snapshotDisk(el: XmlElement): ElementRule {
  const base = { name: DISK_NAME };
  const snapshot = attr(el, 'snapshot');
  if (snapshot === 'no' || snapshot === 'internal' || snapshot === 'manual') {
    return { attrs: { ...base, snapshot: { values: [snapshot] } } };
  }
  const type = attr(el, 'type') ?? 'file';
  const attrs = {
    ...base,
    snapshot: { values: ['external'] },
    type: { values: ['file', 'block', 'network'] },
  };
  const common = { driver: { rule: SNAPSHOT_DRIVER }, snapshotDeleteInProgress: { rule: EMPTY } };
  switch (type) {
    case 'block':
      return { attrs, children: { source: { rule: localSource('dev') }, ...common } };
    case 'network':
      return { attrs, children: { source: { rule: NETWORK_SOURCE } } };
    default:
      return { attrs, children: { source: { rule: localSource('file') }, ...common } };
  }
}

const FULL_DOMAIN: ElementRule = {
  check: (el) =>
    attr(el, 'type') === undefined ? `element '${el.name}' lacks the 'type' attribute` : undefined,
  otherAttrs: true,
  otherChildren: ANY,
  text: true,
};

function snapshotDomain(el: XmlElement): ElementRule {
  if (attr(el, 'type') !== undefined) return FULL_DOMAIN;
  return { children: { uuid: { rule: { text: UUID }, min: 1 } } };
}

const DISK_LIST: ElementRule = { children: { disk: { rule: snapshotDisk, max: Infinity } } };

/** domainsnapshot.rng. @internal */
export const SNAPSHOT_SCHEMA: ElementRule = {
  children: {
    name: { rule: TEXT },
    description: { rule: TEXT },
    state: {
      rule: {
        text: { values: ['running', 'blocked', 'paused', 'shutdown', 'shutoff', 'crashed', 'disk-snapshot'] },
      },
    },
    creationTime: { rule: TEXT },
    memory: {
      rule: {
        attrs: { snapshot: { values: ['no', 'internal', 'external'] }, file: ABS },
        check: (el) => {
          const snapshot = attr(el, 'snapshot');
          const file = attr(el, 'file');
          if (snapshot === 'no' || snapshot === 'internal') {
            return file === undefined ? undefined : `attribute 'file' requires snapshot='external'`;
          }
          return file === undefined ? `element 'memory' needs 'snapshot' or 'file'` : undefined;
        },
      },
    },
    disks: { rule: DISK_LIST },
    revertDisks: { rule: DISK_LIST },
    active: { rule: { text: { values: ['0', '1'] } } },
    domain: { rule: snapshotDomain },
    inactiveDomain: { rule: FULL_DOMAIN },
    parent: { rule: { children: { name: { rule: TEXT, min: 1 } } } },
    cookie: { rule: { otherChildren: ANY } },
  },
};

// ---------------------------------------------------------------------------------------------
// <domaincheckpoint>

const CHECKPOINT_NAME = { pattern: /^[a-zA-Z0-9_-][a-zA-Z0-9_.-]*$/ };

const CHECKPOINT_DISK: ElementRule = {
  attrs: {
    name: DISK_NAME,
    checkpoint: { values: ['no', 'bitmap'] },
    bitmap: {},
    size: { pattern: PATTERNS.unsigned },
  },
  check: (el) =>
    attr(el, 'checkpoint') === 'no' && (attr(el, 'bitmap') !== undefined || attr(el, 'size') !== undefined)
      ? `checkpoint='no' does not allow 'bitmap' or 'size'`
      : undefined,
};

/** domaincheckpoint.rng. @internal */
export const CHECKPOINT_SCHEMA: ElementRule = {
  children: {
    name: { rule: { text: CHECKPOINT_NAME } },
    description: { rule: TEXT },
    creationTime: { rule: { text: { pattern: PATTERNS.unsigned } } },
    disks: { rule: { children: { disk: { rule: CHECKPOINT_DISK, min: 1, max: Infinity } } } },
    domain: { rule: FULL_DOMAIN },
    parent: { rule: { children: { name: { rule: { text: CHECKPOINT_NAME }, min: 1 } } } },
  },
};

// ---------------------------------------------------------------------------------------------
// <domainbackup>

const TARGET_DISK_NAME = { required: true, pattern: PATTERNS.diskTargetDev };

function backupStore(pathAttr: 'file' | 'dev'): ElementRule {
  return {
    attrs: { [pathAttr]: { ...ABS, required: true } },
    children: { seclabel: { rule: SECLABEL, max: Infinity }, encryption: { rule: BACKUP_ENCRYPTION } },
  };
}

function backupModeProblem(el: XmlElement): string | undefined {
  return attr(el, 'backupmode') === 'full' && attr(el, 'incremental') !== undefined
    ? `backupmode='full' does not allow 'incremental'`
    : undefined;
}

function backupDisk(pull: boolean): (el: XmlElement) => ElementRule {
  return (el) => {
    const attrs: Record<string, object> = {
      name: TARGET_DISK_NAME,
      backupmode: { values: ['full', 'incremental'] },
      incremental: {},
      ...(pull ? { exportname: {}, exportbitmap: {} } : {}),
    };
    const backup = attr(el, 'backup');
    if (backup === 'no') return { attrs: { ...attrs, backup: { values: ['no'] } }, check: backupModeProblem };
    const type = attr(el, 'type');
    const storeName = pull ? 'scratch' : 'target';
    const driver = {
      attrs: { type: { required: true, values: pull ? ['qcow2'] : [...STORAGE_FORMATS, 'luks'] } },
    };
    const typed = { ...attrs, backup: { values: ['yes'] }, type: { values: ['file', 'block'] } };
    const check = (d: XmlElement): string | undefined =>
      backupModeProblem(d) ??
      (pull && type === undefined && backup !== undefined
        ? `backup='yes' requires type='file'`
        : undefined) ??
      (!pull && type === undefined && d.children.some(isElement)
        ? `element 'disk' needs a 'type' attribute`
        : undefined) ??
      (pull && type === 'block' && child(d, 'scratch') === undefined
        ? `missing element 'scratch' in 'disk'`
        : undefined);
    const store = backupStore(type === 'block' ? 'dev' : 'file');
    return { attrs: typed, check, children: { [storeName]: { rule: store }, driver: { rule: driver } } };
  };
}

function backupServer(el: XmlElement): ElementRule {
  const tls = { values: ['yes', 'no'] };
  switch (attr(el, 'transport')) {
    case 'unix':
      return { attrs: { tls, transport: {}, socket: { ...ABS, required: true } } };
    case 'fd':
      return { attrs: { tls, transport: {}, fdgroup: { required: true } } };
    case undefined:
    case 'tcp':
      return {
        attrs: {
          tls,
          transport: {},
          name: { required: true, pattern: PATTERNS.hostName },
          port: { pattern: PATTERNS.unsigned },
        },
      };
    default:
      return { attrs: { transport: { values: ['tcp', 'unix', 'fd'] } } };
  }
}

/** domainbackup.rng (as of libvirt 11, with `transport='fd'`). @internal */
export function backupSchema(root: XmlElement): ElementRule {
  const pull = attr(root, 'mode') === 'pull';
  const disks = { rule: { children: { disk: { rule: backupDisk(pull), min: 1, max: Infinity } } } };
  return {
    attrs: { mode: { values: ['push', 'pull'] } },
    children: pull
      ? { incremental: { rule: TEXT }, server: { rule: backupServer, min: 1 }, disks }
      : { incremental: { rule: TEXT }, disks },
  };
}
