import { domainOf } from './context.js';
import type { Domain } from './domain.js';
import type { CheckpointOps } from './driver/driver.js';
import {
  assertExclusive,
  type CheckpointChildrenOptions,
  type CheckpointXmlOptions,
  type MomentDeleteOptions,
} from './options.js';

/**
 * A handle to one checkpoint of a domain (`virDomainCheckpointPtr`). A checkpoint marks a
 * point from which incremental backups can copy only what changed.
 *
 * @public
 */
export class DomainCheckpoint {
  /** The domain the checkpoint belongs to. */
  readonly domain: Domain;
  /** The checkpoint's name. */
  readonly name: string;

  /** @internal */
  constructor(domain: Domain, name: string) {
    this.domain = domain;
    this.name = name;
  }

  /**
   * The checkpoint in libvirt's `<domaincheckpoint>` format.
   *
   * @throws `OPERATION_DENIED` for `secure` on a read-only connection, `NO_DOMAIN_CHECKPOINT`,
   * `OPERATION_INVALID` for `size` when the driver needs a running domain.
   */
  async getXml(options: CheckpointXmlOptions = {}): Promise<string> {
    const fn = 'checkpoint.getXml';
    const ctx = domainOf(this.domain).ctx;
    ctx.checkOptions(options, 'checkpointGetXml', fn);
    if (options.secure) ctx.assertWritable(`${fn} with secure flag`);
    return this.#run(fn, (ops) => ops.getXml(domainOf(this.domain).id, this.name, options));
  }

  /**
   * The parent checkpoint.
   *
   * @throws `NO_DOMAIN_CHECKPOINT` "checkpoint 'X' does not have a parent" for a root.
   */
  async getParent(): Promise<DomainCheckpoint> {
    const fn = 'checkpoint.getParent';
    const name = await this.#run(fn, (ops) => ops.getParent(domainOf(this.domain).id, this.name));
    return new DomainCheckpoint(this.domain, name);
  }

  /** Direct children, or all descendants with `descendants`. */
  async listChildren(options: CheckpointChildrenOptions = {}): Promise<DomainCheckpoint[]> {
    const fn = 'checkpoint.listChildren';
    domainOf(this.domain).ctx.checkOptions(options, 'checkpointListChildren', fn);
    const names = await this.#run(fn, (ops) =>
      ops.listChildren(domainOf(this.domain).id, this.name, options),
    );
    return names.map((n) => new DomainCheckpoint(this.domain, n));
  }

  /**
   * Deletes the checkpoint (`virDomainCheckpointDelete`); incremental backups from its parent
   * stay correct. `children` / `childrenOnly` / `metadataOnly` as for snapshots.
   *
   * @throws `INVALID_ARG` for `children` with `childrenOnly`, `NO_DOMAIN_CHECKPOINT`.
   */
  async delete(options: MomentDeleteOptions = {}): Promise<void> {
    const fn = 'checkpoint.delete';
    const ctx = domainOf(this.domain).ctx;
    ctx.assertWritable(fn);
    ctx.checkOptions(options, 'deleteCheckpoint', fn);
    assertExclusive(options, 'children', 'childrenOnly');
    await this.#run(fn, (ops) => ops.delete(domainOf(this.domain).id, this.name, options));
  }

  async #run<T>(fn: string, work: (ops: CheckpointOps) => Promise<T>): Promise<T> {
    const ctx = domainOf(this.domain).ctx;
    const ops = ctx.capability('checkpoints', fn);
    return ctx.call(() => work(ops));
  }
}
