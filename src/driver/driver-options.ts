// The driverOptions of each URI scheme, so that connect() type-checks them: the built-in
// drivers' option types live here (their drivers re-export them), third-party drivers add
// theirs by augmenting DriverOptionsByScheme.

/**
 * `driverOptions` of the built-in `test` driver (`test:///default`, `test:///path/node.xml`).
 *
 * @public
 */
export interface TestDriverOptions {
  /**
   * Simulated duration of a push backup, measured on the connection clock.
   *
   * @defaultValue 100
   */
  readonly backupDurationMs?: number;
}

/**
 * `driverOptions` of the built-in `qemu` driver (`qemu:///embed?root=DIR`, `qemu:///session`).
 *
 * @public
 */
export interface QemuDriverOptions {
  /** Path of the qemu-img binary. @defaultValue `'qemu-img'` from PATH */
  readonly qemuImg?: string;
  /** Path of the QEMU system emulator that runs domains. @defaultValue `'qemu-system-x86_64'` from PATH */
  readonly qemuSystem?: string;
  /** How long an operation waits for another process holding the domain. @defaultValue 30000 */
  readonly lockTimeoutMs?: number;
  /**
   * Test and benchmark only: runs a qemu-img argv instead of `execFile` (resolves with its
   * output, rejects when it fails). `options.onStdout`, when given, wants stdout as it arrives
   * (the progress of `qemu-img commit -p`).
   */
  readonly runner?: (
    file: string,
    args: readonly string[],
    options?: { readonly onStdout?: (chunk: string) => void },
  ) => Promise<{ stdout: string; stderr: string }>;
}

/**
 * The `driverOptions` type of every known URI scheme, used by {@link connect} to check the
 * options of a literal URI at compile time. A third-party driver adds its scheme by module
 * augmentation:
 *
 * @example
 * ```ts
 * declare module 'virtkit' {
 *   interface DriverOptionsByScheme {
 *     mine: { readonly endpoint?: string };
 *   }
 * }
 * ```
 *
 * @public
 */
export interface DriverOptionsByScheme {
  /** The built-in test driver. */
  test: TestDriverOptions;
  /** The built-in qemu driver. */
  qemu: QemuDriverOptions;
}

/**
 * The driver part of a URI's scheme: `qemu` for `qemu:///session` and `qemu+unix:///system`;
 * `never` when `U` is not a literal URI.
 *
 * @public
 */
export type UriScheme<U extends string> = U extends `${infer S}:${string}`
  ? S extends `${infer Base}+${string}`
    ? Base
    : S
  : never;

/**
 * The `driverOptions` type for URI `U`: the scheme's entry of {@link DriverOptionsByScheme},
 * or `Record<string, unknown>` for a scheme it does not list or a URI that is a plain `string`.
 *
 * @public
 */
export type DriverOptionsFor<U extends string> = [UriScheme<U>] extends [never]
  ? Record<string, unknown>
  : UriScheme<U> extends keyof DriverOptionsByScheme
    ? DriverOptionsByScheme[UriScheme<U>]
    : Record<string, unknown>;
