// A folder of PNG/JPEG images as a dataset. Layout: a root with one sub-folder per class (labels are
// the indices of the sorted folder names; files anywhere below a class folder belong to it), or a
// flat folder of files (unlabeled, label -1). Every regular, non-hidden file is an item; its format
// is told by its bytes. Files are decoded lazily (on the main thread, or on worker threads when
// `workers` > 0), fitted to the configured size and kept in a byte-bounded LRU cache, so a folder
// bigger than memory works. A file that cannot be used (corrupt, truncated, empty, not an image,
// unreadable) gives one warning naming it and is skipped from then on: load() returns null.
import { readdirSync, statSync, type Dirent } from 'node:fs';
import { join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { checkOptions, optionKeys } from '../engine/options.js';
import { checkIndex, IMAGENET_NORMALIZATION, type ImageDataset, type Normalization, type Sample } from './dataset.js';
import { DecodePool } from './decode_pool.js';
import { ByteLRU } from './lru.js';
import { loadImageFile, type Fit, type Target } from './load_image.js';

export interface ImageFolderOptions {
  /** Side (or [height, width]) every image is resized to. Required. */
  size: number | [number, number];
  /** 3 (RGB, default) or 1 (gray, ITU-R 601 luma). */
  channels?: 1 | 3;
  /** 'stretch' (default: the whole image, aspect not kept) or 'center-crop' (shorter side fitted, centre kept). */
  fit?: Fit;
  /** Budget of the decoded-image cache in bytes (default 512 MiB). */
  cacheBytes?: number;
  /** Decode worker threads (default: cores − 2, at most 8; 0 decodes on the main thread). */
  workers?: number;
  normalization?: Normalization;
  /** Where warnings go (default console.warn). */
  onWarning?: (message: string) => void;
}

export function defaultDecodeWorkers(): number {
  return Math.max(0, Math.min(8, availableParallelism() - 2));
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function isHidden(name: string): boolean {
  return name.startsWith('.');
}

function listFiles(dir: string, out: string[]): void {
  const entries = readdirSync(dir, { withFileTypes: true }).filter((e) => !isHidden(e.name));
  entries.sort((a, b) => byName(a.name, b.name));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (isDir(p, e)) listFiles(p, out);
    else if (isFile(p, e)) out.push(p);
  }
}

function isDir(p: string, e: Dirent): boolean {
  if (e.isDirectory()) return true;
  if (e.isSymbolicLink()) {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  }
  return false;
}

function isFile(p: string, e: Dirent): boolean {
  // symlinks to files (and broken links, which fail later with a warning) count as files
  return e.isFile() || (e.isSymbolicLink() && !isDir(p, e));
}

const IMAGE_FOLDER_OPTIONS = optionKeys<ImageFolderOptions>({ size: 1, channels: 1, fit: 1, cacheBytes: 1, workers: 1, normalization: 1, onWarning: 1 });

export class ImageFolder implements ImageDataset {
  readonly name: string;
  readonly root: string;
  readonly files: string[];
  readonly labels: Int32Array;
  readonly classes: string[] | null;
  readonly height: number;
  readonly width: number;
  readonly channels: 1 | 3;
  readonly normalization: Normalization;
  readonly fit: Fit;
  private readonly cache: ByteLRU<number, Uint8Array>;
  private readonly inflight = new Map<number, Promise<Uint8Array | null>>();
  private readonly bad = new Map<number, string>();
  private readonly warn: (m: string) => void;
  private pool: DecodePool | null = null;
  private readonly workerCount: number;
  /** Number of files decoded so far (cache misses that reached the decoder). */
  decodes = 0;

  constructor(root: string, opts: ImageFolderOptions) {
    this.root = resolve(root);
    this.name = `ImageFolder(${this.root})`;
    checkOptions('ImageFolder', opts, IMAGE_FOLDER_OPTIONS);
    if (!opts || opts.size === undefined) throw new Error(`ImageFolder: options.size is required (the side images are resized to)`);
    const [h, w] = Array.isArray(opts.size) ? opts.size : [opts.size, opts.size];
    if (![h, w].every((v) => Number.isInteger(v) && v > 0)) throw new Error(`ImageFolder: size must be positive integers, got ${JSON.stringify(opts.size)}`);
    this.height = h;
    this.width = w;
    const channels = opts.channels ?? 3;
    if (channels !== 1 && channels !== 3) throw new Error(`ImageFolder: channels must be 1 or 3, got ${channels}`);
    this.channels = channels;
    this.fit = opts.fit ?? 'stretch';
    if (this.fit !== 'stretch' && this.fit !== 'center-crop') throw new Error(`ImageFolder: fit must be 'stretch' or 'center-crop', got '${this.fit}'`);
    this.warn = opts.onWarning ?? ((m) => console.warn(m));
    this.cache = new ByteLRU(opts.cacheBytes ?? 512 * 2 ** 20);
    this.workerCount = opts.workers ?? defaultDecodeWorkers();
    if (!Number.isInteger(this.workerCount) || this.workerCount < 0) throw new Error(`ImageFolder: workers must be a non-negative integer, got ${opts.workers}`);
    this.normalization = opts.normalization ?? (channels === 3 ? IMAGENET_NORMALIZATION : { mean: [0.5], std: [0.5] });
    if (this.normalization.mean.length !== channels || this.normalization.std.length !== channels) {
      throw new Error(`ImageFolder: normalization needs ${channels} means and stds`);
    }

    let st;
    try {
      st = statSync(this.root);
    } catch {
      throw new Error(`ImageFolder: ${this.root} does not exist`);
    }
    if (!st.isDirectory()) throw new Error(`ImageFolder: ${this.root} is not a folder`);
    const top = readdirSync(this.root, { withFileTypes: true }).filter((e) => !isHidden(e.name));
    const dirs = top.filter((e) => isDir(join(this.root, e.name), e)).map((e) => e.name).sort(byName);
    const files: string[] = [];
    const labels: number[] = [];
    if (dirs.length > 0) {
      this.classes = dirs;
      dirs.forEach((d, label) => {
        const before = files.length;
        listFiles(join(this.root, d), files);
        for (let i = before; i < files.length; i++) labels.push(label);
      });
      const loose = top.filter((e) => isFile(join(this.root, e.name), e)).map((e) => e.name);
      if (loose.length) {
        this.warn(`[data] ${this.name}: ignoring ${loose.length} file(s) at the top of a class-folder root (${loose.slice(0, 3).join(', ')}${loose.length > 3 ? ', …' : ''})`);
      }
    } else {
      this.classes = null;
      listFiles(this.root, files);
      for (let i = 0; i < files.length; i++) labels.push(-1);
    }
    if (files.length === 0) throw new Error(`ImageFolder: no files under ${this.root}`);
    this.files = files;
    this.labels = Int32Array.from(labels);
  }

  get length(): number {
    return this.files.length;
  }

  private target(): Target {
    return { height: this.height, width: this.width, channels: this.channels, fit: this.fit };
  }

  private async decode(index: number): Promise<Uint8Array | null> {
    const path = this.files[index];
    try {
      this.decodes++;
      if (this.workerCount > 0 && !this.pool) this.pool = new DecodePool(this.workerCount);
      const px = this.pool ? await this.pool.run(path, this.target()) : await loadImageFile(path, this.target());
      this.cache.set(index, px);
      return px;
    } catch (e) {
      const reason = (e as Error).message;
      if (!this.bad.has(index)) {
        this.bad.set(index, reason);
        this.warn(`[data] skipping ${path}: ${reason}`);
      }
      return null;
    }
  }

  async load(index: number): Promise<Sample | null> {
    checkIndex(this, index);
    if (this.bad.has(index)) return null;
    const hit = this.cache.get(index);
    if (hit) return { pixels: hit, label: this.labels[index] };
    let p = this.inflight.get(index);
    if (!p) {
      p = this.decode(index).finally(() => this.inflight.delete(index));
      this.inflight.set(index, p);
    }
    const px = await p;
    return px ? { pixels: px, label: this.labels[index] } : null;
  }

  badItems(): ReadonlyMap<number, string> {
    return this.bad;
  }

  describe(index: number): string {
    return this.files[index];
  }

  cacheStats(): { bytes: number; entries: number; maxBytes: number; hits: number; misses: number } {
    return { bytes: this.cache.bytes, entries: this.cache.size, maxBytes: this.cache.maxBytes, hits: this.cache.hits, misses: this.cache.misses };
  }

  /** Stops the decode workers (the folder can still be read afterwards: a new pool starts on demand). */
  async close(): Promise<void> {
    const p = this.pool;
    this.pool = null;
    if (p) await p.close();
  }
}
