import { VirtError } from '../errors.js';

/**
 * A libvirt-style connection URI, `driver[+transport]://[user@][host][:port]/path[?query]`.
 *
 * @public
 */
export interface ParsedUri {
  /** The URI as given. */
  readonly uri: string;
  /** Driver part of the scheme: `qemu` in `qemu+ssh://…`. */
  readonly scheme: string;
  /** Transport part of the scheme: `ssh` in `qemu+ssh://…`. */
  readonly transport: string | undefined;
  /** User name before `@`, percent-decoded; `undefined` when the URI has none. */
  readonly user: string | undefined;
  /** Host name; `undefined` for local URIs such as `test:///default`. */
  readonly host: string | undefined;
  /** Port after the host; `undefined` when the URI has none (the transport's default applies). */
  readonly port: number | undefined;
  /** Decoded path, e.g. `/default`, `/system`, `/embed`, `/abs/path/node.xml`. */
  readonly path: string;
  /** Decoded query parameters; the last value wins for repeated names. */
  readonly query: Readonly<Record<string, string>>;
}

const SCHEME = /^([a-z][a-z0-9.-]*)(?:\+([a-z][a-z0-9.-]*))?:\/\//i;

/**
 * Parses a libvirt-style connection URI.
 *
 * @throws `INVALID_ARG` when `uri` is not a string or not a URI of that form.
 *
 * @public
 */
export function parseUri(uri: string): ParsedUri {
  if (typeof uri !== 'string' || uri.length === 0) {
    throw new VirtError('INVALID_ARG', 'uri must be a non-empty string');
  }
  const m = SCHEME.exec(uri);
  if (!m?.[1]) throw badUri(uri);
  let url: URL;
  try {
    url = new URL(uri);
  } catch (cause) {
    throw badUri(uri, cause);
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  return {
    uri,
    scheme: m[1].toLowerCase(),
    transport: m[2]?.toLowerCase(),
    user: url.username === '' ? undefined : decodeURIComponent(url.username),
    host: url.hostname === '' ? undefined : url.hostname,
    port: url.port === '' ? undefined : Number(url.port),
    path: decodePath(url.pathname, uri),
    query,
  };
}

function decodePath(pathname: string, uri: string): string {
  try {
    return decodeURIComponent(pathname);
  } catch (cause) {
    throw badUri(uri, cause);
  }
}

function badUri(uri: string, cause?: unknown): VirtError {
  return new VirtError('INVALID_ARG', `unable to parse URI '${uri}'`, { cause });
}
