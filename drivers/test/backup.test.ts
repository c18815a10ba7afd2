import { connect, type JobInfo } from 'virtkit';
import { describe, expect, it } from 'vitest';
import { codeOf, MALFORMED, openWorld, outcome, sortedNames, type OpenWorld } from './test-helpers.js';

const GIB = 1024 * 1024 * 1024;
const PULL = "<domainbackup mode='pull'><server name='localhost' port='10809'/></domainbackup>";

function jobEvents(w: OpenWorld): JobInfo[] {
  const seen: JobInfo[] = [];
  w.conn.on('job-completed', (e) => seen.push(e.info));
  return seen;
}

describe('push backup', () => {
  it('fills libvirt defaults: every disk, generated target named after the clock', async () => {
    await using w = await openWorld();
    await w.domain.backupBegin('<domainbackup/>');
    expect(await w.domain.backupGetXml()).toBe(`<domainbackup mode='push'>
  <disks>
    <disk name='vda' backup='yes' type='file' backupmode='full'>
      <driver type='qcow2'/>
      <target file='/guest/diskimage1.1700000000'/>
    </disk>
  </disks>
</domainbackup>
`);
  });

  it('progresses with the connection clock and completes once, with JOB_COMPLETED', async () => {
    await using w = await openWorld();
    const done = jobEvents(w);
    await w.domain.backupBegin('<domainbackup/>');
    expect(await w.domain.getJobInfo()).toEqual({
      type: 'unbounded',
      operation: 'backup',
      timeElapsed: 0,
      dataTotal: GIB,
      dataProcessed: 0,
      dataRemaining: GIB,
    });
    w.now += 50;
    expect(await w.domain.getJobInfo()).toMatchObject({
      type: 'unbounded',
      timeElapsed: 50,
      dataProcessed: GIB / 2,
    });
    expect(done).toEqual([]);
    w.now += 50;
    expect(await w.domain.getJobInfo()).toEqual({ type: 'none' });
    const completed = {
      type: 'completed',
      operation: 'backup',
      timeElapsed: 100,
      dataTotal: GIB,
      dataProcessed: GIB,
      dataRemaining: 0,
    };
    expect(done).toEqual([completed]);
    expect(await w.domain.getJobInfo({ completed: true, keepCompleted: true })).toEqual(completed);
    expect(await w.domain.getJobInfo({ completed: true })).toEqual(completed);
    expect(await w.domain.getJobInfo({ completed: true })).toEqual({ type: 'none' });
    expect(await outcome(w.domain.backupGetXml())).toBe('NO_DOMAIN_BACKUP: no domain backup job present');
    expect(await outcome(w.domain.abortJob())).toBe('OPERATION_INVALID: no job is active on the domain');
  });

  it('is cancelled by abortJob', async () => {
    await using w = await openWorld();
    const done = jobEvents(w);
    await w.domain.backupBegin('<domainbackup/>');
    w.now += 25;
    await w.domain.abortJob();
    expect(done).toEqual([
      {
        type: 'cancelled',
        operation: 'backup',
        timeElapsed: 25,
        dataTotal: GIB,
        dataProcessed: GIB / 4,
        dataRemaining: (GIB * 3) / 4,
      },
    ]);
  });

  it('backs up incrementally from a checkpoint and creates the new one atomically', async () => {
    await using w = await openWorld();
    await w.domain.createCheckpoint('<domaincheckpoint><name>c1</name></domaincheckpoint>');
    await w.domain.backupBegin(
      '<domainbackup><incremental>c1</incremental></domainbackup>',
      '<domaincheckpoint><name>c2</name></domaincheckpoint>',
    );
    expect(await w.domain.backupGetXml()).toContain(
      "<disk name='vda' backup='yes' type='file' backupmode='incremental' incremental='c1'>\n      <driver type='qcow2'/>\n      <target file='/guest/diskimage1.c2'/>",
    );
    expect(await w.domain.getJobInfo()).toMatchObject({ dataTotal: 1024 });
    expect((await (await w.domain.lookupCheckpointByName('c2')).getParent()).name).toBe('c1');
  });

  it('completes by itself on a real clock', async () => {
    await using conn = await connect('test:///default', { driverOptions: { backupDurationMs: 5 } });
    const domain = await conn.lookupDomainByName('test');
    const finished = new Promise<JobInfo>((resolve) => conn.once('job-completed', (e) => resolve(e.info)));
    await domain.backupBegin('<domainbackup/>');
    expect((await finished).type).toBe('completed');
  });
});

describe('pull backup', () => {
  it('exports every disk until abortJob, which completes it', async () => {
    await using w = await openWorld();
    const done = jobEvents(w);
    await w.domain.backupBegin(PULL, '<domaincheckpoint><name>ck</name></domaincheckpoint>');
    expect(await w.domain.backupGetXml()).toBe(`<domainbackup mode='pull'>
  <server transport='tcp' name='localhost' port='10809'/>
  <disks>
    <disk name='vda' backup='yes' type='file' backupmode='full' exportname='vda'>
      <driver type='qcow2'/>
      <scratch file='/guest/diskimage1.ck'/>
    </disk>
  </disks>
</domainbackup>
`);
    w.now += 60_000;
    expect(await w.domain.getJobInfo()).toEqual({
      type: 'unbounded',
      operation: 'backup',
      timeElapsed: 60_000,
      tempTotal: GIB,
      tempUsed: 0,
    });
    await w.domain.abortJob();
    expect(done.map((i) => i.type)).toEqual(['completed']);
  });

  it('names the export bitmap of an incremental pull and accepts a unix socket', async () => {
    await using w = await openWorld();
    await w.domain.createCheckpoint('<domaincheckpoint><name>c1</name></domaincheckpoint>');
    await w.domain.backupBegin(
      "<domainbackup mode='pull'><incremental>c1</incremental><server transport='unix' socket='/run/nbd.sock'/></domainbackup>",
    );
    const xml = await w.domain.backupGetXml();
    expect(xml).toContain("<server transport='unix' socket='/run/nbd.sock'/>");
    expect(xml).toContain("exportname='vda' exportbitmap='backup-vda'");
  });
});

describe('backup errors and interactions', () => {
  it('refuses what libvirt refuses and leaves no job or checkpoint behind', async () => {
    await using w = await openWorld();
    await w.domain.createCheckpoint('<domaincheckpoint><name>c1</name></domaincheckpoint>');
    const begin = (xml: string, cp?: string) => outcome(w.domain.backupBegin(xml, cp));
    expect(await begin("<domainbackup mode='pull'><server name='localhost'/></domainbackup>")).toBe(
      'OPERATION_UNSUPPORTED: <domainbackup> must specify TCP port for now',
    );
    expect(await begin('<domainbackup><incremental>nope</incremental></domainbackup>')).toBe(
      "NO_DOMAIN_CHECKPOINT: no domain checkpoint with matching name 'nope'",
    );
    expect(await begin("<domainbackup><disks><disk name='vda' backup='no'/></disks></domainbackup>")).toBe(
      'CONFIG_UNSUPPORTED: no disks selected for backup',
    );
    expect(await codeOf(w.domain.backupBegin('<domainbackup'))).toMatch(MALFORMED);
    expect(
      await codeOf(w.domain.backupBegin("<domainbackup><disks><disk name='vdz'/></disks></domainbackup>")),
    ).toBe('CONFIG_UNSUPPORTED');
    expect(await begin('<domainbackup/>', '<domaincheckpoint><name>c1</name></domaincheckpoint>')).toBe(
      'OPERATION_FAILED: domain moment c1 already exists',
    );
    expect(await codeOf(w.domain.backupGetXml())).toBe('NO_DOMAIN_BACKUP');
    expect(sortedNames(await w.domain.listCheckpoints())).toEqual(['c1']);
    await w.domain.backupBegin('<domainbackup/>');
    expect(await begin('<domainbackup/>')).toBe('OPERATION_INVALID: another backup job is already running');
    await w.domain.abortJob();
    await w.domain.destroy();
    expect(await begin('<domainbackup/>')).toBe(
      'OPERATION_UNSUPPORTED: cannot perform disk backup for inactive domain',
    );
    expect(await codeOf(w.domain.backupBegin('<domainbackup/>', undefined, { reuseExternal: true }))).toBe(
      'OPERATION_UNSUPPORTED',
    );
  });

  it('fails the job when the domain stops under it', async () => {
    await using w = await openWorld();
    const done = jobEvents(w);
    await w.domain.backupBegin(PULL);
    await w.domain.destroy();
    expect(done).toEqual([
      {
        type: 'failed',
        operation: 'backup',
        timeElapsed: 0,
        tempTotal: GIB,
        tempUsed: 0,
        errorMessage: 'domain is not running',
      },
    ]);
    expect(w.events).toEqual(['test STOPPED/DESTROYED']);
  });

  it('holds a guest shutdown back until the job ends with preserveShutdownDomain', async () => {
    await using w = await openWorld();
    const done = jobEvents(w);
    await w.domain.backupBegin(PULL, undefined, { preserveShutdownDomain: true });
    await w.domain.shutdown();
    expect(await w.domain.getState()).toEqual({ state: 'paused', reason: 'SHUTTING_DOWN' });
    await w.domain.abortJob();
    expect(done.map((i) => i.type)).toEqual(['completed']);
    expect(w.events).toEqual(['test SUSPENDED/GUEST_SHUTDOWN', 'test STOPPED/SHUTDOWN']);
    expect(await w.domain.getState()).toEqual({ state: 'shutoff', reason: 'SHUTDOWN' });
  });
});
