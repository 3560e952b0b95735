// The dataset contract the loader reads: a fixed number of images of one size and channel count,
// stored as 8-bit HWC pixels, each with an integer label (-1 when the dataset is unlabeled).
// `load` may be asynchronous (files decoded on demand) and returns null for an unusable item: the
// dataset has already warned about it once, and the loader skips it and counts it.
import { checkOptions } from '../engine/options.js';

export interface Sample {
  /** height × width × channels bytes, row-major, channels interleaved. */
  pixels: Uint8Array;
  /** Class index, or -1 for an unlabeled dataset. */
  label: number;
}

export interface Normalization {
  mean: number[];
  std: number[];
}

export interface ImageDataset {
  readonly name: string;
  readonly length: number;
  readonly height: number;
  readonly width: number;
  readonly channels: 1 | 3;
  /** Class names in label order, or null when unlabeled. */
  readonly classes: string[] | null;
  /** Per-channel statistics the loader normalizes with unless told otherwise. */
  readonly normalization: Normalization;
  load(index: number): Sample | null | Promise<Sample | null>;
  /** Indices found unusable so far, with the reason (datasets that cannot fail return an empty map). */
  badItems(): ReadonlyMap<number, string>;
  /** A name for item `index` in messages (a file path for folders). */
  describe(index: number): string;
}

/** ImageNet's statistics (the default for RGB folders, as in SimCLR). */
export const IMAGENET_NORMALIZATION: Normalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

export function checkIndex(ds: { name: string; length: number }, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= ds.length) {
    throw new Error(`${ds.name}: index ${index} out of range [0, ${ds.length})`);
  }
}

/** In-memory images (all the same size): the base of Fashion-MNIST and a convenience for tests. */
export class ArrayDataset implements ImageDataset {
  readonly length: number;
  readonly classes: string[] | null;
  readonly normalization: Normalization;
  private readonly stride: number;

  constructor(
    readonly name: string,
    private readonly images: Uint8Array,
    /** Labels of every image (for evaluation), or null. */
    readonly labels: Int32Array | Uint8Array | null,
    readonly height: number,
    readonly width: number,
    readonly channels: 1 | 3,
    opts: { classes?: string[] | null; normalization?: Normalization } = {},
  ) {
    checkOptions(name, opts, ['classes', 'normalization']);
    if (channels !== 1 && channels !== 3) throw new Error(`${name}: channels must be 1 or 3, got ${channels}`);
    if (!(Number.isInteger(height) && height > 0 && Number.isInteger(width) && width > 0)) {
      throw new Error(`${name}: image size must be positive integers, got ${height}x${width}`);
    }
    this.stride = height * width * channels;
    if (images.length % this.stride !== 0) {
      throw new Error(`${name}: ${images.length} bytes is not a whole number of ${height}x${width}x${channels} images`);
    }
    this.length = images.length / this.stride;
    if (labels && labels.length !== this.length) throw new Error(`${name}: ${labels.length} labels for ${this.length} images`);
    this.classes = opts?.classes ?? null;
    this.normalization = opts?.normalization ?? (channels === 3 ? IMAGENET_NORMALIZATION : { mean: [0.5], std: [0.5] });
  }

  load(index: number): Sample {
    checkIndex(this, index);
    return { pixels: this.images.subarray(index * this.stride, (index + 1) * this.stride), label: this.labels ? this.labels[index] : -1 };
  }

  label(index: number): number {
    return this.labels ? this.labels[index] : -1;
  }

  badItems(): ReadonlyMap<number, string> {
    return new Map();
  }

  describe(index: number): string {
    return `${this.name}[${index}]`;
  }
}
