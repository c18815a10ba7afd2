import { open } from 'node:fs/promises';
import { VirtError } from 'virtkit';

/**
 * Whether KVM can be used on this host, as {@link probeKvm} found it.
 *
 * @internal
 */
export type KvmStatus = { readonly usable: true } | { readonly usable: false; readonly reason: string };

/**
 * Opens the KVM device read-write (what QEMU does) and closes it again. A device that opens
 * can still be unusable for a real guest (a nested software hypervisor such as kvm-pvm runs
 * QMP but kills Linux guests), which is why the accelerator follows the domain type and never
 * falls back.
 *
 * @internal
 */
export async function probeKvm(device = '/dev/kvm'): Promise<KvmStatus> {
  try {
    const handle = await open(device, 'r+');
    await handle.close();
    return { usable: true };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return { usable: false, reason: `${device}: ${code}` };
  }
}

/**
 * The accelerator of a domain type, as libvirt chooses it: `kvm` → KVM, `qemu` → TCG, and
 * never `-accel kvm -accel tcg` (which would hide a missing KVM behind a slow guest).
 *
 * @throws `CONFIG_UNSUPPORTED` for a `kvm` domain when KVM is missing or unusable.
 * @internal
 */
export function acceleratorFor(type: 'qemu' | 'kvm', kvm: KvmStatus | undefined): 'kvm' | 'tcg' {
  if (type === 'qemu') return 'tcg';
  if (kvm?.usable === true) return 'kvm';
  const why = kvm === undefined ? 'not probed' : kvm.reason;
  throw new VirtError(
    'CONFIG_UNSUPPORTED',
    `domain requires KVM, but it is not available (${why}): check that virtualization is enabled and the kvm modules are loaded, or use <domain type='qemu'> for TCG`,
  );
}
