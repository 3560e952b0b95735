// The batch loader: per-epoch shuffling, batch size, drop-last, a seed, prefetching, labels kept for
// evaluation, and SimCLR's two independently augmented views of every image.
//
// Epoch e visits the items in a permutation drawn from stream (seed, e); batch k takes the next
// batchSize usable items of it (items that fail to load are skipped and counted) and draws its
// augmentation parameters from stream (seed, e, k): same seed, same batches, whatever the timing.
// Prefetching: while the caller trains on batch k, batches k+1..k+prefetch are loaded, uploaded and
// augmented on the GPU (their work is queued behind the caller's, with no readback), so the next
// batch is ready before the current step finishes.
import { checkOptions, optionKeys } from '../engine/options.js';
import type { Tensor } from '../engine/tensor.js';
import { augmentOutput, augmentViews, uploadSources } from './augment.js';
import type { ImageDataset, Normalization } from './dataset.js';
import { resolveAugment, sampleView, NO_AUGMENT, type ResolvedAugment, type SimCLRAugmentOptions, type ViewParams } from './simclr.js';
import { STREAM_AUGMENT, STREAM_SHUFFLE, streamRng } from './seed.js';

export interface LoaderOptions {
  batchSize: number;
  /** Reshuffle every epoch (default true). */
  shuffle?: boolean;
  /** Drop the last, short batch (default false). */
  dropLast?: boolean;
  seed?: number;
  /** Batches prepared ahead of the one being used (default 1; 0 = prepared on demand). */
  prefetch?: number;
  /** Augmented views per image: 2 (default with augmentation) or 1. */
  views?: 1 | 2;
  /** SimCLR options (default: the paper's), or false for none (whole image, resized, normalized). */
  augment?: SimCLRAugmentOptions | false;
  /** Side or [height, width] of the views (default: the dataset's size). */
  outputSize?: number | [number, number];
  /** Default: the dataset's. */
  normalization?: Normalization;
  /** Where the end-of-epoch summary of skipped items goes (default console.warn). */
  onWarning?: (message: string) => void;
}

export interface Batch {
  epoch: number;
  index: number;
  /** One [size, C, H, W] tensor per view; views[v][i] is a view of image indices[i]. */
  views: Tensor[];
  /** Labels of the images (-1 for unlabeled datasets). */
  labels: Int32Array;
  /** Dataset indices of the images. */
  indices: Int32Array;
  /** params[v][i]: the augmentation drawn for view v of image i. */
  params: ViewParams[][];
  size: number;
  /** Disposes the view tensors. */
  dispose(): void;
}

export interface EpochSummary {
  epoch: number;
  batches: number;
  images: number;
  /** Items that failed to load and were skipped this epoch. */
  skipped: number;
  skippedItems: { index: number; name: string; reason: string }[];
  /** Usable items left out by dropLast. */
  dropped: number;
}

export interface LoaderStats {
  /** Batches handed out, and batches prepared (handed out or waiting in the prefetch queue). */
  batches: number;
  prepared: number;
  /** Total and last time next() waited for a batch that was not ready yet. */
  waitMs: number;
  lastWaitMs: number;
  /** next() calls whose batch was already prepared when asked, and whether the last one's was. */
  readyHits: number;
  lastReady: boolean;
}

const LOADER_OPTIONS = optionKeys<LoaderOptions>({
  batchSize: 1, shuffle: 1, dropLast: 1, seed: 1, prefetch: 1, views: 1, augment: 1, outputSize: 1, normalization: 1, onWarning: 1,
});

export class DataLoader {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly seed: number;
  readonly prefetch: number;
  readonly viewCount: 1 | 2;
  readonly augment: ResolvedAugment;
  readonly outHeight: number;
  readonly outWidth: number;
  readonly normalization: Normalization;
  private readonly warn: (m: string) => void;
  private nextEpoch = 0;
  /** The summary of the last finished epoch. */
  lastSummary: EpochSummary | null = null;
  readonly stats: LoaderStats = { batches: 0, prepared: 0, waitMs: 0, lastWaitMs: 0, readyHits: 0, lastReady: false };

  constructor(
    readonly dataset: ImageDataset,
    opts: LoaderOptions,
  ) {
    checkOptions('DataLoader', opts, LOADER_OPTIONS);
    const B = opts?.batchSize;
    if (!Number.isInteger(B) || B < 1) throw new Error(`DataLoader: batchSize must be a positive integer, got ${B}`);
    this.batchSize = B;
    this.shuffle = opts.shuffle ?? true;
    this.dropLast = opts.dropLast ?? false;
    this.seed = opts.seed ?? 0;
    if (!Number.isInteger(this.seed) || this.seed < 0) throw new Error(`DataLoader: seed must be a non-negative integer, got ${opts.seed}`);
    this.prefetch = opts.prefetch ?? 1;
    if (!Number.isInteger(this.prefetch) || this.prefetch < 0) throw new Error(`DataLoader: prefetch must be a non-negative integer, got ${opts.prefetch}`);
    const [oh, ow] = opts.outputSize === undefined ? [dataset.height, dataset.width] : Array.isArray(opts.outputSize) ? opts.outputSize : [opts.outputSize, opts.outputSize];
    if (![oh, ow].every((v) => Number.isInteger(v) && v > 0)) throw new Error(`DataLoader: outputSize must be positive integers, got ${JSON.stringify(opts.outputSize)}`);
    this.outHeight = oh;
    this.outWidth = ow;
    this.augment = resolveAugment(opts.augment === false ? NO_AUGMENT : (opts.augment ?? {}), oh, ow);
    this.viewCount = opts.views ?? (opts.augment === false ? 1 : 2);
    if (this.viewCount !== 1 && this.viewCount !== 2) throw new Error(`DataLoader: views must be 1 or 2, got ${opts.views}`);
    this.normalization = opts.normalization ?? dataset.normalization;
    const c = dataset.channels;
    if (this.normalization.mean.length !== c || this.normalization.std.length !== c) {
      throw new Error(`DataLoader: normalization needs ${c} means and stds for ${dataset.name}, got ${this.normalization.mean.length} and ${this.normalization.std.length}`);
    }
    if (this.normalization.std.some((s) => !(s > 0))) throw new Error(`DataLoader: normalization std must be > 0`);
    this.warn = opts.onWarning ?? ((m) => console.warn(m));
    if (dataset.length === 0) throw new Error(`DataLoader: ${dataset.name} is empty`);
  }

  /** Batches per epoch, counting items known to be unusable so far. */
  get length(): number {
    const usable = this.dataset.length - this.dataset.badItems().size;
    return this.dropLast ? Math.floor(usable / this.batchSize) : Math.ceil(usable / this.batchSize);
  }

  /** The visiting order of epoch e. */
  order(epoch: number): Int32Array {
    const n = this.dataset.length;
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    if (this.shuffle) streamRng(this.seed, epoch, STREAM_SHUFFLE).shuffle(idx);
    return idx;
  }

  /** Iterates epoch `epoch` (default: the one after the last started). */
  epoch(epoch?: number): AsyncIterableIterator<Batch> {
    const e = epoch ?? this.nextEpoch;
    if (!Number.isInteger(e) || e < 0) throw new Error(`DataLoader: epoch must be a non-negative integer, got ${epoch}`);
    this.nextEpoch = e + 1;
    return new EpochRun(this, e, this.warn);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Batch> {
    return this.epoch();
  }
}

class EpochRun implements AsyncIterableIterator<Batch> {
  private readonly order: Int32Array;
  private cursor = 0;
  private queue: Promise<Batch | null>[] = [];
  /** The queued productions that have settled. */
  private settled = new WeakSet<Promise<Batch | null>>();
  private chain: Promise<unknown> = Promise.resolve();
  private nextIndex = 0;
  private exhausted = false;
  private finished = false;
  private batches = 0;
  private images = 0;
  private dropped = 0;
  private skipped: number[] = [];

  constructor(
    private readonly L: DataLoader,
    private readonly epochNo: number,
    private readonly warn: (m: string) => void,
  ) {
    this.order = L.order(epochNo);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Batch> {
    return this;
  }

  /** Starts productions until `target` batches are queued. */
  private fill(target: number): void {
    while (!this.exhausted && this.queue.length < target) {
      const k = this.nextIndex++;
      const p = this.chain.then(() => this.produce(k));
      this.chain = p.then(
        (b) => {
          this.settled.add(p);
          if (b === null) this.exhausted = true;
        },
        () => {
          this.settled.add(p);
          this.exhausted = true;
        },
      );
      this.queue.push(p);
    }
  }

  private async produce(k: number): Promise<Batch | null> {
    if (this.exhausted) return null;
    const { dataset: ds, batchSize: B } = this.L;
    const got: { index: number; pixels: Uint8Array; label: number }[] = [];
    while (got.length < B && this.cursor < this.order.length) {
      const idxs = Array.from(this.order.subarray(this.cursor, this.cursor + (B - got.length)));
      this.cursor += idxs.length;
      const samples = await Promise.all(idxs.map((i) => ds.load(i)));
      samples.forEach((s, j) => {
        if (s) got.push({ index: idxs[j], pixels: s.pixels, label: s.label });
        else this.skipped.push(idxs[j]);
      });
    }
    if (got.length === 0) return null;
    if (got.length < B && this.L.dropLast) {
      this.dropped += got.length;
      return null;
    }
    const src = uploadSources(got.map((g) => g.pixels), ds.height, ds.width, ds.channels);
    const rng = streamRng(this.L.seed, this.epochNo, k, STREAM_AUGMENT);
    const params: ViewParams[][] = Array.from({ length: this.L.viewCount }, () => []);
    for (let i = 0; i < got.length; i++) {
      for (let v = 0; v < this.L.viewCount; v++) params[v].push(sampleView(rng, this.L.augment, i, ds.height, ds.width));
    }
    const out = augmentOutput(this.L.augment, this.L.outHeight, this.L.outWidth, this.L.normalization);
    let views: Tensor[] = [];
    try {
      views = params.map((p) => augmentViews(src, p, out));
    } catch (e) {
      for (const t of views) t.dispose();
      throw e;
    } finally {
      src.tensor.dispose();
    }
    this.batches++;
    this.images += got.length;
    this.L.stats.prepared++;
    return {
      epoch: this.epochNo,
      index: k,
      views,
      labels: Int32Array.from(got.map((g) => g.label)),
      indices: Int32Array.from(got.map((g) => g.index)),
      params,
      size: got.length,
      dispose: () => views.forEach((t) => t.dispose()),
    };
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    const ds = this.L.dataset;
    const bad = ds.badItems();
    const skippedItems = this.skipped.map((index) => ({ index, name: ds.describe(index), reason: bad.get(index) ?? 'failed to load' }));
    const summary: EpochSummary = { epoch: this.epochNo, batches: this.batches, images: this.images, skipped: this.skipped.length, skippedItems, dropped: this.dropped };
    this.L.lastSummary = summary;
    if (this.images === 0 && this.dropped === 0 && this.skipped.length === ds.length) {
      const first = skippedItems.slice(0, 3).map((s) => `${s.name}: ${s.reason}`).join('; ');
      throw new Error(`DataLoader: every one of the ${ds.length} items of ${ds.name} failed to load (${first}${ds.length > 3 ? '; …' : ''})`);
    }
    if (this.skipped.length > 0) {
      const names = skippedItems.slice(0, 5).map((s) => s.name).join(', ');
      this.warn(`[data] ${ds.name} epoch ${this.epochNo}: skipped ${this.skipped.length} of ${ds.length} items that failed to load (${names}${this.skipped.length > 5 ? ', …' : ''}); ${this.images} images in ${this.batches} batches`);
    }
  }

  async next(): Promise<IteratorResult<Batch>> {
    if (this.finished) return { value: undefined, done: true };
    this.fill(Math.max(1, this.L.prefetch));
    const t0 = performance.now();
    const head = this.queue.shift()!;
    const ready = this.settled.has(head);
    let b: Batch | null;
    try {
      b = await head;
    } catch (e) {
      await this.return();
      throw e;
    }
    const waited = performance.now() - t0;
    if (b === null) {
      await this.drain();
      this.finish();
      return { value: undefined, done: true };
    }
    this.L.stats.batches++;
    this.L.stats.waitMs += waited;
    this.L.stats.lastWaitMs = waited;
    this.L.stats.lastReady = ready;
    if (ready) this.L.stats.readyHits++;
    this.fill(this.L.prefetch); // the next batches are prepared while the caller uses this one
    return { value: b, done: false };
  }

  private async drain(): Promise<void> {
    const q = this.queue;
    this.queue = [];
    for (const p of q) {
      try {
        (await p)?.dispose();
      } catch {
        /* already reported through the batch that failed */
      }
    }
  }

  /** Stops the epoch early: prefetched batches are disposed. */
  async return(): Promise<IteratorResult<Batch>> {
    this.exhausted = true;
    await this.drain();
    this.finished = true;
    return { value: undefined, done: true };
  }
}
