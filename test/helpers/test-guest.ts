// The tiny real Linux test guest of ../shared/docs/test-guest.md: Debian's cloud kernel,
// busybox-static and qemu-guest-agent, fetched with `apt-get download` and unpacked with
// `dpkg-deb` into a private directory (nothing is installed on the host), plus an initramfs
// built here. The result is cached per package versions, so only the first run pays (~2 s).
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REQUIRE_QEMU } from './binaries.js';
import { cpioNewc, type CpioEntry } from './cpio.js';

/** A built guest: boot it with `-kernel kernel -initrd initrd -append 'console=ttyS0 quiet'`. */
export interface TestGuest {
  /** The cloud kernel image (`vmlinuz-<release>`). */
  readonly kernel: string;
  /** The uncompressed newc initramfs (PID 1 = `/init` below, qemu-ga on the virtio port). */
  readonly initrd: string;
  /** `uname -r` of the kernel, e.g. `6.1.0-57-cloud-amd64`. */
  readonly kernelRelease: string;
  /** Debian package → version the guest was built from (the cache key). */
  readonly packages: Readonly<Record<string, string>>;
  /** The cache directory holding kernel and initrd. */
  readonly dir: string;
  /** Whether this call found the guest already built. */
  readonly cached: boolean;
  /** Time this call took: resolving versions, and on a miss fetching and building. */
  readonly prepareMs: number;
}

/** The host cannot provide the guest (no apt, packages not fetchable): a skip, or a CI failure. */
export class TestGuestUnavailableError extends Error {
  override readonly name = 'TestGuestUnavailableError';
}

/** The modules `/init` loads, in dependency order (each module's `depends=`). */
export const GUEST_MODULES = [
  'virtio_ring',
  'virtio',
  'virtio_pci_modern_dev',
  'virtio_pci_legacy_dev',
  'virtio_pci',
  'virtio_blk',
  'virtio_console',
  'button',
  'evdev',
] as const;

const KERNEL_META = 'linux-image-cloud-amd64';
const OTHER_PACKAGES = ['busybox-static', 'qemu-guest-agent'] as const;

/**
 * PID 1. The rootfs stays the initramfs in RAM; each `/dev/vdX` holding ext4 is mounted on
 * `/mnt/vdX`, others stay raw. `virtkit.writer=vdX` on the kernel command line starts a small
 * workload: a 64 KiB random block written (fsync) every 0.1 s, cycling over the first 4 MiB of
 * `/dev/vdX`, or of the file `/mnt/vdX/writer` when the disk is mounted.
 */
const INIT = `#!/bin/busybox sh
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=755 tmpfs /run
echo "T init-start $(cut -d' ' -f1 /proc/uptime)"

for m in ${GUEST_MODULES.join(' ')}; do
  insmod /lib/modules/$m.ko || echo "insmod $m failed"
done

# No udev: make the /dev/virtio-ports/<name> links qemu-ga expects.
mkdir -p /dev/virtio-ports
i=0
while [ $i -lt 100 ]; do            # port names arrive asynchronously after insmod
  for p in /sys/class/virtio-ports/*; do
    n=$(cat "$p/name" 2>/dev/null); [ -n "$n" ] && ln -sf ../\${p##*/} "/dev/virtio-ports/$n"
  done
  [ -e /dev/virtio-ports/org.qemu.guest_agent.0 ] && break
  sleep 0.02; i=$((i+1))
done

# Graceful shutdown: ACPI power button (QMP system_powerdown) -> /etc/acpi/PWRF/00000080;
# guest-shutdown -> qemu-ga runs /sbin/shutdown -P|-H|-r +0 "msg".
acpid -c /etc/acpi -l /run/acpid.log

# Data disks: each /dev/vdX holding ext4 is mounted on /mnt/vdX; others stay raw.
for b in /sys/block/vd*; do
  [ -e "$b" ] || continue
  d=\${b##*/}; mkdir -p /mnt/$d
  if mount -t ext4 -o noatime /dev/$d /mnt/$d 2>/dev/null; then echo "disk $d ext4 /mnt/$d"
  else rmdir /mnt/$d; echo "disk $d raw"; fi
done

for a in $(cat /proc/cmdline); do
  case "$a" in virtkit.writer=*) w=\${a#virtkit.writer=};; esac
done
if [ -n "$w" ]; then
  if [ -d /mnt/$w ]; then of=/mnt/$w/writer; else of=/dev/$w; fi
  setsid sh -c "i=0; while :; do dd if=/dev/urandom of=$of bs=64k count=1 seek=\\$((i % 64)) conv=notrunc,fsync 2>/dev/null; i=\\$((i+1)); sleep 0.1; done" </dev/null >/dev/null 2>&1 &
  echo "writer $of"
fi

qemu-ga -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0 -t /run -l /run/qga.log &
echo "T qga-started $(cut -d' ' -f1 /proc/uptime)"
echo GUEST-READY
while :; do wait; sleep 1; done      # PID 1 must never exit
`;

/** busybox has no `shutdown`; `poweroff` without `-f` only signals an init that is not there. */
const SHUTDOWN = `#!/bin/sh
act=poweroff
for a in "$@"; do case "$a" in -r) act=reboot;; -H) act=halt;; -P) act=poweroff;; esac; done
( sleep 0.2; sync; for m in /mnt/*; do umount "$m" 2>/dev/null; done; $act -f ) &
exit 0
`;

/** busybox acpid runs this file on the power-button event. */
const ACPI_POWER = `#!/bin/sh
exec /sbin/shutdown -P +0
`;

/** Bump when the recipe changes in a way the scripts above do not show. */
const RECIPE_VERSION = 1;

/** Where built guests are kept: `node_modules/.cache/virtkit-test-guest/` of this checkout. */
export function testGuestCacheRoot(): string {
  const override = process.env.VIRTKIT_TEST_GUEST_CACHE;
  if (override !== undefined && override !== '') return override;
  return fileURLToPath(new URL('../../node_modules/.cache/virtkit-test-guest/', import.meta.url));
}

let pending: Promise<TestGuest> | undefined;

/**
 * The test guest, fetched and built on first use and cached under {@link testGuestCacheRoot}
 * keyed by the package versions apt would download (a security update of the kernel builds a new
 * one). Safe to call from concurrent processes: each builds into its own temporary directory
 * and renames it into place; the loser of a race uses the winner's.
 *
 * @throws {@link TestGuestUnavailableError} when apt/dpkg are missing or the packages cannot be
 * resolved or downloaded; any other error is a bug in the recipe.
 */
export function ensureTestGuest(): Promise<TestGuest> {
  pending ??= prepare().catch((err: unknown) => {
    pending = undefined;
    throw err;
  });
  return pending;
}

/**
 * {@link ensureTestGuest} with the convention of `findBinary`: unavailable → `undefined` and a
 * printed reason, or a thrown error when REQUIRE_QEMU=1 / CI=true (a skip never passes in CI).
 */
export async function findTestGuest(): Promise<TestGuest | undefined> {
  try {
    return await ensureTestGuest();
  } catch (err) {
    if (!(err instanceof TestGuestUnavailableError)) throw err;
    if (REQUIRE_QEMU) {
      throw new Error(
        `test guest unavailable: ${err.message}; REQUIRE_QEMU=1 or CI=true makes this a failure`,
      );
    }
    console.warn(`skipping: test guest unavailable: ${err.message}`);
    return undefined;
  }
}

async function prepare(): Promise<TestGuest> {
  const t0 = performance.now();
  const root = testGuestCacheRoot();
  const packages = await resolvePackagesCached(root);
  const kernelPackage = Object.keys(packages)[0]!;
  const kernelRelease = kernelPackage.slice('linux-image-'.length);
  const key = createHash('sha256')
    .update(JSON.stringify({ packages, RECIPE_VERSION, INIT, SHUTDOWN, ACPI_POWER, GUEST_MODULES }))
    .digest('hex')
    .slice(0, 16);
  const dir = join(root, `${kernelRelease}-${key}`);
  const result = (cached: boolean): TestGuest => ({
    kernel: join(dir, `vmlinuz-${kernelRelease}`),
    initrd: join(dir, 'initrd.cpio'),
    kernelRelease,
    packages,
    dir,
    cached,
    prepareMs: performance.now() - t0,
  });
  if (await exists(join(dir, 'manifest.json'))) return result(true);

  await removeStaleBuilds(root);
  const work = await mkdtemp(join(root, '.build-'));
  try {
    const out = join(work, 'out');
    await mkdir(out, { mode: 0o700 });
    await fetchAndUnpack(work, packages, kernelRelease);
    const unpacked = join(work, 'root');
    const kernel = await readFile(join(unpacked, 'boot', `vmlinuz-${kernelRelease}`));
    await writeFile(join(out, `vmlinuz-${kernelRelease}`), kernel, { mode: 0o644 });
    await writeFile(join(out, 'initrd.cpio'), await buildInitramfs(unpacked, kernelRelease), { mode: 0o644 });
    const manifest = { packages, kernelRelease, builtAt: new Date().toISOString() };
    await writeFile(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    try {
      await rename(out, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Another process renamed a complete build into place first: use it.
      if ((code !== 'EEXIST' && code !== 'ENOTEMPTY') || !(await exists(join(dir, 'manifest.json'))))
        throw err;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return result(false);
}

/**
 * {@link resolvePackages} costs ~1.7 s (this apt keeps no pkgcache.bin, so each apt-cache call
 * rebuilds it): its answer is kept in `resolved.json` until apt's package lists, preferences or
 * dpkg's status change.
 */
async function resolvePackagesCached(root: string): Promise<Record<string, string>> {
  const stamp = await aptStamp();
  const file = join(root, 'resolved.json');
  try {
    const saved = JSON.parse(await readFile(file, 'utf8')) as {
      stamp: string;
      packages: Record<string, string>;
    };
    if (saved.stamp === stamp) return saved.packages;
  } catch {
    // none yet, or unreadable: resolve again
  }
  const packages = await resolvePackages();
  await mkdir(root, { recursive: true, mode: 0o700 });
  await chmod(root, 0o700);
  const tmp = join(root, `.resolved-${process.pid}-${Math.random().toString(36).slice(2)}`);
  await writeFile(tmp, JSON.stringify({ stamp, packages }));
  await rename(tmp, file);
  return packages;
}

/** Sizes and mtimes of what decides apt's candidates. */
async function aptStamp(): Promise<string> {
  const parts: string[] = [];
  const dirs = ['/var/lib/apt/lists', '/etc/apt', '/etc/apt/preferences.d', '/etc/apt/sources.list.d'];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const st = await stat(join(dir, name)).catch(() => undefined);
      if (st?.isFile() === true) parts.push(`${dir}/${name}:${st.size}:${st.mtimeMs}`);
    }
  }
  const status = await stat('/var/lib/dpkg/status').catch(() => undefined);
  parts.push(`status:${status?.size}:${status?.mtimeMs}`);
  return createHash('sha256').update(parts.join('\n')).digest('hex');
}

/** Leftovers of builds that were killed (a live build is minutes old at most). */
async function removeStaleBuilds(root: string): Promise<void> {
  for (const name of await readdir(root)) {
    if (!name.startsWith('.build-')) continue;
    const st = await stat(join(root, name)).catch(() => undefined);
    if (st !== undefined && Date.now() - st.mtimeMs > 3_600_000) {
      await rm(join(root, name), { recursive: true, force: true });
    }
  }
}

/** The kernel ABI package (through the meta package, never a hard-coded ABI) and the others, with the versions apt would fetch. */
async function resolvePackages(): Promise<Record<string, string>> {
  // Two apt-cache calls in parallel (each ~0.8 s).
  const otherPolicy = tool('apt-cache', ['policy', ...OTHER_PACKAGES]);
  otherPolicy.catch(() => undefined);
  const depends = await tool('apt-cache', ['depends', KERNEL_META]);
  const kernelPackage = /Depends: (linux-image-[0-9][^\s]*)/.exec(depends)?.[1];
  if (kernelPackage === undefined) {
    throw new TestGuestUnavailableError(
      `apt-cache depends ${KERNEL_META} names no linux-image-<abi> package (is this Debian with its archive in sources.list? run apt-get update)`,
    );
  }
  const names = [kernelPackage, ...OTHER_PACKAGES];
  const policy = `${await tool('apt-cache', ['policy', kernelPackage])}${await otherPolicy}`;
  const versions: Record<string, string> = {};
  for (const block of policy.split(/^(?=\S)/m)) {
    const name = /^(\S+):/.exec(block)?.[1];
    const candidate = /^\s+Candidate: (\S+)/m.exec(block)?.[1];
    if (name !== undefined && candidate !== undefined && candidate !== '(none)') versions[name] = candidate;
  }
  const missing = names.filter((n) => versions[n] === undefined);
  if (missing.length > 0) {
    throw new TestGuestUnavailableError(
      `apt has no candidate for ${missing.join(', ')} (run apt-get update)`,
    );
  }
  return Object.fromEntries(names.map((n) => [n, versions[n]!]));
}

async function fetchAndUnpack(
  work: string,
  packages: Record<string, string>,
  kernelRelease: string,
): Promise<void> {
  const debs = join(work, 'debs');
  const root = join(work, 'root');
  await mkdir(debs, { mode: 0o700 });
  await mkdir(root, { mode: 0o755 });
  const specs = Object.entries(packages).map(([name, version]) => `${name}=${version}`);
  // As root into a directory _apt cannot write, apt prints a harmless "unsandboxed" warning.
  await tool('apt-get', ['download', '-qq', ...specs], { cwd: debs });
  const files = await readdir(debs);
  const deb = (name: string): string => {
    const file = files.find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
    if (file === undefined) throw new TestGuestUnavailableError(`apt-get download left no ${name}_*.deb`);
    return join(debs, file);
  };
  const [kernelPackage] = Object.keys(packages);
  const mods = `./lib/modules/${kernelRelease}/kernel/drivers`;
  await extractFromDeb(deb(kernelPackage!), root, [
    `./boot/vmlinuz-${kernelRelease}`,
    `./boot/config-${kernelRelease}`,
    `${mods}/virtio/*`,
    `${mods}/block/virtio_blk.ko`,
    `${mods}/char/virtio_console.ko`,
    `${mods}/acpi/button.ko`,
    `${mods}/input/evdev.ko`,
  ]);
  for (const name of OTHER_PACKAGES) await tool('dpkg-deb', ['-x', deb(name), root]);
}

/** `dpkg-deb --fsys-tarfile DEB | tar -x -C DIR --wildcards PATTERN…`, the pipe made in Node. */
async function extractFromDeb(deb: string, dir: string, patterns: readonly string[]): Promise<void> {
  const dpkg = spawn('dpkg-deb', ['--fsys-tarfile', deb], { stdio: ['ignore', 'pipe', 'pipe'] });
  const tar = spawn('tar', ['-x', '-C', dir, '--wildcards', ...patterns], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  // Errors of the pipe itself show as the exit status of either side.
  tar.stdin.on('error', () => undefined);
  dpkg.stdout.on('error', () => undefined);
  dpkg.stdout.pipe(tar.stdin);
  const done = (child: typeof dpkg | typeof tar, what: string): Promise<void> => {
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    return new Promise((resolve, reject) => {
      child.once('error', (err) => reject(unavailableIfMissing(err, what)));
      child.once('close', (code, signal) =>
        code === 0 ? resolve() : reject(new Error(`${what} failed (${code ?? signal}): ${stderr.trim()}`)),
      );
    });
  };
  await Promise.all([done(dpkg, `dpkg-deb --fsys-tarfile ${deb}`), done(tar, `tar -x -C ${dir}`)]);
}

/** The initramfs of test-guest.md §3, written by {@link cpioNewc} (no staging tree, no cpio binary). */
async function buildInitramfs(root: string, kernelRelease: string): Promise<Buffer> {
  const qga = join(root, 'usr', 'sbin', 'qemu-ga');
  const entries: CpioEntry[] = [
    ...['bin', 'sbin', 'dev', 'proc', 'sys', 'run', 'mnt', 'root', 'etc/acpi/PWRF', 'usr/sbin'].map(
      (path) => ({ type: 'dir' as const, path }),
    ),
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'file', path: 'init', data: INIT, mode: 0o755 },
    { type: 'file', path: 'sbin/shutdown', data: SHUTDOWN, mode: 0o755 },
    { type: 'file', path: 'etc/acpi/PWRF/00000080', data: ACPI_POWER, mode: 0o755 },
    { type: 'file', path: 'etc/os-release', data: 'NAME="test guest"\n' }, // for guest-get-osinfo
    { type: 'file', path: 'bin/busybox', data: await readFile(join(root, 'bin', 'busybox')), mode: 0o755 },
    { type: 'file', path: 'usr/sbin/qemu-ga', data: await readFile(qga), mode: 0o755 },
  ];
  // qemu-ga is dynamic: add what ldd resolves on the host (libraries of qemu-system-x86's
  // dependencies) plus the loader, as regular files at the paths ldd prints.
  const ldd = await tool('ldd', [qga]);
  if (ldd.includes('not found')) {
    throw new TestGuestUnavailableError(
      `qemu-ga needs host libraries that are missing (apt-get install libglib2.0-0 libnuma1 liburing2):\n${ldd}`,
    );
  }
  for (const line of ldd.split('\n')) {
    const lib = /=> (\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+) \(/.exec(line)?.[1];
    if (lib !== undefined) entries.push({ type: 'file', path: lib, data: await readFile(lib), mode: 0o755 });
  }
  const kernelDir = join(root, 'lib', 'modules', kernelRelease, 'kernel');
  const modules = await findFiles(kernelDir);
  for (const m of GUEST_MODULES) {
    const file = modules.find((f) => f.endsWith(`/${m}.ko`));
    if (file === undefined) throw new Error(`module ${m}.ko not found under ${kernelDir}`);
    entries.push({ type: 'file', path: `lib/modules/${m}.ko`, data: await readFile(file) });
  }
  return cpioNewc(entries);
}

async function findFiles(dir: string): Promise<string[]> {
  const found = await readdir(dir, { recursive: true, withFileTypes: true });
  return found.filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name));
}

/** Runs a host tool (argv, no shell) and returns its stdout; a missing tool or apt failure is "unavailable". */
function tool(file: string, args: readonly string[], options: { cwd?: string } = {}): Promise<string> {
  const env = { ...process.env, LC_ALL: 'C' };
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      { cwd: options.cwd, env, maxBuffer: 16 * 1024 * 1024, timeout: 300_000 },
      (err, stdout, stderr) => {
        if (err === null) return resolve(stdout);
        const what = `${file} ${args.join(' ')}`;
        const errno = (err as NodeJS.ErrnoException).code;
        if (typeof errno === 'string') return reject(unavailableIfMissing(err, what));
        const message = `${what} failed (${err.code ?? err.signal}): ${stderr.trim()}`;
        // apt failing (no network, package gone from the mirror) is the host's state, not a bug.
        reject(file.startsWith('apt-') ? new TestGuestUnavailableError(message) : new Error(message));
      },
    );
  });
}

function unavailableIfMissing(err: Error, what: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT')
    return new TestGuestUnavailableError(`${what}: ${err.message} (needs Debian's apt and dpkg)`);
  return err;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A disk of the test guest: a file attached as a virtio disk. */
export interface TestGuestDisk {
  /** `vda`, `vdb`, …: the guest sees `/dev/<target>` (ext4 ones mounted on `/mnt/<target>`). */
  readonly target: string;
  readonly path: string;
  /** @defaultValue `'qcow2'` */
  readonly format?: 'qcow2' | 'raw';
}

export interface TestGuestXmlOptions {
  readonly name: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly disks?: readonly TestGuestDisk[];
  /**
   * The `org.qemu.guest_agent.0` channel. The qemu driver keeps its socket in the run directory
   * (`<runDir>/qga.sock`, see {@link testGuestAgentSocket}); a `<source path>` is refused.
   * @defaultValue true
   */
  readonly agent?: boolean;
  /** A file receiving the serial console (kernel messages, `/init` output); none: `type='null'`. */
  readonly serialLog?: string;
  /** @defaultValue 128 (96 is the least that boots; 64 reboot-loops silently) */
  readonly memoryMiB?: number;
  /** Start the small guest workload on this disk (`virtkit.writer=<target>`). */
  readonly writer?: string;
  /** Appended to `console=ttyS0 quiet`. */
  readonly cmdline?: string;
}

/** Where the qemu driver puts the agent socket of a domain whose run directory is `runDir`. */
export function testGuestAgentSocket(runDir: string): string {
  return join(runDir, 'qga.sock');
}

/**
 * Libvirt domain XML for the test guest under TCG (`type='qemu'`, q35): direct kernel boot,
 * ACPI (so `system_powerdown` reaches acpid), a serial console, virtio disks and the guest
 * agent channel — all within what `parseQemuDomain` accepts.
 */
export function testGuestDomainXml(options: TestGuestXmlOptions): string {
  const cmdline = ['console=ttyS0', 'quiet'];
  if (options.writer !== undefined) cmdline.push(`virtkit.writer=${options.writer}`);
  if (options.cmdline !== undefined) cmdline.push(options.cmdline);
  const serial =
    options.serialLog === undefined
      ? [`    <serial type='null'><target port='0'/></serial>`]
      : [
          `    <serial type='file'><source path='${esc(options.serialLog)}'/><target port='0'/></serial>`,
          `    <console type='file'><source path='${esc(options.serialLog)}'/><target type='serial' port='0'/></console>`,
        ];
  const disks = (options.disks ?? []).map(
    (d) =>
      `    <disk type='file' device='disk'><driver name='qemu' type='${d.format ?? 'qcow2'}'/>` +
      `<source file='${esc(d.path)}'/><target dev='${esc(d.target)}' bus='virtio'/></disk>`,
  );
  const agent =
    options.agent === false
      ? []
      : [`    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>`];
  return [
    `<domain type='qemu'>`,
    `  <name>${esc(options.name)}</name>`,
    `  <memory unit='MiB'>${options.memoryMiB ?? 128}</memory>`,
    `  <vcpu>1</vcpu>`,
    `  <os>`,
    `    <type arch='x86_64' machine='q35'>hvm</type>`,
    `    <kernel>${esc(options.kernel)}</kernel>`,
    `    <initrd>${esc(options.initrd)}</initrd>`,
    `    <cmdline>${esc(cmdline.join(' '))}</cmdline>`,
    `  </os>`,
    `  <features><acpi/></features>`,
    `  <on_poweroff>destroy</on_poweroff>`,
    `  <on_reboot>restart</on_reboot>`,
    `  <on_crash>destroy</on_crash>`,
    `  <devices>`,
    ...disks,
    ...serial,
    ...agent,
    `    <memballoon model='none'/>`,
    `  </devices>`,
    `</domain>`,
    '',
  ].join('\n');
}

function esc(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
