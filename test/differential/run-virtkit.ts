import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  connect,
  isVirtError,
  type Connection,
  type Domain,
  type DomainCheckpoint,
  type DomainSnapshot,
} from 'virtkit';
import {
  DEFAULT_CHECKPOINT_FIELDS,
  DEFAULT_SNAPSHOT_FIELDS,
  loadScenarios,
  scenarioPath,
  type CheckpointXmlField,
  type LoadedScenario,
  type ScenarioRun,
  type SnapshotXmlField,
  type Step,
  type StepOutcome,
} from './scenario.js';
import { checkpointFields, snapshotFields } from './xml-fields.js';

// Runner B of the differential suite: replays scenarios on virtkit's test driver and reports
// the same JSON as run-libvirt.py. CLI: npx tsx test/differential/run-virtkit.ts [files…]

/** The fixed clock of every virtkit connection (generated names are compared through aliases). */
export const FIXED_CLOCK_MS = 1_700_000_000_000;

type Options = Record<string, boolean>;

class Session {
  readonly #uri: string;
  readonly #saved = new Map<string, string>();
  readonly #aliases = new Map<string, string>();
  #events: string[] = [];
  #conn: Connection | undefined;

  constructor(uri: string) {
    this.#uri = uri;
  }

  async open(): Promise<void> {
    const conn = await connect(this.#uri, { clock: () => FIXED_CLOCK_MS });
    conn.on('domain-event', (e) => this.#events.push(`${e.domain.name}:${e.event}:${e.detail}`));
    this.#conn = conn;
  }

  async close(): Promise<void> {
    const conn = this.#conn;
    this.#conn = undefined;
    await conn?.close();
  }

  get conn(): Connection {
    if (this.#conn === undefined) throw new Error('session is not open');
    return this.#conn;
  }

  async run(step: Step): Promise<unknown> {
    const opts = (step.options ?? {}) as Options;
    switch (step.op) {
      case 'reconnect':
        await this.close();
        await this.open();
        return null;
      case 'events':
        return this.#takeEvents();
      case 'define':
        return (await this.conn.defineDomain(step.xml ?? domainXml(step), opts)).name;
      case 'create':
        return (await this.conn.createDomain(step.xml ?? domainXml(step), opts)).name;
      case 'lookupDomain':
        return (await this.#domain(step)).name;
      case 'listDomains':
        return (await this.conn.listDomains(opts)).map((d) => d.name).sort();
      case 'start':
        return void (await (await this.#domain(step)).start(opts));
      case 'shutdown':
        return void (await (await this.#domain(step)).shutdown());
      case 'destroy':
        return void (await (await this.#domain(step)).destroy(opts));
      case 'suspend':
        return void (await (await this.#domain(step)).suspend());
      case 'resume':
        return void (await (await this.#domain(step)).resume());
      case 'undefine':
        return void (await (await this.#domain(step)).undefine(opts));
      case 'getState': {
        const { state, reason } = await (await this.#domain(step)).getState();
        return { state, reason };
      }
      case 'isActive':
        return (await this.#domain(step)).isActive();
      case 'isPersistent':
        return (await this.#domain(step)).isPersistent();
      default:
        return this.#runMoment(step, opts);
    }
  }

  async #runMoment(step: Step, opts: Options): Promise<unknown> {
    switch (step.op) {
      case 'snapshotCreate': {
        const dom = await this.#domain(step);
        const snap = await dom.createSnapshot(await this.#momentXml(step, 'snapshot'), opts);
        return this.#created(step, snap.name);
      }
      case 'snapshotList':
        return this.#names(await (await this.#domain(step)).listSnapshots(opts), opts);
      case 'snapshotListChildren':
        return this.#names(await (await this.#snapshot(step)).listChildren(opts), opts);
      case 'snapshotLookup':
        return this.#alias((await this.#snapshot(step)).name);
      case 'snapshotCurrent':
        return this.#alias((await (await this.#domain(step)).currentSnapshot()).name);
      case 'snapshotHasCurrent':
        return (await this.#domain(step)).hasCurrentSnapshot();
      case 'snapshotIsCurrent':
        return (await this.#snapshot(step)).isCurrent();
      case 'snapshotHasMetadata':
        return (await this.#snapshot(step)).hasMetadata();
      case 'snapshotGetParent':
        return this.#alias((await (await this.#snapshot(step)).getParent()).name);
      case 'snapshotGetXml': {
        const xml = await (await this.#snapshot(step)).getXml(opts);
        if (step.save !== undefined) this.#saved.set(step.save, xml);
        return this.#aliased(
          snapshotFields(xml, (step.fields ?? DEFAULT_SNAPSHOT_FIELDS) as SnapshotXmlField[]),
        );
      }
      case 'snapshotRevert':
        return void (await (await this.#snapshot(step)).revert(opts));
      case 'snapshotDelete':
        return void (await (await this.#snapshot(step)).delete(opts));
      default:
        return this.#runCheckpoint(step, opts);
    }
  }

  async #runCheckpoint(step: Step, opts: Options): Promise<unknown> {
    switch (step.op) {
      case 'checkpointCreate': {
        const dom = await this.#domain(step);
        const chk = await dom.createCheckpoint(await this.#momentXml(step, 'checkpoint'), opts);
        return this.#created(step, chk.name);
      }
      case 'checkpointList':
        return this.#names(await (await this.#domain(step)).listCheckpoints(opts), opts);
      case 'checkpointListChildren':
        return this.#names(await (await this.#checkpoint(step)).listChildren(opts), opts);
      case 'checkpointLookup':
        return this.#alias((await this.#checkpoint(step)).name);
      case 'checkpointGetParent':
        return this.#alias((await (await this.#checkpoint(step)).getParent()).name);
      case 'checkpointGetXml': {
        const xml = await (await this.#checkpoint(step)).getXml(opts);
        if (step.save !== undefined) this.#saved.set(step.save, xml);
        return this.#aliased(
          checkpointFields(xml, (step.fields ?? DEFAULT_CHECKPOINT_FIELDS) as CheckpointXmlField[]),
        );
      }
      case 'checkpointDelete':
        return void (await (await this.#checkpoint(step)).delete(opts));
      default:
        throw new Error(`unhandled step op '${step.op}'`);
    }
  }

  async #takeEvents(): Promise<string[]> {
    // Drivers may deliver events on a later tick: let pending callbacks and timers run first.
    for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 0));
    const out = this.#events;
    this.#events = [];
    return out;
  }

  #domain(step: Step): Promise<Domain> {
    return this.conn.lookupDomainByName(step.domain ?? 'test');
  }

  async #snapshot(step: Step): Promise<DomainSnapshot> {
    return (await this.#domain(step)).lookupSnapshotByName(this.#real(step.snapshot ?? ''));
  }

  async #checkpoint(step: Step): Promise<DomainCheckpoint> {
    return (await this.#domain(step)).lookupCheckpointByName(this.#real(step.checkpoint ?? ''));
  }

  async #momentXml(step: Step, kind: 'snapshot' | 'checkpoint'): Promise<string> {
    let xml: string;
    if (step.xml !== undefined) xml = step.xml;
    else if (step.xmlRef !== undefined) {
      const saved = this.#saved.get(step.xmlRef);
      if (saved === undefined) throw new Error(`no saved xml named '${step.xmlRef}'`);
      xml = saved;
    } else xml = momentXml(kind, step.name, step.description);
    if (xml.includes('{{domain}}')) {
      const domainXml = await (await this.#domain(step)).getXml({ inactive: true });
      xml = xml.replace('{{domain}}', domainXml);
    }
    return xml;
  }

  #created(step: Step, name: string): string {
    if (step.alias === undefined) return name;
    this.#aliases.set(step.alias, name);
    return /^\d+$/.test(name) ? step.alias : name;
  }

  #real(name: string): string {
    return this.#aliases.get(name) ?? name;
  }

  #alias(name: string): string {
    for (const [alias, real] of this.#aliases) if (real === name) return alias;
    return name;
  }

  /** An error message with every generated (all-digit) name replaced by its alias. */
  aliasedMessage(message: string): string {
    let out = message;
    for (const [alias, real] of this.#aliases) {
      if (/^\d+$/.test(real)) out = out.replace(new RegExp(`\\b${real}\\b`, 'g'), alias);
    }
    return out;
  }

  #aliased(fields: Record<string, unknown>): Record<string, unknown> {
    for (const key of ['name', 'parent']) {
      const value = fields[key];
      if (typeof value === 'string') fields[key] = this.#alias(value);
    }
    return fields;
  }

  #names(handles: readonly { name: string }[], opts: Options): string[] {
    const names = handles.map((h) => this.#alias(h.name));
    return opts.topological === true ? names : names.sort();
  }
}

function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll("'", '&apos;');
}

function momentXml(kind: 'snapshot' | 'checkpoint', name?: string, description?: string): string {
  const root = kind === 'snapshot' ? 'domainsnapshot' : 'domaincheckpoint';
  if (name === undefined) return `<${root}/>`;
  const desc = description === undefined ? '' : `<description>${escapeXml(description)}</description>`;
  return `<${root}><name>${escapeXml(name)}</name>${desc}</${root}>`;
}

/** The domain template of define/create steps given a `name` (identical in run-libvirt.py). */
export function domainXml(step: Pick<Step, 'name' | 'uuid'>): string {
  const name = escapeXml(step.name ?? '');
  const uuid = step.uuid === undefined ? '' : `<uuid>${step.uuid}</uuid>`;
  return (
    `<domain type='test'><name>${name}</name>${uuid}<memory>1048576</memory><vcpu>1</vcpu>` +
    `<os><type arch='x86_64'>hvm</type></os><devices>` +
    `<disk type='file' device='disk'><source file='/guest/${name}.img'/><target dev='vda' bus='virtio'/></disk>` +
    `</devices></domain>`
  );
}

/** The `test:` URI of a scenario's world. */
export function worldUri(world: string | undefined): string {
  return world === undefined || world === 'default' ? 'test:///default' : `test://${scenarioPath(world)}`;
}

function outcomeOf(err: unknown): StepOutcome {
  if (isVirtError(err))
    return { ok: false, code: err.code, libvirtCode: err.libvirtCode, message: err.message };
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { ok: false, code: 'NOT_A_VIRT_ERROR', libvirtCode: -1, message };
}

/** Runs one scenario on virtkit's test driver, each step's outcome in order. */
export async function runOnVirtkit({ file, scenario }: LoadedScenario): Promise<ScenarioRun> {
  const session = new Session(worldUri(scenario.world));
  const steps: StepOutcome[] = [];
  try {
    await session.open();
  } catch (err) {
    return { name: scenario.name, file, steps: scenario.steps.map(() => outcomeOf(err)) };
  }
  try {
    for (const step of scenario.steps) {
      try {
        const result = await session.run(step);
        steps.push({ ok: true, result: result ?? null });
      } catch (err) {
        const outcome = outcomeOf(err);
        steps.push(outcome.ok ? outcome : { ...outcome, message: session.aliasedMessage(outcome.message) });
      }
    }
  } finally {
    await session.close();
  }
  return { name: scenario.name, file, steps };
}

/** Runs scenarios one after the other. */
export async function runAllOnVirtkit(scenarios: readonly LoadedScenario[]): Promise<ScenarioRun[]> {
  const runs: ScenarioRun[] = [];
  for (const s of scenarios) runs.push(await runOnVirtkit(s));
  return runs;
}

async function main(argv: readonly string[]): Promise<void> {
  const runs = await runAllOnVirtkit(loadScenarios(argv.map((f) => resolve(f))));
  process.stdout.write(`${JSON.stringify(runs, null, 1)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main(process.argv.slice(2));
}
