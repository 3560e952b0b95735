// IDX parsing (hand-built files of every element type, plain and gzipped) and Fashion-MNIST loading.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { parseIdx } from '../../data/idx.js';
import { FashionMNIST, fashionMnistFiles, FASHION_MNIST_DEFAULT_DIR } from '../../data/fashion_mnist.js';
import { expectError } from '../helpers.js';

function idx(type: number, dims: number[], body: number[]): Uint8Array {
  return Uint8Array.from([0, 0, type, dims.length, ...dims.flatMap((d) => [(d >>> 24) & 255, (d >>> 16) & 255, (d >>> 8) & 255, d & 255]), ...body]);
}

describe('data/idx', () => {
  it('reads uint8 [2, 3] plain and gzipped', () => {
    const raw = idx(0x08, [2, 3], [1, 2, 3, 250, 251, 255]);
    for (const b of [raw, gzipSync(raw)]) {
      const a = parseIdx(b);
      expect(a.type).to.equal('uint8');
      expect(a.dims).to.deep.equal([2, 3]);
      expect([...a.data]).to.deep.equal([1, 2, 3, 250, 251, 255]);
    }
  });
  it('reads big-endian int8, int16, int32, float32, float64', () => {
    expect([...parseIdx(idx(0x09, [2], [0xff, 0x7f])).data]).to.deep.equal([-1, 127]);
    expect([...parseIdx(idx(0x0b, [2], [0xff, 0xfe, 0x01, 0x00])).data]).to.deep.equal([-2, 256]);
    expect([...parseIdx(idx(0x0c, [1], [0x80, 0, 0, 1])).data]).to.deep.equal([-2147483647]);
    expect([...parseIdx(idx(0x0d, [1], [0x3f, 0xc0, 0, 0])).data]).to.deep.equal([1.5]);
    expect([...parseIdx(idx(0x0e, [1], [0xc0, 0x04, 0, 0, 0, 0, 0, 0])).data]).to.deep.equal([-2.5]);
  });
  it('rejects a bad magic', () => expectError(() => parseIdx(Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 0]), 'f.idx'), /f\.idx/, /bad IDX magic/));
  it('rejects an unknown element type', () => expectError(() => parseIdx(idx(0x07, [1], [0])), /unknown IDX element type 0x7/));
  it('rejects truncated data', () => expectError(() => parseIdx(idx(0x08, [2, 2], [1, 2, 3])), /truncated/, /\[2, 2\]/));
  it('rejects trailing bytes', () => expectError(() => parseIdx(idx(0x08, [2], [1, 2, 3])), /1 trailing bytes/));
  it('rejects a broken gzip stream', () => expectError(() => parseIdx(Uint8Array.from([0x1f, 0x8b, 1, 2, 3])), /gzip/));
});

describe('data/fashion_mnist', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'fmnist-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('names the missing path and how to install the dataset', () => {
    expectError(() => fashionMnistFiles('train', join(dir, 'nowhere')), /train-images-idx3-ubyte\.gz/, /nowhere/, /dataset-fashion-mnist/, /npm run setup/);
  });

  it('reads a small set from a configured folder, with labels, resizing and 3 channels', () => {
    const sub = join(dir, 'small');
    rmSync(sub, { recursive: true, force: true });
    mkdirSync(sub, { recursive: true });
    const n = 3;
    const pixels: number[] = [];
    for (let i = 0; i < n * 4 * 4; i++) pixels.push(i < 16 ? 200 : (i * 7) % 256);
    writeFileSync(join(sub, 't10k-images-idx3-ubyte.gz'), gzipSync(idx(0x08, [n, 4, 4], pixels)));
    writeFileSync(join(sub, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx(0x08, [n], [9, 0, 4])));
    const ds = new FashionMNIST({ split: 'test', dir: sub });
    expect([ds.length, ds.height, ds.width, ds.channels]).to.deep.equal([3, 4, 4, 1]);
    expect([...ds.labels!]).to.deep.equal([9, 0, 4]);
    expect(ds.load(2).label).to.equal(4);
    expect([...ds.load(1).pixels]).to.deep.equal(pixels.slice(16, 32));
    const big = new FashionMNIST({ split: 'test', dir: sub, size: 8, channels: 3 });
    expect([big.height, big.width, big.channels]).to.deep.equal([8, 8, 3]);
    expect(big.load(0).pixels.every((v) => v === 200), 'a constant image stays constant').to.equal(true);
    expectError(() => new FashionMNIST({ split: 'train', dir: sub }), /train-images-idx3-ubyte\.gz and train-labels-idx1-ubyte\.gz not found/);
  });

  it('honours FASHION_MNIST_DIR', () => {
    const old = process.env.FASHION_MNIST_DIR;
    process.env.FASHION_MNIST_DIR = join(dir, 'small');
    try {
      expect(fashionMnistFiles('test').images).to.equal(join(dir, 'small', 't10k-images-idx3-ubyte.gz'));
    } finally {
      if (old === undefined) delete process.env.FASHION_MNIST_DIR;
      else process.env.FASHION_MNIST_DIR = old;
    }
  });

  it('rejects bad options', () => {
    expectError(() => new FashionMNIST({ split: 'val' as 'train' }), /split must be 'train' or 'test'/);
    expectError(() => new FashionMNIST({ channels: 2 as 1 }), /channels must be 1 or 3/);
    expectError(() => new FashionMNIST({ size: 0 }), /size must be a positive integer/);
  });

  const installed = existsSync(join(FASHION_MNIST_DEFAULT_DIR, 'train-images-idx3-ubyte.gz')) || !!process.env.FASHION_MNIST_DIR;
  (installed ? it : it.skip)('the installed dataset: 60,000 + 10,000 images of 28x28, 10 balanced classes', () => {
    for (const [split, n] of [['train', 60000], ['test', 10000]] as const) {
      const ds = new FashionMNIST({ split });
      expect([ds.length, ds.height, ds.width, ds.channels]).to.deep.equal([n, 28, 28, 1]);
      const counts = new Array(10).fill(0);
      for (const l of ds.labels!) counts[l]++;
      expect(counts).to.deep.equal(new Array(10).fill(n / 10));
      if (split === 'train') {
        let s = 0;
        for (let i = 0; i < n; i++) for (const v of ds.load(i).pixels) s += v;
        expect(s / (n * 784) / 255).to.be.closeTo(0.286, 0.001); // the published mean
      }
    }
  });
});
