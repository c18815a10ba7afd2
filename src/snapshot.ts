import { domainOf } from './context.js';
import type { Domain } from './domain.js';
import type { SnapshotOps } from './driver/driver.js';
import {
  assertExclusive,
  type MomentDeleteOptions,
  type SnapshotChildrenOptions,
  type SnapshotRevertOptions,
  type SnapshotXmlOptions,
} from './options.js';

/**
 * A handle to one snapshot of a domain (`virDomainSnapshotPtr`).
 *
 * @public
 */
export class DomainSnapshot {
  /** The domain the snapshot belongs to. */
  readonly domain: Domain;
  /** The snapshot's name. */
  readonly name: string;

  /** @internal */
  constructor(domain: Domain, name: string) {
    this.domain = domain;
    this.name = name;
  }

  /**
   * The snapshot in libvirt's `<domainsnapshot>` format, with every default filled in.
   *
   * @throws `OPERATION_DENIED` for `secure` on a read-only connection, `NO_DOMAIN_SNAPSHOT`.
   */
  async getXml(options: SnapshotXmlOptions = {}): Promise<string> {
    const fn = 'snapshot.getXml';
    const ctx = domainOf(this.domain).ctx;
    ctx.checkOptions(options, 'snapshotGetXml', fn);
    if (options.secure) ctx.assertWritable(`${fn} with secure flag`);
    return this.#run(fn, (ops) => ops.getXml(domainOf(this.domain).id, this.name, options));
  }

  /**
   * The parent snapshot.
   *
   * @throws `NO_DOMAIN_SNAPSHOT` "snapshot 'X' does not have a parent" for a root.
   */
  async getParent(): Promise<DomainSnapshot> {
    const name = await this.#run('snapshot.getParent', (ops) =>
      ops.getParent(domainOf(this.domain).id, this.name),
    );
    return new DomainSnapshot(this.domain, name);
  }

  /**
   * Direct children, or all descendants with `descendants`; order unspecified unless
   * `topological`. The snapshot itself is never part of the result.
   */
  async listChildren(options: SnapshotChildrenOptions = {}): Promise<DomainSnapshot[]> {
    const fn = 'snapshot.listChildren';
    domainOf(this.domain).ctx.checkOptions(options, 'snapshotListChildren', fn);
    const names = await this.#run(fn, (ops) =>
      ops.listChildren(domainOf(this.domain).id, this.name, options),
    );
    return names.map((n) => new DomainSnapshot(this.domain, n));
  }

  /** Whether this is the domain's current snapshot. */
  async isCurrent(): Promise<boolean> {
    return this.#run('snapshot.isCurrent', (ops) => ops.isCurrent(domainOf(this.domain).id, this.name));
  }

  /** Whether virtkit keeps metadata for this snapshot (always true for the built-in drivers). */
  async hasMetadata(): Promise<boolean> {
    return this.#run('snapshot.hasMetadata', (ops) => ops.hasMetadata(domainOf(this.domain).id, this.name));
  }

  /**
   * Reverts the domain to this snapshot (`virDomainRevertToSnapshot`). The snapshot becomes
   * current; the tree does not change. A running or paused snapshot restarts the guest;
   * `running`/`paused` choose the state afterwards.
   *
   * @throws `INVALID_ARG` for `running` with `paused`, `SNAPSHOT_REVERT_RISKY`,
   * `OPERATION_INVALID`, `OPERATION_ABORTED` when `signal` fires (the revert is rolled back).
   */
  async revert(options: SnapshotRevertOptions = {}): Promise<void> {
    const fn = 'snapshot.revert';
    const ctx = domainOf(this.domain).ctx;
    ctx.assertWritable(fn);
    ctx.checkOptions(options, 'revertSnapshot', fn);
    assertExclusive(options, 'running', 'paused');
    await this.#run(fn, (ops) => ops.revert(domainOf(this.domain).id, this.name, options));
  }

  /**
   * Deletes this snapshot (`virDomainSnapshotDelete`). Its children move to its parent; if
   * it was current, its parent becomes current. `children` deletes the subtree,
   * `childrenOnly` only the descendants, `metadataOnly` keeps the disk data.
   *
   * @throws `INVALID_ARG` for `children` with `childrenOnly`, `NO_DOMAIN_SNAPSHOT`,
   * `OPERATION_UNSUPPORTED`, `OPERATION_ABORTED` when `signal` fires.
   */
  async delete(options: MomentDeleteOptions = {}): Promise<void> {
    const fn = 'snapshot.delete';
    const ctx = domainOf(this.domain).ctx;
    ctx.assertWritable(fn);
    ctx.checkOptions(options, 'deleteSnapshot', fn);
    assertExclusive(options, 'children', 'childrenOnly');
    await this.#run(fn, (ops) => ops.delete(domainOf(this.domain).id, this.name, options));
  }

  async #run<T>(fn: string, work: (ops: SnapshotOps) => Promise<T>): Promise<T> {
    const ctx = domainOf(this.domain).ctx;
    const ops = ctx.capability('snapshots', fn);
    return ctx.call(() => work(ops));
  }
}
