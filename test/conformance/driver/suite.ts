// The driver conformance suite: one set of behaviours every virtkit driver must show, written
// against the public API only. A driver runs it from a vitest file with a factory that opens a
// fresh connection and names a domain the suite may use, plus the capabilities it declares;
// where a capability says the driver does not offer something, the suite checks the refusal.
import {
  formatCheckpointTree,
  formatSnapshotTree,
  isVirtError,
  type Connection,
  type Domain,
  type DomainEvent,
  type JobInfo,
} from 'virtkit';
import { describe, expect, it } from 'vitest';

/** What the factory hands the suite for one test. */
export interface ConformanceTarget {
  readonly connection: Connection;
  /** A domain the suite may snapshot, revert, checkpoint and back up (running or shut off). */
  readonly domain: string;
  /**
   * Every file the driver keeps for the domain (metadata, images) with a digest of its content,
   * where the driver stores files; the suite checks refused calls leave it unchanged.
   */
  readonly files?: () => readonly string[];
  /** Releases what the factory made (the suite closes nothing itself). */
  dispose(): Promise<void>;
}

/**
 * What a driver offers. A missing capability replaces the tests that need it by one that
 * checks the driver refuses the calls cleanly (NO_SUPPORT or OPERATION_UNSUPPORTED).
 */
export interface DriverCapabilities {
  readonly snapshots: boolean;
  readonly checkpoints: boolean;
  readonly backups: boolean;
  /** Lifecycle events (`domain-event`) are reported. */
  readonly events: boolean;
  /** The suite may start, pause and stop the domain. */
  readonly lifecycle: boolean;
  /** Checkpoints and backups need a running domain (the suite starts it when it may). */
  readonly checkpointsNeedActiveDomain: boolean;
  /** Snapshots and checkpoints may exist on one domain at the same time. */
  readonly snapshotsWithCheckpoints: boolean;
}

/** Registers nothing: a test that does not apply to a driver is left out, not skipped. */
const never = (_name: string, _body: () => unknown): void => undefined;

/** Codes a driver may answer for a capability it does not offer. */
const UNSUPPORTED = ['NO_SUPPORT', 'OPERATION_UNSUPPORTED'];

interface Ctx {
  readonly conn: Connection;
  readonly domain: Domain;
  readonly events: string[];
  readonly files: () => readonly string[];
}

async function withTarget(
  open: () => Promise<ConformanceTarget>,
  body: (ctx: Ctx) => Promise<void>,
): Promise<void> {
  const target = await open();
  try {
    const events: string[] = [];
    const listener = (e: DomainEvent) => events.push(`${e.event}/${e.detail}`);
    target.connection.on('domain-event', listener);
    const domain = await target.connection.lookupDomainByName(target.domain);
    await body({ conn: target.connection, domain, events, files: target.files ?? (() => []) });
    target.connection.off('domain-event', listener);
  } finally {
    await target.dispose();
  }
}

async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isVirtError(err)) return err;
    throw err;
  }
  return { code: 'ok', message: 'no error' };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (isVirtError(err)) return err.code;
    throw err;
  }
}

const snap = (name: string) => `<domainsnapshot><name>${name}</name></domainsnapshot>`;

/**
 * Strings XML cannot hold (so neither metadata nor a file name can): unpaired UTF-16
 * surrogates, C0 controls other than TAB/LF/CR, U+FFFE/U+FFFF.
 */
const NOT_XML = ['\uD800', 'x\uDC00', '\uDBFFy', '\u0000', '\u0001', '\u001F', '\uFFFE', '\uFFFF'];
const cp = (name: string) => `<domaincheckpoint><name>${name}</name></domaincheckpoint>`;

async function createSnapshots(domain: Domain, ...names: string[]): Promise<void> {
  for (const n of names) await domain.createSnapshot(snap(n));
}

async function revertTo(domain: Domain, name: string): Promise<void> {
  await (await domain.lookupSnapshotByName(name)).revert();
}

async function currentName(domain: Domain): Promise<string | undefined> {
  return (await domain.hasCurrentSnapshot()) ? (await domain.currentSnapshot()).name : undefined;
}

async function names(list: Promise<readonly { readonly name: string }[]>, sort = true): Promise<string[]> {
  const out = (await list).map((x) => x.name);
  return sort ? out.sort() : out;
}

/** s1 → {s3 → {s2, s6 → {s4, s5}}, s7 → {s8}}: the tree of libvirt's virsh-snapshot test. */
async function scenarioTree(domain: Domain): Promise<void> {
  await createSnapshots(domain, 's1', 's3', 's2');
  await revertTo(domain, 's3');
  await createSnapshots(domain, 's6', 's5');
  await revertTo(domain, 's6');
  await createSnapshots(domain, 's4');
  await revertTo(domain, 's1');
  await createSnapshots(domain, 's7', 's8');
}

const SCENARIO_TREE = [
  's1',
  '  |',
  '  +- s3',
  '  |   |',
  '  |   +- s2',
  '  |   +- s6',
  '  |       |',
  '  |       +- s4',
  '  |       +- s5',
  '  |         ',
  '  +- s7',
  '      |',
  '      +- s8',
  '        ',
  '',
  '',
].join('\n');

/**
 * Registers the conformance suite for one driver.
 *
 * @param label - Name shown in the test report, e.g. `test:///default`.
 * @param open - Opens a fresh connection for one test and names the domain to use.
 * @param capabilities - What the driver offers.
 */
export function describeDriverConformance(
  label: string,
  open: () => Promise<ConformanceTarget>,
  capabilities: DriverCapabilities,
): void {
  const run = (body: (ctx: Ctx) => Promise<void>) => () => withTarget(open, body);

  describe(`driver conformance: ${label}`, () => {
    describe('domains', () => {
      it(
        'finds the domain by name and uuid and refuses unknown ones',
        run(async ({ conn, domain }) => {
          expect((await conn.lookupDomainByUuid(domain.uuid)).name).toBe(domain.name);
          expect((await conn.listDomains()).map((d) => d.name)).toContain(domain.name);
          expect(await codeOf(conn.lookupDomainByName('virtkit-no-such-domain'))).toBe('NO_DOMAIN');
          expect(['running', 'paused', 'shutoff']).toContain((await domain.getState()).state);
        }),
      );

      it(
        'lists the disks and their current images as the domain XML names them (virsh domblklist)',
        run(async ({ domain }) => {
          const disks = await domain.listDisks();
          const xml = await domain.getXml();
          expect(disks.length).toBe([...xml.matchAll(/<disk /g)].length);
          expect(disks.length).toBeGreaterThan(0);
          for (const d of disks) {
            expect(xml).toContain(`dev='${d.target}'`);
            if (d.source !== undefined) expect(xml).toContain(`'${d.source}'`);
            expect(typeof d.device).toBe('string');
            expect(typeof d.type).toBe('string');
          }
          expect((await domain.listDisks({ inactive: true })).map((d) => d.target)).toEqual(
            disks.map((d) => d.target),
          );
          expect(await codeOf(domain.listDisks({ bogus: true } as never))).toBe('INVALID_ARG');
        }),
      );

      (capabilities.lifecycle ? never : it)(
        'refuses lifecycle calls it does not offer and stays as it was',
        run(async ({ domain }) => {
          const before = await domain.getState();
          expect(UNSUPPORTED).toContain(await codeOf(domain.start()));
          expect(UNSUPPORTED).toContain(await codeOf(domain.start({ paused: true })));
          expect(await domain.getState()).toEqual(before);
        }),
      );

      (capabilities.lifecycle ? it : never)(
        'starts and stops with libvirt states and errors',
        run(async (ctx) => {
          const { domain } = ctx;
          if (await domain.isActive()) await domain.destroy();
          expect(await codeOf(domain.destroy())).toBe('OPERATION_INVALID');
          ctx.events.length = 0;
          await domain.start();
          expect(await domain.getState()).toEqual({ state: 'running', reason: 'BOOTED' });
          expect(await codeOf(domain.start())).toBe('OPERATION_INVALID');
          await domain.suspend();
          expect((await domain.getState()).state).toBe('paused');
          await domain.resume();
          await domain.destroy();
          expect(await domain.getState()).toEqual({ state: 'shutoff', reason: 'DESTROYED' });
          if (capabilities.events) {
            expect(ctx.events).toEqual([
              'STARTED/BOOTED',
              'SUSPENDED/PAUSED',
              'RESUMED/UNPAUSED',
              'STOPPED/DESTROYED',
            ]);
          }
        }),
      );
    });

    (capabilities.snapshots ? describe : never)('snapshots', () => {
      it(
        'creates under the current snapshot and refuses a duplicate without changing anything',
        run(async ({ domain }) => {
          await createSnapshots(domain, 'c1', 'c2');
          const c2 = await domain.lookupSnapshotByName('c2');
          expect((await c2.getParent()).name).toBe('c1');
          expect(await c2.isCurrent()).toBe(true);
          expect(await c2.hasMetadata()).toBe(true);
          expect(await c2.getXml()).toMatch(/<name>c2<\/name>[\s\S]*<parent>\s*<name>c1<\/name>/);
          expect(await codeOf(domain.createSnapshot(snap('c1')))).toBe('OPERATION_FAILED');
          expect(await names(domain.listSnapshots())).toEqual(['c1', 'c2']);
          expect(await currentName(domain)).toBe('c2');
        }),
      );

      it(
        'builds branches by revert-then-create and lists them with libvirt filters',
        run(async ({ domain }) => {
          await createSnapshots(domain, 'a', 'b');
          await revertTo(domain, 'a');
          await createSnapshots(domain, 'c');
          expect(await names(domain.listSnapshots({ topological: true }), false)).toEqual(['a', 'c', 'b']);
          expect(await names(domain.listSnapshots({ roots: true }))).toEqual(['a']);
          expect(await names(domain.listSnapshots({ leaves: true }))).toEqual(['b', 'c']);
          expect(await names(domain.listSnapshots({ noLeaves: true }))).toEqual(['a']);
          expect(await names(domain.listSnapshots({ leaves: true, noLeaves: true }))).toEqual([]);
          expect(await names(domain.listSnapshots({ noMetadata: true }))).toEqual([]);
          expect(await names(domain.listSnapshots({ metadata: true }))).toEqual(['a', 'b', 'c']);
          const a = await domain.lookupSnapshotByName('a');
          expect(await names(a.listChildren())).toEqual(['b', 'c']);
          expect(await names(a.listChildren({ descendants: true }))).toEqual(['b', 'c']);
          expect(await currentName(domain)).toBe('c');
        }),
      );

      it(
        'prints the virsh tree of the virsh-snapshot scenario',
        run(async ({ domain }) => {
          await scenarioTree(domain);
          expect(await formatSnapshotTree(domain)).toBe(SCENARIO_TREE);
          expect(await names(domain.listSnapshots({ leaves: true }))).toEqual(['s2', 's4', 's5', 's8']);
          const s3 = await domain.lookupSnapshotByName('s3');
          expect(await names(s3.listChildren({ descendants: true }))).toEqual(['s2', 's4', 's5', 's6']);
        }),
      );

      it(
        'deletes with libvirt tree and current rules',
        run(async ({ domain }) => {
          await scenarioTree(domain);
          await (await domain.lookupSnapshotByName('s1')).delete();
          expect(await names(domain.listSnapshots({ roots: true }))).toEqual(['s3', 's7']);
          expect(await currentName(domain)).toBe('s8');
          await revertTo(domain, 's4');
          await (await domain.lookupSnapshotByName('s6')).delete({ childrenOnly: true });
          expect(await currentName(domain)).toBe('s6');
          await (await domain.lookupSnapshotByName('s7')).delete({ children: true });
          expect(await currentName(domain)).toBe('s6');
          await (await domain.lookupSnapshotByName('s6')).delete();
          expect(await currentName(domain)).toBe('s3');
          expect(await names(domain.listSnapshots({ topological: true }), false)).toEqual(['s3', 's2']);
        }),
      );

      it(
        'redefines parents first and sets current only on request',
        run(async ({ domain }) => {
          await createSnapshots(domain, 'r1', 'r2');
          const x1 = await (await domain.lookupSnapshotByName('r1')).getXml({ secure: true });
          const x2 = await (await domain.lookupSnapshotByName('r2')).getXml({ secure: true });
          await (await domain.lookupSnapshotByName('r1')).delete({ children: true, metadataOnly: true });
          expect(await codeOf(domain.createSnapshot(x2, { redefine: true }))).toBe('INVALID_ARG');
          await domain.createSnapshot(x1, { redefine: true });
          await domain.createSnapshot(x2, { redefine: true });
          expect(await domain.hasCurrentSnapshot()).toBe(false);
          await domain.createSnapshot(x1, { redefine: true, current: true });
          expect(await currentName(domain)).toBe('r1');
          expect(await names((await domain.lookupSnapshotByName('r1')).listChildren())).toEqual(['r2']);
        }),
      );

      it(
        'reverts to the recorded state and moves only current',
        run(async (ctx) => {
          const { domain } = ctx;
          const active = await domain.isActive();
          await createSnapshots(domain, 'v1', 'v2');
          ctx.events.length = 0;
          await revertTo(domain, 'v1');
          expect(await currentName(domain)).toBe('v1');
          expect(await domain.isActive()).toBe(active);
          expect(await names(domain.listSnapshots())).toEqual(['v1', 'v2']);
          if (capabilities.events) {
            expect(ctx.events).toEqual(active ? ['STOPPED/FROM_SNAPSHOT', 'STARTED/FROM_SNAPSHOT'] : []);
          }
        }),
      );

      it(
        'answers libvirt error codes',
        run(async ({ domain }) => {
          expect(await codeOf(domain.lookupSnapshotByName('nope'))).toBe('NO_DOMAIN_SNAPSHOT');
          expect(await codeOf(domain.currentSnapshot())).toBe('NO_DOMAIN_SNAPSHOT');
          await createSnapshots(domain, 'e1');
          const e1 = await domain.lookupSnapshotByName('e1');
          expect(await codeOf(e1.getParent())).toBe('NO_DOMAIN_SNAPSHOT');
          expect(await codeOf(e1.delete({ children: true, childrenOnly: true }))).toBe('INVALID_ARG');
          expect(await codeOf(e1.revert({ running: true, paused: true }))).toBe('INVALID_ARG');
          expect(await codeOf(domain.createSnapshot(snap('x'), { current: true }))).toBe('INVALID_ARG');
          expect(await codeOf(domain.createSnapshot(snap('x'), { bogus: true } as object))).toBe(
            'INVALID_ARG',
          );
          expect(await codeOf(domain.createSnapshot('<domainsnapshot>'))).toMatch(/^XML_(ERROR|DETAIL)$/);
          expect(await names(domain.listSnapshots())).toEqual(['e1']);
        }),
      );

      it(
        'refuses names, descriptions and paths XML cannot hold (XML_DETAIL) and changes nothing',
        run(async ({ domain, files }) => {
          await createSnapshots(domain, 'u1');
          const before = { files: files(), xml: await domain.getXml() };
          const disk = /<target dev='([^']+)'/.exec(before.xml)?.[1] ?? 'vda';
          for (const bad of NOT_XML) {
            const defs = [
              { name: `s${bad}x` },
              { name: 'u2', description: `d${bad}` },
              {
                name: 'u3',
                disks: [{ name: disk, snapshot: 'external' as const, source: { file: `/tmp/o${bad}` } }],
              },
              { name: 'u4', memory: { snapshot: 'external' as const, file: `/tmp/m${bad}` } },
            ];
            for (const def of defs) {
              const err = await errorOf(domain.createSnapshot(def));
              expect(err.code, `${JSON.stringify(def)}: ${err.message}`).toBe('XML_DETAIL');
              expect(await codeOf(domain.createSnapshot(def, { diskOnly: true }))).toBe('XML_DETAIL');
            }
            expect(await codeOf(domain.createSnapshot(snap(`t${bad}x`)))).toBe('XML_DETAIL');
          }
          expect(await names(domain.listSnapshots())).toEqual(['u1']);
          expect(await currentName(domain)).toBe('u1');
          expect({ files: files(), xml: await domain.getXml() }).toEqual(before);
          // a character XML can hold, even outside the BMP, is a fine name
          await domain.createSnapshot({ name: 'u\u{1F600}\u00e9' });
          expect(await names(domain.listSnapshots())).toEqual(['u1', 'u\u{1F600}\u00e9']);
        }),
      );
    });

    (capabilities.checkpoints ? describe : never)('checkpoints', () => {
      const prepare = async (domain: Domain) => {
        if (
          capabilities.checkpointsNeedActiveDomain &&
          capabilities.lifecycle &&
          !(await domain.isActive())
        ) {
          await domain.start();
        }
      };

      it(
        'chains, lists, prints and deletes checkpoints',
        run(async ({ domain }) => {
          await prepare(domain);
          for (const n of ['k1', 'k2', 'k3']) await domain.createCheckpoint(cp(n));
          const k3 = await domain.lookupCheckpointByName('k3');
          expect((await k3.getParent()).name).toBe('k2');
          expect(await k3.getXml({ noDomain: true })).toMatch(
            /<disk name='[^']+' checkpoint='bitmap' bitmap='k3'\/>/,
          );
          expect(await names(domain.listCheckpoints({ topological: true }), false)).toEqual([
            'k1',
            'k2',
            'k3',
          ]);
          expect(await formatCheckpointTree(domain)).toBe(
            ['k1', '  |', '  +- k2', '      |', '      +- k3', '        ', '', ''].join('\n'),
          );
          await (await domain.lookupCheckpointByName('k2')).delete();
          expect((await k3.getParent()).name).toBe('k1');
          await (await domain.lookupCheckpointByName('k1')).delete({ children: true });
          expect(await domain.listCheckpoints()).toEqual([]);
        }),
      );

      it(
        'answers libvirt error codes',
        run(async ({ domain }) => {
          await prepare(domain);
          expect(await codeOf(domain.lookupCheckpointByName('nope'))).toBe('NO_DOMAIN_CHECKPOINT');
          await domain.createCheckpoint(cp('k1'));
          expect(await codeOf(domain.createCheckpoint(cp('k1')))).toBe('OPERATION_FAILED');
          expect(await codeOf((await domain.lookupCheckpointByName('k1')).getParent())).toBe(
            'NO_DOMAIN_CHECKPOINT',
          );
          expect(await codeOf(domain.createCheckpoint(cp('k2'), { redefine: true, quiesce: true }))).toBe(
            'INVALID_ARG',
          );
          expect(await codeOf(domain.createCheckpoint(cp('.bad')))).toBe('XML_INVALID_SCHEMA');
        }),
      );

      it(
        'refuses checkpoint names, descriptions and bitmaps XML cannot hold and changes nothing',
        run(async ({ domain, files }) => {
          await prepare(domain);
          await domain.createCheckpoint(cp('w1'));
          const before = files();
          const disk = /<target dev='([^']+)'/.exec(await domain.getXml())?.[1] ?? 'vda';
          for (const bad of NOT_XML) {
            for (const def of [
              { name: `k${bad}x` },
              { name: 'w2', description: `d${bad}` },
              { name: 'w3', disks: [{ name: disk, checkpoint: 'bitmap' as const, bitmap: `b${bad}` }] },
            ]) {
              expect(await codeOf(domain.createCheckpoint(def)), JSON.stringify(def)).toBe('XML_DETAIL');
            }
            expect(await codeOf(domain.createCheckpoint(cp(`k${bad}x`)))).toBe('XML_DETAIL');
          }
          expect(await names(domain.listCheckpoints())).toEqual(['w1']);
          expect(files()).toEqual(before);
        }),
      );

      (capabilities.snapshotsWithCheckpoints && capabilities.snapshots ? it : never)(
        'keeps snapshots and checkpoints side by side',
        run(async ({ domain }) => {
          await prepare(domain);
          await domain.createCheckpoint(cp('k1'));
          await createSnapshots(domain, 'm1');
          expect(await names(domain.listCheckpoints())).toEqual(['k1']);
          expect(await names(domain.listSnapshots())).toEqual(['m1']);
        }),
      );
    });

    (capabilities.backups ? never : describe)('backups (not offered)', () => {
      it(
        'refuses backup jobs and creates no checkpoint',
        run(async ({ domain }) => {
          expect(UNSUPPORTED).toContain(await codeOf(domain.backupBegin('<domainbackup/>', cp('b1'))));
          expect(UNSUPPORTED).toContain(await codeOf(domain.getJobInfo()));
          if (capabilities.checkpoints) expect(await names(domain.listCheckpoints())).toEqual([]);
        }),
      );
    });

    (capabilities.backups ? describe : never)('backups', () => {
      const prepare = async (domain: Domain) => {
        if (
          capabilities.checkpointsNeedActiveDomain &&
          capabilities.lifecycle &&
          !(await domain.isActive())
        ) {
          await domain.start();
        }
      };

      it(
        'runs a push backup to completion with a JOB_COMPLETED event',
        run(async ({ conn, domain }) => {
          await prepare(domain);
          const finished = new Promise<JobInfo>((resolve) =>
            conn.once('job-completed', (e) => resolve(e.info)),
          );
          await domain.backupBegin('<domainbackup/>', cp('b1'));
          expect((await finished).type).toBe('completed');
          expect((await domain.getJobInfo({ completed: true })).type).toBe('completed');
          expect(await names(domain.listCheckpoints())).toEqual(['b1']);
        }),
      );

      it(
        'refuses backup targets and checkpoint names XML cannot hold, starting no job',
        run(async ({ domain, files }) => {
          await prepare(domain);
          const before = files();
          const disk = /<target dev='([^']+)'/.exec(await domain.getXml())?.[1] ?? 'vda';
          for (const bad of NOT_XML) {
            const target = {
              disks: [
                {
                  name: disk,
                  backup: 'yes' as const,
                  type: 'file' as const,
                  store: { file: `/tmp/b${bad}` },
                },
              ],
            };
            expect(await codeOf(domain.backupBegin(target))).toBe('XML_DETAIL');
            expect(await codeOf(domain.backupBegin({}, { name: `k${bad}` }))).toBe('XML_DETAIL');
            expect(await codeOf(domain.backupBegin('<domainbackup/>', cp(`k${bad}`)))).toBe('XML_DETAIL');
          }
          expect(await codeOf(domain.getJobInfo())).toBe('ok');
          expect((await domain.getJobInfo()).type).toBe('none');
          expect(await domain.listCheckpoints()).toEqual([]);
          expect(files()).toEqual(before);
        }),
      );

      it(
        'runs a pull backup until abortJob, which completes it',
        run(async ({ conn, domain }) => {
          await prepare(domain);
          const seen: JobInfo[] = [];
          conn.on('job-completed', (e) => seen.push(e.info));
          await domain.backupBegin(
            "<domainbackup mode='pull'><server name='localhost' port='10809'/></domainbackup>",
          );
          expect(await domain.backupGetXml()).toMatch(/<domainbackup mode='pull'>[\s\S]*<scratch file=/);
          expect((await domain.getJobInfo()).type).toBe('unbounded');
          expect(await codeOf(domain.backupBegin('<domainbackup/>'))).toBe('OPERATION_INVALID');
          await domain.abortJob();
          expect(seen.map((i) => i.type)).toEqual(['completed']);
          expect(await codeOf(domain.backupGetXml())).toBe('NO_DOMAIN_BACKUP');
          expect(await codeOf(domain.abortJob())).toBe('OPERATION_INVALID');
        }),
      );
    });
  });
}
