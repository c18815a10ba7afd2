import {
  assertOptions,
  KNOWN_OPTIONS,
  VirtError,
  type DomainDestroyOptions,
  type DomainIdentity,
  type DomainShutdownOptions,
  type DomainStartOptions,
} from 'virtkit';
import { abortJobForStop } from './backup-job.js';
import { bootDomain } from './domain-define.js';
import { lifecycleAction } from './domain-element.js';
import { isActive, type TestDomain, type TestWorld } from './state.js';

// libvirt's test driver reports these state errors as INTERNAL_ERROR ("domain 'X' not running");
// virtkit uses the qemu driver's OPERATION_INVALID so applications see one code on every driver
// (docs/libvirt-differences.md, D13-lifecycle-error-codes).

/**
 * `virDomainCreateWithFlags`: boots an inactive domain.
 *
 * @throws `OPERATION_INVALID` "domain is already running".
 * @internal
 */
export function startDomain(world: TestWorld, domain: DomainIdentity, options: DomainStartOptions): void {
  assertOptions(options, ['paused'], 'start');
  const dom = world.require(domain);
  if (isActive(dom)) throw new VirtError('OPERATION_INVALID', 'domain is already running');
  bootDomain(world, dom, options.paused === true);
}

/**
 * `virDomainShutdown`: the guest powers off and `<on_poweroff>` decides what follows
 * (`destroy` and `preserve` stop it, `restart` keeps it running). The test driver's guest
 * acts at once, so `waitMs` needs no waiting: the domain is shut off now, or it never will be
 * by itself (restart, or a backup holding it paused) and the wait fails at once.
 *
 * @throws `OPERATION_INVALID` "domain is not running", `OPERATION_TIMEOUT` with `waitMs`
 * when the domain stays active.
 * @internal
 */
export function shutdownDomain(
  world: TestWorld,
  domain: DomainIdentity,
  options: DomainShutdownOptions = {},
): void {
  assertOptions(options, KNOWN_OPTIONS.shutdownDomain, 'shutdown');
  const dom = world.require(domain);
  if (!isActive(dom)) throw new VirtError('OPERATION_INVALID', 'domain is not running');
  powerOff(world, dom);
  if (options.waitMs !== undefined && isActive(dom)) throw shutdownTimeout(dom.def.name, options.waitMs);
}

/** `OPERATION_TIMEOUT` of `shutdown` with `waitMs` (the qemu driver's wording). */
function shutdownTimeout(name: string, waitMs: number): VirtError {
  return new VirtError(
    'OPERATION_TIMEOUT',
    `domain '${name}' did not shut down within ${waitMs} ms (the guest ignored the ACPI power button?)`,
  );
}

function powerOff(world: TestWorld, dom: TestDomain): void {
  const action = lifecycleAction(dom.def, 'on_poweroff');
  if (action === 'restart' || action === 'rename-restart') {
    dom.state = 'running';
    dom.reason = 'BOOTED';
    return;
  }
  if (dom.backup?.preserveShutdownDomain === true) {
    dom.state = 'paused';
    dom.reason = 'SHUTTING_DOWN';
    world.emit(dom, 'SUSPENDED', 'GUEST_SHUTDOWN');
    return;
  }
  stopDomain(world, dom, 'SHUTDOWN');
}

/**
 * `virDomainDestroyFlags`: stops the domain at once.
 *
 * @throws `OPERATION_INVALID` "domain is not running".
 * @internal
 */
export function destroyDomain(world: TestWorld, domain: DomainIdentity, options: DomainDestroyOptions): void {
  assertOptions(options, KNOWN_OPTIONS.destroyDomain, 'destroy');
  const dom = world.require(domain);
  if (!isActive(dom)) throw new VirtError('OPERATION_INVALID', 'domain is not running');
  stopDomain(world, dom, 'DESTROYED');
}

/**
 * `virDomainSuspend`.
 *
 * @throws `OPERATION_INVALID` "domain is not running" when shut off or already paused.
 * @internal
 */
export function suspendDomain(world: TestWorld, domain: DomainIdentity): void {
  const dom = world.require(domain);
  if (!isActive(dom) || dom.state === 'paused') {
    throw new VirtError('OPERATION_INVALID', 'domain is not running');
  }
  dom.state = 'paused';
  dom.reason = 'USER';
  world.emit(dom, 'SUSPENDED', 'PAUSED');
}

/**
 * `virDomainResume`.
 *
 * @throws `OPERATION_INVALID` "domain is not paused".
 * @internal
 */
export function resumeDomain(world: TestWorld, domain: DomainIdentity): void {
  const dom = world.require(domain);
  if (dom.state !== 'paused') throw new VirtError('OPERATION_INVALID', 'domain is not paused');
  dom.state = 'running';
  dom.reason = 'UNPAUSED';
  world.emit(dom, 'RESUMED', 'UNPAUSED');
}

/**
 * Stops an active domain: a running backup job fails, the state becomes shut off with
 * `reason`, STOPPED is emitted and a transient domain disappears with its metadata.
 *
 * @internal
 */
export function stopDomain(world: TestWorld, dom: TestDomain, reason: 'SHUTDOWN' | 'DESTROYED'): void {
  abortJobForStop(world, dom);
  world.shutoffState(dom, reason);
  world.emit(dom, 'STOPPED', reason);
  world.dropIfTransient(dom);
}
