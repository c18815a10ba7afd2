// What the fault-injection sweep compares: everything a user and qemu-img can see of the
// domain, with temp paths and revert timestamps normalised.
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { isVirtError, type DomainCheckpoint, type DomainSnapshot } from 'virtkit';
import { bitmapStates } from './qcow2-bitmaps.js';
import type { Fixture } from './qemu-crash-scenarios.js';
import { currentSources, MODEL_SLOTS, snapshotImages } from './qemu-external-model.js';
import { img, info, listTree, open, QEMU_IO, SLOT } from './qemu-fixture.js';

/**
 * The first and last byte of every data slot as read through the image's backing chain
 * (every write fills a whole slot with one pattern), e.g. `05/05 00/00 …`.
 */
export function contentOf(path: string, format: string): string {
  const cmds = Array.from({ length: MODEL_SLOTS }, (_, s) => [
    '-c',
    `read -v ${s * SLOT} 1`,
    '-c',
    `read -v ${(s + 1) * SLOT - 1} 1`,
  ]).flat();
  const r = spawnSync(QEMU_IO ?? 'qemu-io', ['-r', '-U', '-f', format, ...cmds, path], { encoding: 'utf8' });
  if (r.status !== 0) return `unreadable: ${r.stderr.trim()}`;
  const bytes = [...r.stdout.matchAll(/^[0-9a-f]{8}:\s+([0-9a-f]{2})/gm)].map((m) => m[1]);
  const slots: string[] = [];
  for (let s = 0; s < MODEL_SLOTS; s++) slots.push(`${bytes[2 * s] ?? '??'}/${bytes[2 * s + 1] ?? '??'}`);
  return slots.join(' ');
}

async function treeOf(
  list: () => Promise<(DomainSnapshot | DomainCheckpoint)[]>,
): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const m of await list()) {
    try {
      out[m.name] = (await m.getParent()).name;
    } catch (err) {
      if (!isVirtError(err)) throw err;
      out[m.name] = null;
    }
  }
  return out;
}

/** The data of internal snapshot `snap` of an image (read from a converted copy). */
function internalContent(path: string, snap: string, f: Fixture): string {
  const copy = `${f.world.dir}/check.qcow2`;
  img(['convert', '-U', '-l', `snapshot.name=${snap}`, '-O', 'qcow2', path, copy]);
  try {
    return contentOf(copy, 'qcow2');
  } finally {
    rmSync(copy, { force: true });
  }
}

/** What a user (and qemu-img) can see of the domain `vm` of a fixture. */
export async function observe(f: Fixture): Promise<unknown> {
  const conn = await open(f.world);
  try {
    const dom = await conn.lookupDomainByName('vm');
    const xml = await dom.getXml();
    const sources = await currentSources(dom);
    const snapshots: Record<string, unknown> = {};
    for (const s of await dom.listSnapshots()) {
      const images = await snapshotImages(s);
      snapshots[s.name] = {
        xml: await s.getXml(),
        data: images.map((d) => (d.mode === 'external' ? contentOf(d.source.path, d.source.format) : d.mode)),
      };
    }
    const images: Record<string, unknown> = {};
    for (const file of readdirSync(f.world.images).sort()) {
      const path = `${f.world.images}/${file}`;
      const i = info(path);
      const internal = (i.snapshots ?? []).map((s) => s.name).sort();
      images[file] =
        i.format === 'qcow2'
          ? {
              snapshots: internal,
              data: internal.map((s) => internalContent(path, s, f)),
              // names, flags, granularity and dirty extents: a lost merge shows
              bitmaps: bitmapStates(path),
              backing: i['full-backing-filename'] ?? null,
            }
          : i.format;
    }
    const observed = {
      snapshots: await treeOf(() => dom.listSnapshots()),
      snapshotData: snapshots,
      current: (await dom.hasCurrentSnapshot()) ? (await dom.currentSnapshot()).name : null,
      checkpoints: await treeOf(() => dom.listCheckpoints()),
      domain: xml,
      data: sources.map((s) => contentOf(s.path, s.format)),
      images,
      root: listTree(f.world.root).filter((p) => p !== 'run/vm/generation'),
    };
    const text = JSON.stringify(observed)
      .replaceAll(f.world.dir, '<W>')
      .replace(/revert-\d+(-\d+)?/g, 'revert-T$1')
      .replace(/<creationTime>\d+<\/creationTime>/g, '<creationTime/>');
    return JSON.parse(text) as unknown;
  } finally {
    await conn.close();
  }
}
