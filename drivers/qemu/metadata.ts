import { join } from 'node:path';
import {
  formatCheckpointXml,
  formatDomainXml,
  formatSnapshotXml,
  MomentList,
  parseCheckpointXml,
  parseDomainXml,
  parseSnapshotXml,
  type CheckpointDef,
  type DomainDef,
  type SnapshotDef,
} from 'virtkit';
import { listDir, readTextIfExists, type FileWrite } from './atomic-file.js';
import { namesFromListing, type RootLayout } from './layout.js';

/**
 * Everything persisted about one domain, as loaded into memory: its definition and its two
 * moment trees. Snapshot and checkpoint definitions are immutable values.
 *
 * @internal
 */
export interface DomainState {
  readonly name: string;
  def: DomainDef;
  readonly snapshots: MomentList<SnapshotDef>;
  readonly checkpoints: MomentList<CheckpointDef>;
  /** Metadata files that could not be read (skipped, like libvirt does). */
  readonly loadErrors: readonly string[];
}

/** Name of the file (in the domain's checkpoint directory) that records the current checkpoint. */
const CURRENT_CHECKPOINT_FILE = 'current';

/**
 * Reads and formats the metadata files of an embedded root. Writes go through the journal
 * as `metadata` steps built from the {@link MetadataChange}s computed here.
 *
 * @internal
 */
export class MetadataStore {
  constructor(readonly layout: RootLayout) {}

  /** Names of the defined domains. */
  async domainNames(): Promise<string[]> {
    return namesFromListing(await listDir(this.layout.domainsDir));
  }

  /** The stored definition of `name`, or `undefined`. */
  async readDomainDef(name: string): Promise<DomainDef | undefined> {
    const text = await readTextIfExists(this.layout.domainFile(name));
    return text === undefined ? undefined : parseDomainXml(text);
  }

  /** Loads a domain with its snapshot and checkpoint trees; `undefined` when not defined. */
  async load(name: string): Promise<DomainState | undefined> {
    const def = await this.readDomainDef(name);
    if (def === undefined) return undefined;
    const loadErrors: string[] = [];
    const snapshots = await this.#loadSnapshots(name, loadErrors);
    const checkpoints = await this.#loadCheckpoints(name, loadErrors);
    return { name, def, snapshots, checkpoints, loadErrors };
  }

  /** The domain file's content. */
  domainXml(def: DomainDef): string {
    return formatDomainXml(def, { secure: true });
  }

  /** The metadata-file form of a snapshot (`secure` + `internal`, `<active>` marks current). */
  snapshotXml(def: SnapshotDef, current: boolean): string {
    return formatSnapshotXml(def, { secure: true, internal: true, current });
  }

  /** The metadata-file form of a checkpoint (`secure`). */
  checkpointXml(def: CheckpointDef): string {
    return formatCheckpointXml(def, { secure: true });
  }

  /** The change that stores a domain definition. */
  domainChange(def: DomainDef): MetadataChange {
    return {
      writes: [{ path: this.layout.domainFile(def.name), content: this.domainXml(def) }],
      removes: [],
    };
  }

  /**
   * The file writes and removals that turn the snapshot metadata described by `before` into
   * the current content of `list`: changed definitions, moved `<active>` markers, removed
   * snapshots.
   */
  snapshotChange(
    domain: string,
    before: MomentCapture<SnapshotDef>,
    list: MomentList<SnapshotDef>,
  ): MetadataChange {
    const after = captureMoments(list);
    const writes: FileWrite[] = [];
    for (const [name, now] of after.defs) {
      const isCurrent = after.current === name;
      if (before.defs.get(name) === now && (before.current === name) === isCurrent) continue;
      writes.push({
        path: this.layout.snapshotFile(domain, name),
        content: this.snapshotXml(now, isCurrent),
      });
    }
    const removes = [...before.defs.keys()]
      .filter((name) => !after.defs.has(name))
      .map((name) => this.layout.snapshotFile(domain, name));
    return { writes, removes };
  }

  /** Like {@link MetadataStore.snapshotChange} for checkpoints, plus the current-checkpoint file. */
  checkpointChange(
    domain: string,
    before: MomentCapture<CheckpointDef>,
    list: MomentList<CheckpointDef>,
  ): MetadataChange {
    const after = captureMoments(list);
    const writes: FileWrite[] = [];
    for (const [name, now] of after.defs) {
      if (before.defs.get(name) === now) continue;
      writes.push({ path: this.layout.checkpointFile(domain, name), content: this.checkpointXml(now) });
    }
    const removes = [...before.defs.keys()]
      .filter((name) => !after.defs.has(name))
      .map((name) => this.layout.checkpointFile(domain, name));
    if (before.current !== after.current) {
      const path = this.currentCheckpointFile(domain);
      if (after.current === undefined) removes.push(path);
      else writes.push({ path, content: `${after.current}\n` });
    }
    return { writes, removes };
  }

  /** The file recording the current checkpoint of `domain`. */
  currentCheckpointFile(domain: string): string {
    return join(this.layout.checkpointDir(domain), CURRENT_CHECKPOINT_FILE);
  }

  async #loadSnapshots(domain: string, errors: string[]): Promise<MomentList<SnapshotDef>> {
    const list = new MomentList<SnapshotDef>('snapshot');
    const loaded: { def: SnapshotDef & { name: string }; active: boolean }[] = [];
    for (const name of namesFromListing(await listDir(this.layout.snapshotDir(domain)))) {
      const path = this.layout.snapshotFile(domain, name);
      const def = await this.#parse(path, errors, (t) =>
        parseSnapshotXml(t, { redefine: true, internal: true }),
      );
      if (def?.name !== name) continue;
      const { active, ...rest } = def;
      loaded.push({ def: { ...rest, name }, active: active === true });
    }
    loaded.sort((a, b) => compareMoments(a.def, b.def));
    for (const { def } of loaded) list.add(def);
    errors.push(...list.updateRelations());
    const current = loaded.find((l) => l.active);
    if (current !== undefined) list.setCurrent(current.def.name);
    return list;
  }

  async #loadCheckpoints(domain: string, errors: string[]): Promise<MomentList<CheckpointDef>> {
    const list = new MomentList<CheckpointDef>('checkpoint');
    const dir = this.layout.checkpointDir(domain);
    const loaded: (CheckpointDef & { name: string })[] = [];
    for (const name of namesFromListing(await listDir(dir))) {
      const def = await this.#parse(this.layout.checkpointFile(domain, name), errors, (t) =>
        parseCheckpointXml(t, { redefine: true }),
      );
      if (def?.name === name) loaded.push({ ...def, name });
    }
    loaded.sort(compareMoments);
    for (const def of loaded) list.add(def);
    errors.push(...list.updateRelations());
    const recorded = (await readTextIfExists(this.currentCheckpointFile(domain)))?.trim();
    const current = recorded !== undefined && list.has(recorded) ? recorded : list.findLeaf();
    if (current !== undefined) list.setCurrent(current);
    return list;
  }

  async #parse<D>(path: string, errors: string[], parse: (text: string) => D): Promise<D | undefined> {
    const text = await readTextIfExists(path);
    if (text === undefined) return undefined;
    try {
      return parse(text);
    } catch (err) {
      errors.push(`${path}: ${(err as Error).message}`);
      return undefined;
    }
  }
}

/**
 * Metadata files to write and remove, applied together by one journal step.
 *
 * @internal
 */
export interface MetadataChange {
  readonly writes: readonly FileWrite[];
  readonly removes: readonly string[];
  /** Directories to remove when empty, after the files. */
  readonly removeDirs?: readonly string[];
}

/**
 * The definitions and current moment of a list at one instant, to diff against later.
 *
 * @internal
 */
export interface MomentCapture<D> {
  readonly defs: ReadonlyMap<string, D>;
  readonly current: string | undefined;
}

/**
 * Captures a list's definitions and current moment.
 *
 * @internal
 */
export function captureMoments<D extends { readonly name?: string }>(list: MomentList<D>): MomentCapture<D> {
  const defs = new Map<string, D>();
  for (const name of list.names()) defs.set(name, list.require(name));
  return { defs, current: list.current };
}

/** Load order: oldest first, then by name, so that a reload links siblings as they were created. */
function compareMoments(
  a: { name: string; creationTime?: number },
  b: { name: string; creationTime?: number },
): number {
  const t = (a.creationTime ?? 0) - (b.creationTime ?? 0);
  return t !== 0 ? t : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
