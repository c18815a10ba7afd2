import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'virtkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, MALFORMED, openWorld, outcome, sortedNames } from './test-helpers.js';

const NS = "xmlns:test='http://libvirt.org/schemas/domain/test/1.0'";

const dom = (name: string, uuid: string, extra = '') => `<domain type='test' ${NS}>
    <name>${name}</name>
    <uuid>${uuid}</uuid>
    <memory>1024</memory>
    <os><type>hvm</type></os>
    <devices>
      <disk type='file' device='disk'><source file='/img/${name}.qcow2'/><target dev='vda'/></disk>
    </devices>${extra}
  </domain>`;

const snap = (name: string, parent: string | undefined, active: 0 | 1, withDomain = true) => `
    <test:domainsnapshot>
      <name>${name}</name>
      <state>shutoff</state>${parent === undefined ? '' : `\n      <parent><name>${parent}</name></parent>`}
      <creationTime>1000</creationTime>
      <memory snapshot='no'/>
      ${withDomain ? dom('snapdom', '11111111-2222-3333-4444-000000000001').replace(` ${NS}`, '') : ''}
      <active>${active}</active>
    </test:domainsnapshot>`;

let dir: string;

async function node(file: string, body: string): Promise<string> {
  const path = join(dir, file);
  await writeFile(path, `<node>\n  ${body}\n</node>\n`);
  return `test://${path}`;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtkit-node-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('node files', () => {
  it('loads domains with runstate, transient and ids in document order, without the test namespace', async () => {
    const uri = await node(
      'states.xml',
      [
        dom('a', '11111111-2222-3333-4444-000000000001', '\n    <test:runstate>5</test:runstate>'),
        dom('b', '11111111-2222-3333-4444-000000000002', '\n    <test:transient/>'),
        dom('c', '11111111-2222-3333-4444-000000000003', '\n    <test:runstate>3</test:runstate>'),
      ].join('\n'),
    );
    await using w = await openWorld(uri);
    const state = async (n: string) => {
      const d = await w.conn.lookupDomainByName(n);
      return [await d.getState(), await d.isPersistent(), /id='(\d+)'/.exec(await d.getXml())?.[1]];
    };
    expect(await state('a')).toEqual([{ state: 'shutoff', reason: 'UNKNOWN' }, true, undefined]);
    expect(await state('b')).toEqual([{ state: 'running', reason: 'UNKNOWN' }, false, '1']);
    expect(await state('c')).toEqual([{ state: 'paused', reason: 'UNKNOWN' }, true, '2']);
    const xml = await (await w.conn.lookupDomainByName('a')).getXml();
    expect(xml).not.toContain('test:');
    expect(xml.startsWith("<domain type='test'>\n  <name>a</name>")).toBe(true);
  });

  it('loads snapshots as redefinitions, the active one current', async () => {
    const uri = await node(
      'snaps.xml',
      dom(
        'd',
        '11111111-2222-3333-4444-000000000001',
        snap('s1', undefined, 0) + snap('s2', 's1', 1) + snap('s3', 's1', 0),
      ),
    );
    await using w = await openWorld(uri);
    expect((await w.domain.currentSnapshot()).name).toBe('s2');
    const s1 = await w.domain.lookupSnapshotByName('s1');
    expect(sortedNames(await s1.listChildren())).toEqual(['s2', 's3']);
    expect(await s1.getXml()).not.toContain('<active>');
  });

  it('refuses two active snapshots and broken relations', async () => {
    const two = await node(
      'two.xml',
      dom('d', '11111111-2222-3333-4444-000000000001', snap('s1', undefined, 1) + snap('s2', 's1', 1)),
    );
    expect(await outcome(connect(two))).toBe('INTERNAL_ERROR: more than one snapshot claims to be active');
    const orphan = await node(
      'orphan.xml',
      dom('d', '11111111-2222-3333-4444-000000000001', snap('s2', 'gone', 0)),
    );
    expect(await outcome(connect(orphan))).toBe(
      'INTERNAL_ERROR: snapshots have inconsistent relations for domain d',
    );
  });

  it('follows file= references relative to the node file', async () => {
    await writeFile(
      join(dir, 'dom-f.xml'),
      dom('f', '11111111-2222-3333-4444-00000000000f', `\n    <test:domainsnapshot file='snap-f.xml'/>`),
    );
    await writeFile(
      join(dir, 'snap-f.xml'),
      snap('sf', undefined, 1).replace(/test:domainsnapshot/g, 'domainsnapshot'),
    );
    await using w = await openWorld(await node('files.xml', "<domain file='dom-f.xml'/>"));
    expect(w.domain.name).toBe('f');
    expect((await w.domain.currentSnapshot()).name).toBe('sf');
  });

  it('refuses a revert to a snapshot without domain definition', async () => {
    const uri = await node(
      'risky.xml',
      dom('d', '11111111-2222-3333-4444-000000000001', snap('s1', undefined, 1, false)),
    );
    await using w = await openWorld(uri);
    expect(await outcome((await w.domain.lookupSnapshotByName('s1')).revert())).toBe(
      "SNAPSHOT_REVERT_RISKY: snapshot 's1' lacks domain 'd' rollback info",
    );
  });

  it('keeps a managed save image that undefine must be told about', async () => {
    const uri = await node(
      'saved.xml',
      dom(
        'm',
        '11111111-2222-3333-4444-000000000001',
        '\n    <test:runstate>5</test:runstate>\n    <test:hasmanagedsave/>',
      ),
    );
    await using w = await openWorld(uri);
    expect(await outcome(w.domain.undefine())).toBe(
      'OPERATION_INVALID: refusing to undefine while domain managed save image exists',
    );
    await w.domain.undefine({ managedSave: true });
    expect(await w.conn.listDomains()).toEqual([]);
  });

  it('loads checkpoints (virtkit extension) and makes the single leaf current', async () => {
    const cp = (name: string, parent?: string) =>
      `\n    <test:domaincheckpoint><name>${name}</name>${parent ? `<parent><name>${parent}</name></parent>` : ''}<creationTime>5</creationTime></test:domaincheckpoint>`;
    const uri = await node(
      'cps.xml',
      dom('k', '11111111-2222-3333-4444-000000000001', cp('c1') + cp('c2', 'c1')),
    );
    await using w = await openWorld(uri);
    const next = await w.domain.createCheckpoint('<domaincheckpoint><name>c3</name></domaincheckpoint>');
    expect((await next.getParent()).name).toBe('c2');
  });

  it('reports unreadable, malformed and invalid node files', async () => {
    expect(await outcome(connect(`test://${join(dir, 'missing.xml')}`))).toMatch(
      new RegExp(`^OPEN_FAILED: cannot read test driver node file '${join(dir, 'missing.xml')}'`),
    );
    expect(await codeOf(connect(await node('bad.xml', '<domain')))).toMatch(MALFORMED);
    await writeFile(join(dir, 'root.xml'), '<nodes/>');
    expect(await outcome(connect(`test://${join(dir, 'root.xml')}`))).toBe(
      "XML_ERROR: expecting root element of 'node', not 'nodes'",
    );
    const bad = async (extra: string) =>
      outcome(connect(await node('ext.xml', dom('x', '11111111-2222-3333-4444-000000000001', extra))));
    expect(await bad('<test:runstate>9</test:runstate>')).toBe("XML_ERROR: runstate '9' out of range");
    expect(await bad('<test:runstate>x</test:runstate>')).toBe('XML_ERROR: invalid runstate');
    expect(await bad('<test:transient/><test:runstate>5</test:runstate>')).toBe(
      "XML_ERROR: transient domain cannot have runstate 'shutoff'",
    );
    expect(await bad('<test:hasmanagedsave/>')).toBe(
      "XML_ERROR: domain with managedsave data can only have runstate 'shutoff'",
    );
    const disk = (p: string) => `<disk type='file'><source file='${p}'/><target dev='sda'/></disk>`;
    expect(
      await outcome(
        connect(
          await node(
            'dup.xml',
            dom('x', '11111111-2222-3333-4444-000000000001').replace(
              '</devices>',
              `${disk('/1')}${disk('/2')}</devices>`,
            ),
          ),
        ),
      ),
    ).toBe("XML_ERROR: target 'sda' duplicated for disk sources '/1' and '/2'");
    const twice = dom('x', '11111111-2222-3333-4444-000000000001');
    expect(await codeOf(connect(await node('twice.xml', twice + twice)))).toBe('OPERATION_FAILED');
  });
});
