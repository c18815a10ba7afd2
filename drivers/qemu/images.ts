import { constants } from 'node:fs';
import { access, realpath, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { VirtError, type DomainDef, type DomainDiskDef, type SnapshotDef } from 'virtkit';
import type { QemuContext } from './access.js';
import { diskFormat, imageStatError } from './domain-config.js';
import type { ImageInfo } from './qemu-img.js';

/**
 * A domain disk together with the image file it uses.
 *
 * @internal
 */
export interface DiskImage {
  readonly disk: DomainDiskDef;
  /** Absolute path of the disk's (top) image. */
  readonly path: string;
  /** Declared format (`qcow2` or `raw`). */
  readonly format: string;
}

/**
 * The image of domain disk `target` in `domain`.
 *
 * @throws `INTERNAL_ERROR` when the disk or its source is missing.
 * @internal
 */
export function diskImage(domain: DomainDef, target: string): DiskImage {
  const disk = domain.disks.find((d) => d.target === target);
  if (disk?.source === undefined) {
    throw new VirtError('INTERNAL_ERROR', `disk '${target}' has no image in the domain definition`, {
      driver: 'qemu',
    });
  }
  return { disk, path: disk.source, format: diskFormat(disk) };
}

/**
 * The images an internal snapshot lives in: the sources, at snapshot time, of the disks it
 * snapshotted internally.
 *
 * @internal
 */
export function internalSnapshotImages(def: SnapshotDef, fallback: DomainDef): DiskImage[] {
  const domain = def.domain ?? fallback;
  return (def.disks ?? []).filter((d) => d.snapshot === 'internal').map((d) => diskImage(domain, d.name));
}

/**
 * `qemu-img info` of one image (no backing chain).
 *
 * @internal
 */
export async function imageInfo(ctx: QemuContext, path: string): Promise<ImageInfo> {
  const [info] = await ctx.qemuImg.info(path);
  if (info === undefined)
    throw new VirtError('OPERATION_FAILED', `qemu-img info returned nothing for '${path}'`);
  return info;
}

/**
 * `qemu-img info` of several images, queried concurrently (read-only, independent).
 *
 * @internal
 */
export async function imageInfos(ctx: QemuContext, paths: readonly string[]): Promise<ImageInfo[]> {
  return Promise.all(paths.map((p) => imageInfo(ctx, p)));
}

/**
 * `qemu-img info` of the images of domain disks, after making sure each file is there, so
 * that a missing or inaccessible image is reported with its disk and path instead of a raw
 * qemu-img message.
 *
 * @throws `SYSTEM_ERROR` "unable to stat image of disk 'vda': '/path': No such file or
 * directory" (the Node error in `cause`).
 * @internal
 */
export async function diskImageInfos(ctx: QemuContext, images: readonly DiskImage[]): Promise<ImageInfo[]> {
  await Promise.all(images.map((i) => assertImagePresent(i.path, i.disk.target)));
  return imageInfos(
    ctx,
    images.map((i) => i.path),
  );
}

/**
 * Refuses a disk image that cannot be stat'ed, naming the disk and the path.
 *
 * @throws `SYSTEM_ERROR` (the Node error in `cause`, `details.disk`, `details.path`).
 * @internal
 */
export async function assertImagePresent(path: string, disk: string): Promise<void> {
  try {
    await stat(path);
  } catch (err) {
    throw imageStatError(disk, path, err);
  }
}

/**
 * `qemu-img info --backing-chain` of several images, queried concurrently.
 *
 * @internal
 */
export async function imageChains(ctx: QemuContext, paths: readonly string[]): Promise<ImageInfo[][]> {
  return Promise.all(paths.map((p) => imageChain(ctx, p)));
}

/**
 * `qemu-img info --backing-chain`: the top image first.
 *
 * @internal
 */
export async function imageChain(ctx: QemuContext, path: string): Promise<ImageInfo[]> {
  return ctx.qemuImg.info(path, { backingChain: true });
}

/**
 * Where an image's backing file is, resolved against the image's directory.
 *
 * @internal
 */
export function backingPath(image: string, info: ImageInfo): string | undefined {
  const b = info.fullBackingFilename ?? info.backingFilename;
  return b === undefined ? undefined : resolve(dirname(image), b);
}

/**
 * The canonical path of an existing file, or the path itself when it cannot be resolved.
 *
 * @internal
 */
export async function canonical(path: string): Promise<string> {
  return realpath(path).catch(() => resolve(path));
}

/**
 * The size of a file, or `undefined` when it does not exist.
 *
 * @internal
 */
export async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new VirtError('SYSTEM_ERROR', `unable to stat '${path}': ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Refuses an image that does not exist or that this process may not write.
 *
 * @throws `OPERATION_INVALID` naming the image.
 * @internal
 */
export async function assertWritable(path: string, what: string): Promise<void> {
  try {
    await access(path, constants.R_OK | constants.W_OK);
  } catch (err) {
    throw new VirtError(
      'OPERATION_INVALID',
      `image '${path}' of ${what} is not writable: ${(err as Error).message}`,
      {
        cause: err,
        driver: 'qemu',
      },
    );
  }
}

/**
 * Checks that `image` really is a `format` image (the definition may lie).
 *
 * @throws `CONFIG_UNSUPPORTED` on a mismatch.
 * @internal
 */
export function assertFormat(image: DiskImage, info: ImageInfo): void {
  if (info.format !== image.format) {
    throw new VirtError(
      'CONFIG_UNSUPPORTED',
      `disk '${image.disk.target}' is declared as ${image.format} but image '${image.path}' is ${info.format}`,
    );
  }
}

/**
 * The persistent bitmaps an image holds that external snapshots carry into a new overlay:
 * recording (`auto`) and consistent (not `in-use`), as libvirt copies them.
 *
 * @internal
 */
export function recordingBitmaps(info: ImageInfo): ImageInfo['bitmaps'] {
  return info.bitmaps.filter((b) => b.flags.includes('auto') && !b.flags.includes('in-use'));
}
