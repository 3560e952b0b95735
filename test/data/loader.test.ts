// The loader: batching, shuffling, drop-last, determinism under a seed, prefetching, labels, the
// two views of each image (from that image, and different from each other), and end-to-end
// agreement of whole SimCLR batches with the float64 reference.
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ArrayDataset } from '../../data/dataset.js';
import { FashionMNIST, FASHION_MNIST_DEFAULT_DIR } from '../../data/fashion_mnist.js';
import { DataLoader, type Batch, type LoaderOptions } from '../../data/loader.js';
import { memoryStats } from '../../engine/index.js';
import { Rng } from '../../engine/random.js';
import { assertClose, expectError } from '../helpers.js';
import { fromHWC, referenceView } from './reference.js';

function randomDataset(n: number, h: number, w: number, c: 1 | 3, seed = 1): ArrayDataset {
  const r = new Rng(seed);
  const px = new Uint8Array(n * h * w * c);
  for (let i = 0; i < px.length; i++) px[i] = r.int(256);
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % 5);
  return new ArrayDataset('random', px, labels, h, w, c, { classes: ['a', 'b', 'c', 'd', 'e'] });
}

async function collect(loader: DataLoader, epoch?: number, read = true): Promise<{ batches: Batch[]; data: Float32Array[][] }> {
  const batches: Batch[] = [];
  const data: Float32Array[][] = [];
  for await (const b of loader.epoch(epoch)) {
    batches.push(b);
    data.push(read ? await Promise.all(b.views.map((v) => v.toArray())) : []);
    b.dispose();
  }
  return { batches, data };
}

const quiet = { onWarning: () => {} };

describe('data/loader', () => {
  it('batches every item once per epoch; the last batch is short unless dropLast', async () => {
    const ds = randomDataset(10, 6, 6, 1);
    const full = await collect(new DataLoader(ds, { batchSize: 4, seed: 1, ...quiet }), 0, false);
    expect(full.batches.map((b) => b.size)).to.deep.equal([4, 4, 2]);
    expect([...full.batches.flatMap((b) => [...b.indices])].sort((a, b) => a - b)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const L = new DataLoader(ds, { batchSize: 4, seed: 1, dropLast: true, ...quiet });
    expect(L.length).to.equal(2);
    const dropped = await collect(L, 0, false);
    expect(dropped.batches.map((b) => b.size)).to.deep.equal([4, 4]);
    expect(L.lastSummary).to.include({ epoch: 0, batches: 2, images: 8, dropped: 2, skipped: 0 });
  });

  it('shuffles per epoch, reproducibly; shuffle=false keeps the order', async () => {
    const ds = randomDataset(12, 4, 4, 1);
    const L = new DataLoader(ds, { batchSize: 12, seed: 3, views: 1, ...quiet });
    const e0 = [...(await collect(L, 0, false)).batches[0].indices];
    const e1 = [...(await collect(L, 1, false)).batches[0].indices];
    const again = [...(await collect(new DataLoader(ds, { batchSize: 12, seed: 3, views: 1, ...quiet }), 0, false)).batches[0].indices];
    expect(e0).to.not.deep.equal(e1);
    expect(e0).to.deep.equal(again);
    expect([...e0].sort((a, b) => a - b)).to.deep.equal([...Array(12).keys()]);
    const ordered = await collect(new DataLoader(ds, { batchSize: 5, shuffle: false, ...quiet }), 0, false);
    expect(ordered.batches.flatMap((b) => [...b.indices])).to.deep.equal([...Array(12).keys()]);
  });

  it('keeps labels: each batch carries the labels of its images', async () => {
    const ds = randomDataset(9, 4, 4, 1);
    for (const b of (await collect(new DataLoader(ds, { batchSize: 4, seed: 2, ...quiet }), 0, false)).batches) {
      expect([...b.labels]).to.deep.equal([...b.indices].map((i) => ds.label(i)));
    }
  });

  it('same seed, same batches (bit for bit), whatever the prefetch depth; another seed differs', async () => {
    const ds = randomDataset(10, 20, 20, 3);
    const opts: LoaderOptions = { batchSize: 4, seed: 42, augment: { blurP: 0.5 }, ...quiet };
    const a = await collect(new DataLoader(ds, { ...opts, prefetch: 0 }), 1);
    const b = await collect(new DataLoader(ds, { ...opts, prefetch: 3 }), 1);
    const c = await collect(new DataLoader(ds, { ...opts, seed: 43 }), 1);
    expect(a.data.length).to.equal(3);
    a.data.forEach((views, k) =>
      views.forEach((v, j) => {
        expect(Buffer.from(v.buffer).equals(Buffer.from(b.data[k][j].buffer)), `batch ${k} view ${j}`).to.equal(true);
      }),
    );
    expect(Buffer.from(a.data[0][0].buffer).equals(Buffer.from(c.data[0][0].buffer))).to.equal(false);
  });

  it('two views per image, both from that image: solid images stay their colour under crops and flips', async () => {
    const colors = [[250, 0, 0], [0, 128, 0], [10, 20, 200], [90, 90, 90], [255, 255, 0]];
    const px = new Uint8Array(colors.length * 8 * 8 * 3);
    colors.forEach((c, i) => {
      for (let p = 0; p < 64; p++) px.set(c, (i * 64 + p) * 3);
    });
    const ds = new ArrayDataset('solid', px, null, 8, 8, 3, { normalization: { mean: [0, 0, 0], std: [1, 1, 1] } });
    const L = new DataLoader(ds, { batchSize: 5, seed: 9, augment: { jitterP: 0, grayscaleP: 0 }, outputSize: 6, ...quiet });
    const { batches, data } = await collect(L, 0);
    const b = batches[0];
    expect(b.views.length).to.equal(2);
    for (let i = 0; i < 5; i++) {
      const want = colors[b.indices[i]].map((v) => v / 255);
      for (const v of data[0]) for (let ch = 0; ch < 3; ch++) for (let k = 0; k < 36; k++) expect(v[i * 108 + ch * 36 + k]).to.be.closeTo(want[ch], 1e-6);
    }
  });

  it('the two views of an image differ from each other, and each equals the reference augmentation of that image', async () => {
    const ds = randomDataset(6, 24, 20, 3, 5);
    const L = new DataLoader(ds, { batchSize: 3, seed: 7, outputSize: [16, 12], augment: { blurP: 0.5, blurKernelFraction: 0.25 }, ...quiet });
    const { batches, data } = await collect(L, 0);
    const { mean, std } = ds.normalization;
    let blurred = 0;
    let jittered = 0;
    batches.forEach((b, k) => {
      const per = 3 * 16 * 12;
      for (let i = 0; i < b.size; i++) {
        const v0 = data[k][0].subarray(i * per, (i + 1) * per);
        const v1 = data[k][1].subarray(i * per, (i + 1) * per);
        expect(assertCloseFails(v0, v1), 'views of one image differ').to.equal(true);
        const src = fromHWC(ds.load(b.indices[i]).pixels, 24, 20, 3);
        for (const [v, got] of [[0, v0], [1, v1]] as const) {
          const p = b.params[v][i];
          expect(p.source).to.equal(i);
          blurred += +(p.blurSigma > 0);
          jittered += +(p.jitter !== null);
          assertClose(got, referenceView(src, p, 16, 12, mean, std, 0.25), { rtol: 1e-4, atol: 1e-4 }, `batch ${k} image ${i} view ${v}`);
        }
      }
    });
    expect(blurred).to.be.greaterThan(0);
    expect(jittered).to.be.greaterThan(0);
  });

  it('gray images (Fashion-MNIST-like): 28x28 SimCLR views match the reference', async () => {
    const ds = randomDataset(4, 28, 28, 1, 8);
    const norm = { mean: [0.286], std: [0.353] };
    const L = new DataLoader(ds, { batchSize: 4, seed: 1, normalization: norm, ...quiet });
    const { batches, data } = await collect(L, 0);
    const b = batches[0];
    for (let i = 0; i < 4; i++)
      for (let v = 0; v < 2; v++) {
        const src = fromHWC(ds.load(b.indices[i]).pixels, 28, 28, 1);
        assertClose(data[0][v].subarray(i * 784, (i + 1) * 784), referenceView(src, b.params[v][i], 28, 28, norm.mean, norm.std), { rtol: 1e-4, atol: 1e-4 });
      }
  });

  it('evaluation mode (augment: false): one view, the image normalized', async () => {
    const ds = randomDataset(3, 5, 7, 3);
    const L = new DataLoader(ds, { batchSize: 3, shuffle: false, augment: false, ...quiet });
    const { batches, data } = await collect(L, 0);
    expect(batches[0].views.length).to.equal(1);
    const { mean, std } = ds.normalization;
    for (let i = 0; i < 3; i++) {
      const src = fromHWC(ds.load(i).pixels, 5, 7, 3);
      const want = src.data.map((v, k) => (v - mean[Math.floor(k / 35)]) / std[Math.floor(k / 35)]);
      assertClose(data[0][0].subarray(i * 105, (i + 1) * 105), want, { rtol: 1e-5, atol: 1e-5 });
    }
  });

  it('prefetches: the next batch is prepared while the current one is in use', async () => {
    const ds = randomDataset(16, 8, 8, 1);
    const L = new DataLoader(ds, { batchSize: 4, seed: 1, prefetch: 1, ...quiet });
    const it = L.epoch(0);
    const first = await it.next();
    expect(L.stats.lastReady, 'nothing was prefetched before the first call').to.equal(false);
    // the "training step": batch 1 must get prepared while batch 0 is held, with no call to next()
    const deadline = Date.now() + 20000;
    while (L.stats.prepared < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(L.stats.prepared, 'batch 1 was prepared during the step').to.equal(2);
    const second = await it.next();
    expect(L.stats.lastReady, 'the second call found its batch ready').to.equal(true);
    expect(L.stats.readyHits).to.equal(1);
    (first.value as Batch).dispose();
    (second.value as Batch).dispose();
    await it.return!();
    const lazy = new DataLoader(ds, { batchSize: 4, seed: 1, prefetch: 0, ...quiet });
    const it2 = lazy.epoch(0);
    (await it2.next()).value.dispose();
    await new Promise((r) => setTimeout(r, 10));
    expect(lazy.stats.prepared).to.equal(1);
    await it2.return!();
  });

  it('frees everything: after full epochs and after an early break, no GPU buffer is left', async () => {
    const ds = randomDataset(10, 16, 16, 3);
    const before = memoryStats().liveBuffers;
    const L = new DataLoader(ds, { batchSize: 3, seed: 1, prefetch: 2, augment: { blurP: 1 }, ...quiet });
    await collect(L, 0, false);
    expect(memoryStats().liveBuffers).to.equal(before);
    for await (const b of L.epoch(1)) {
      b.dispose();
      break;
    }
    expect(memoryStats().liveBuffers).to.equal(before);
  });

  const fmnist = existsSync(join(FASHION_MNIST_DEFAULT_DIR, 't10k-images-idx3-ubyte.gz')) || !!process.env.FASHION_MNIST_DIR;
  (fmnist ? it : it.skip)('Fashion-MNIST: two normalized 28x28 views per image, with labels', async () => {
    const ds = new FashionMNIST({ split: 'test' });
    const L = new DataLoader(ds, { batchSize: 128, seed: 0 });
    const it = L.epoch(0);
    const b = (await it.next()).value as Batch;
    try {
      expect(b.views.map((v) => v.shape)).to.deep.equal([[128, 1, 28, 28], [128, 1, 28, 28]]);
      expect([...b.labels]).to.deep.equal([...b.indices].map((i) => ds.labels![i]));
      const lo = (0 - 0.286) / 0.353;
      const hi = (1 - 0.286) / 0.353;
      for (const v of await Promise.all(b.views.map((t) => t.toArray()))) {
        let mn = Infinity;
        let mx = -Infinity;
        for (const x of v) {
          mn = Math.min(mn, x);
          mx = Math.max(mx, x);
        }
        expect(mn).to.be.at.least(lo - 1e-5);
        expect(mx).to.be.at.most(hi + 1e-5);
        expect(mx - mn).to.be.greaterThan(1);
      }
    } finally {
      b.dispose();
      await it.return!();
    }
  });

  describe('bad options', () => {
    const ds = randomDataset(2, 4, 4, 1);
    it('batch size', () => expectError(() => new DataLoader(ds, { batchSize: 0 }), /batchSize must be a positive integer, got 0/));
    it('seed', () => expectError(() => new DataLoader(ds, { batchSize: 1, seed: -1 }), /seed must be a non-negative integer/));
    it('prefetch', () => expectError(() => new DataLoader(ds, { batchSize: 1, prefetch: 1.5 }), /prefetch must be a non-negative integer/));
    it('views', () => expectError(() => new DataLoader(ds, { batchSize: 1, views: 3 as 2 }), /views must be 1 or 2/));
    it('output size', () => expectError(() => new DataLoader(ds, { batchSize: 1, outputSize: 0 }), /outputSize must be positive integers/));
    it('normalization length', () => expectError(() => new DataLoader(ds, { batchSize: 1, normalization: { mean: [0, 0, 0], std: [1, 1, 1] } }), /needs 1 means and stds/));
    it('augment options', () => expectError(() => new DataLoader(ds, { batchSize: 1, augment: { grayscaleP: 2 } }), /grayscaleP must be a probability/));
  });
});

function assertCloseFails(a: Float32Array, b: Float32Array): boolean {
  try {
    assertClose(a, b, { rtol: 1e-3, atol: 1e-3 });
    return false;
  } catch {
    return true;
  }
}
