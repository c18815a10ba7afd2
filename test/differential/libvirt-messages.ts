import type { ErrorCode } from 'virtkit';

// libvirt formats every error message as virErrorMsg(code)'s template around the driver's own
// text: "<prefix>: <text>" for most codes (src/util/virerror.c, libvirt 9.0). virtkit's messages
// are libvirt's text without that prefix (docs/libvirt-differences.md, D20-error-messages), so
// the comparer removes it from libvirt's message before comparing. Only these "<prefix>: "
// forms are removed; codes whose template is not "<prefix>: %s" (XML_DETAIL and SYSTEM_ERROR
// are the bare text, others like NO_CONNECT's "no connection driver available for %s" wrap it
// differently) are compared as they are.

/** The prefix libvirt puts before the text of an error with each code virtkit can raise. */
export const LIBVIRT_MESSAGE_PREFIXES: Readonly<Record<ErrorCode, string | null>> = {
  INTERNAL_ERROR: 'internal error: ',
  NO_SUPPORT: 'this function is not supported by the connection driver: ',
  NO_CONNECT: null,
  INVALID_CONN: null,
  INVALID_DOMAIN: null,
  INVALID_ARG: 'invalid argument: ',
  OPERATION_FAILED: 'operation failed: ',
  XML_ERROR: 'XML error: ',
  DOM_EXIST: null,
  OPERATION_DENIED: 'operation forbidden: ',
  OPEN_FAILED: null,
  READ_FAILED: null,
  WRITE_FAILED: 'failed to write configuration file: ',
  XML_DETAIL: null,
  SYSTEM_ERROR: null,
  NO_DOMAIN: 'Domain not found: ',
  OPERATION_INVALID: 'Requested operation is not valid: ',
  CONFIG_UNSUPPORTED: 'unsupported configuration: ',
  OPERATION_TIMEOUT: 'Timed out during operation: ',
  INVALID_DOMAIN_SNAPSHOT: 'Invalid domain snapshot: ',
  NO_DOMAIN_SNAPSHOT: 'Domain snapshot not found: ',
  ARGUMENT_UNSUPPORTED: 'argument unsupported: ',
  SNAPSHOT_REVERT_RISKY: 'revert requires force: ',
  OPERATION_ABORTED: 'operation aborted: ',
  OPERATION_UNSUPPORTED: 'Operation not supported: ',
  RESOURCE_BUSY: 'resource busy: ',
  XML_INVALID_SCHEMA: 'XML document failed to validate against schema: ',
  INVALID_DOMAIN_CHECKPOINT: 'Invalid domain checkpoint: ',
  NO_DOMAIN_CHECKPOINT: 'Domain checkpoint not found: ',
  NO_DOMAIN_BACKUP: 'Domain backup job id not found: ',
  CHECKPOINT_INCONSISTENT: 'checkpoint inconsistent: ',
};

/** libvirt's message of an error with `code`, without the prefix libvirt derives from the code. */
export function withoutLibvirtPrefix(code: string, message: string): string {
  const prefix = (LIBVIRT_MESSAGE_PREFIXES as Readonly<Record<string, string | null>>)[code] ?? null;
  return prefix !== null && message.startsWith(prefix) ? message.slice(prefix.length) : message;
}
