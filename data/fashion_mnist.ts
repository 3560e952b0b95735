// Fashion-MNIST (Zalando): 60,000 training and 10,000 test images, 28×28 gray, 10 classes, read from
// the four gzipped IDX files. Default folder: /usr/share/datasets/fashion-mnist/ (Debian's
// `dataset-fashion-mnist` package, which `npm run setup` installs); FASHION_MNIST_DIR or the `dir`
// option point elsewhere. Optional resizing (antialiased bilinear) and 3-channel replication.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkOptions } from '../engine/options.js';
import { ArrayDataset, type Normalization } from './dataset.js';
import { readIdx } from './idx.js';
import { resizeImage } from './resize.js';

export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist/';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** Mean and std of the training pixels in [0, 1]. */
export const FASHION_MNIST_NORMALIZATION: Normalization = { mean: [0.286], std: [0.353] };

const FILES = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
} as const;

export interface FashionMNISTOptions {
  split?: 'train' | 'test';
  /** Folder holding the IDX files (default: $FASHION_MNIST_DIR, then /usr/share/datasets/fashion-mnist/). */
  dir?: string;
  /** Side of the images the dataset yields (default: the files' own, 28: no resizing). */
  size?: number;
  /** 1 (default) or 3 (gray replicated into RGB). */
  channels?: 1 | 3;
}

function findFile(dir: string, base: string): string | null {
  for (const name of [`${base}.gz`, base]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return null;
}

/** Where the files are, or a clear error naming the path and how to install them. */
export function fashionMnistFiles(split: 'train' | 'test', dir?: string): { images: string; labels: string } {
  const folder = dir ?? process.env.FASHION_MNIST_DIR ?? FASHION_MNIST_DEFAULT_DIR;
  const [imgBase, labBase] = FILES[split];
  const images = findFile(folder, imgBase);
  const labels = findFile(folder, labBase);
  if (!images || !labels) {
    const missing = [!images ? `${imgBase}.gz` : null, !labels ? `${labBase}.gz` : null].filter(Boolean).join(' and ');
    throw new Error(
      `Fashion-MNIST (${split}): ${missing} not found in ${join(folder, '/')}. ` +
        `Install the dataset with \`npm run setup\` (it installs the Debian package dataset-fashion-mnist: ` +
        `\`apt-get install dataset-fashion-mnist\`), or point FASHION_MNIST_DIR (or the dir option) at a folder holding the four IDX files.`,
    );
  }
  return { images, labels };
}

export class FashionMNIST extends ArrayDataset {
  readonly split: 'train' | 'test';

  constructor(opts: FashionMNISTOptions = {}) {
    checkOptions('FashionMNIST', opts, ['split', 'dir', 'size', 'channels']);
    opts ??= {};
    const split = opts.split ?? 'train';
    if (split !== 'train' && split !== 'test') throw new Error(`FashionMNIST: split must be 'train' or 'test', got '${split}'`);
    const channels = opts.channels ?? 1;
    if (channels !== 1 && channels !== 3) throw new Error(`FashionMNIST: channels must be 1 or 3, got ${channels}`);
    if (opts.size !== undefined && (!Number.isInteger(opts.size) || opts.size < 1)) throw new Error(`FashionMNIST: size must be a positive integer, got ${opts.size}`);
    const files = fashionMnistFiles(split, opts.dir);
    const img = readIdx(files.images);
    const lab = readIdx(files.labels);
    if (img.type !== 'uint8' || img.dims.length !== 3) throw new Error(`FashionMNIST: ${files.images} must hold uint8 [N, H, W], got ${img.type} [${img.dims.join(', ')}]`);
    if (lab.type !== 'uint8' || lab.dims.length !== 1 || lab.dims[0] !== img.dims[0]) {
      throw new Error(`FashionMNIST: ${files.labels} must hold ${img.dims[0]} uint8 labels, got ${lab.type} [${lab.dims.join(', ')}]`);
    }
    const [n, h, w] = img.dims;
    const size = opts.size ?? h;
    if (h !== w && opts.size === undefined) throw new Error(`FashionMNIST: expected square images, got ${h}x${w}`);
    let pixels = img.data as Uint8Array;
    if (size !== h || size !== w || channels !== 1) {
      const out = new Uint8Array(n * size * size * channels);
      for (let i = 0; i < n; i++) {
        const one = resizeImage(pixels.subarray(i * h * w, (i + 1) * h * w), h, w, 1, size, size, channels);
        out.set(one, i * size * size * channels);
      }
      pixels = out;
    }
    const labels = lab.data as Uint8Array;
    const norm = channels === 1 ? FASHION_MNIST_NORMALIZATION : { mean: [0.286, 0.286, 0.286], std: [0.353, 0.353, 0.353] };
    super(`FashionMNIST(${split})`, pixels, labels, size, size, channels, { classes: FASHION_MNIST_CLASSES, normalization: norm });
    this.split = split;
  }
}
