// Data pipeline throughput: SimCLR augmentation in views/s at 28×28 (gray, Fashion-MNIST's shape)
// and 224×224 (RGB, ImageNet's), through the whole loader (shuffle, gather, parameter sampling,
// upload, GPU kernels) and for the GPU kernels alone; plus how long the loader makes a training
// step wait for its next batch (prefetching should make it ~0).
// Run alone: `node dist/bench/augment.js`; also a section of `npm run bench`.
import { initDevice } from '../engine/device.js';
import { sync } from '../engine/commands.js';
import { matmul, randn, tidy } from '../engine/index.js';
import { Rng } from '../engine/random.js';
import { ArrayDataset } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import { augmentViews, uploadSources } from '../data/augment.js';
import { resolveAugment, sampleView } from '../data/simclr.js';
import { median, timeGpu, type BenchRow } from './harness.js';

function randomImages(n: number, side: number, c: 1 | 3): ArrayDataset {
  const r = new Rng(1);
  const px = new Uint8Array(n * side * side * c);
  for (let i = 0; i < px.length; i += 4) {
    const v = r.nextU32();
    px[i] = v & 255;
    px[i + 1] = (v >>> 8) & 255;
    px[i + 2] = (v >>> 16) & 255;
    px[i + 3] = v >>> 24;
  }
  return new ArrayDataset(`random ${side}x${side}x${c}`, px, null, side, side, c);
}

async function one(side: number, c: 1 | 3, batch: number, images: number, runs: number): Promise<BenchRow> {
  const ds = randomImages(images, side, c);
  const L = new DataLoader(ds, { batchSize: batch, seed: 1, dropLast: true, prefetch: 1 });
  const aug = L.augment;
  // loader end to end: time per batch, waiting for the GPU after each
  const per: number[] = [];
  for (let e = 0; per.length < runs + 2; e++) {
    let t0 = performance.now();
    for await (const b of L.epoch(e)) {
      await sync('bench');
      b.dispose();
      per.push(performance.now() - t0);
      t0 = performance.now();
      if (per.length >= runs + 2) break;
    }
  }
  const loaderMs = median(per.slice(2));
  // kernels alone on uploaded sources
  const src = uploadSources(Array.from({ length: batch }, (_, i) => ds.load(i).pixels), side, side, c);
  const rng = new Rng(2);
  const cfg = resolveAugment({}, side, side);
  const views = Array.from({ length: batch }, (_, i) => sampleView(rng, cfg, i, side, side));
  const out = { height: side, width: side, normalization: ds.normalization, blurKernelFraction: aug.blurKernelFraction };
  const kernelMs = await timeGpu(() => augmentViews(src, views, out).dispose(), { warmup: 2, runs: Math.max(5, runs), iters: 2 });
  src.tensor.dispose();
  const blurred = views.filter((v) => v.blurSigma > 0).length;
  return {
    section: 'data',
    name: `SimCLR augment ${side}x${side}x${c}, batch ${batch} x2 views`,
    ms: loaderMs,
    value: (2 * batch) / (loaderMs / 1000),
    unit: 'views/s',
    extra: {
      kernelsMsPerViewBatch: +kernelMs.toFixed(3),
      kernelsViewsPerS: Math.round(batch / (kernelMs / 1000)),
      blurredViewsInKernelRun: blurred,
      blurP: aug.blurP,
    },
  };
}

/** A loop with a GPU "training step" of fixed cost: how long next() waits for the batch. */
async function stall(): Promise<BenchRow> {
  const ds = randomImages(4096, 28, 1);
  const L = new DataLoader(ds, { batchSize: 256, seed: 1, dropLast: true, prefetch: 1 });
  const a = randn([512, 512]);
  const steps: number[] = [];
  let t0 = performance.now();
  let k = 0;
  for await (const b of L.epoch(0)) {
    tidy(() => {
      for (let i = 0; i < 4; i++) matmul(a, a);
    });
    await sync('bench');
    b.dispose();
    steps.push(performance.now() - t0);
    t0 = performance.now();
    if (++k >= 12) break;
  }
  a.dispose();
  const waits = L.stats.waitMs / L.stats.batches;
  return {
    section: 'data',
    name: 'loader wait per step (28x28, batch 256, step = 4 matmul 512^3)',
    ms: waits,
    value: 1000 / median(steps.slice(2)),
    unit: 'steps/s',
    extra: { stepMs: +median(steps.slice(2)).toFixed(3), meanWaitMs: +waits.toFixed(3), lastWaitMs: +L.stats.lastWaitMs.toFixed(3) },
  };
}

export async function runSection(): Promise<BenchRow[]> {
  await initDevice();
  const rows: BenchRow[] = [];
  rows.push(await one(28, 1, 256, 2048, 7));
  rows.push(await one(224, 3, 32, 96, 5));
  rows.push(await stall());
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runSection();
  for (const r of rows) console.log(JSON.stringify(r));
  process.exit(0);
}
