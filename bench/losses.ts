// Bench section "losses": the fused contrastive kernels (losses/contrastive.ts) against the unfused
// compositions of core ops that materialize the similarity matrix (losses/reference.ts), forward
// and forward+backward, time and peak live GPU memory beyond the inputs ("extra"), for NT-Xent at
// 2N = 512, 4096, 16384 with d = 128 (tau = 0.1), and MoCo's InfoNCE with a 65536-key queue.
// GFLOP/s counts the similarity products: 2 (2N)^2 d per pass; forward+backward = 3 passes (the
// backward recomputes the similarities and accumulates the gradient), for both columns.
// Where the unfused composition cannot run (its matrix exceeds the device's
// maxStorageBufferBindingSize, e.g. 1 GiB at 2N = 16384 against lavapipe's 128 MiB), the row says
// so in `extra` and compares the fused extra memory with the matrix's size instead of a measurement.
import { initDevice, deviceContext } from '../engine/device.js';
import * as E from '../engine/index.js';
import type { Tensor } from '../engine/tensor.js';
import { timeGpu, type BenchRow } from './harness.js';

const MiB = 2 ** 20;

/** Peak live GPU bytes above the level before one call of fn (which must leave nothing behind). */
async function extraPeak(fn: () => void): Promise<number> {
  await E.sync();
  const base = E.memoryStats().liveBytes;
  E.resetPeakMemory();
  fn();
  await E.sync();
  return E.memoryStats().peakLiveBytes - base;
}

interface Side {
  ms: number;
  peak: number;
}

async function measure(fn: () => void, runs: number, warmup: number): Promise<Side> {
  fn(); // compile, fill the buffer pool
  await E.sync();
  const peak = await extraPeak(fn);
  const ms = await timeGpu(fn, { warmup, runs });
  return { ms, peak };
}

export async function runSection(): Promise<BenchRow[]> {
  await initDevice();
  const rows: BenchRow[] = [];
  const limit = deviceContext().limits.maxStorageBufferBindingSize;
  const naive = process.env.BENCH_NAIVE !== '0';
  const d = 128;
  const tau = 0.1;

  for (const twoN of [512, 4096, 16384]) {
    const N = twoN / 2;
    E.manualSeed(twoN);
    const z1 = E.randn([N, d], { requiresGrad: true });
    const z2 = E.randn([N, d], { requiresGrad: true });
    const matrixBytes = twoN * twoN * 4;
    const unfusedFits = matrixBytes <= limit;
    const big = twoN >= 16384;
    const runs = big ? 2 : 5;
    const warmup = big ? 0 : 2;
    const flops = 2 * twoN * twoN * d;
    for (const pass of ['fwd', 'fwd+bwd'] as const) {
      const step = (loss: (a: Tensor, b: Tensor, o: { temperature: number }) => Tensor) => () => {
        if (pass === 'fwd') {
          E.noGrad(() => loss(z1, z2, { temperature: tau })).dispose();
          return;
        }
        const l = loss(z1, z2, { temperature: tau });
        l.backward();
        l.dispose();
        z1.zeroGrad();
        z2.zeroGrad();
      };
      const nominal = pass === 'fwd' ? flops : 3 * flops;
      const fused = await measure(step(E.ntXent), runs, warmup);
      const row: BenchRow = {
        section: 'losses',
        name: `ntxent ${pass} 2N=${twoN} d=${d}`,
        ms: fused.ms,
        value: nominal / fused.ms / 1e6,
        unit: 'GFLOP/s',
        compare: {},
        extra: { fusedExtraMiB: +(fused.peak / MiB).toFixed(2), matrixMiB: matrixBytes / MiB },
      };
      if (naive && unfusedFits) {
        const unfused = await measure(step(E.ntXentReference), runs, warmup);
        row.compare!.unfused = { ms: unfused.ms, value: nominal / unfused.ms / 1e6, ratio: unfused.ms / fused.ms };
        row.extra!.unfusedExtraMiB = +(unfused.peak / MiB).toFixed(2);
        row.extra!.memoryRatio = +(fused.peak / unfused.peak).toFixed(4);
      } else if (naive) {
        row.extra!.unfused = `not run: its ${twoN}x${twoN} f32 similarity matrix (${matrixBytes / MiB} MiB) exceeds maxStorageBufferBindingSize (${limit / MiB} MiB)`;
        row.extra!.memoryRatioVsMatrixAlone = +(fused.peak / matrixBytes).toFixed(4);
      }
      rows.push(row);
    }
    z1.dispose();
    z2.dispose();
    E.emptyCache();
  }

  // MoCo: N = 256 queries against a queue of 65536 keys.
  {
    const [N, K] = [256, 65536];
    const q = E.randn([N, d], { requiresGrad: true });
    const k = E.randn([N, d]);
    const queue = new E.MoCoQueue(K, d);
    const step = (loss: typeof E.infoNCE | typeof E.infoNCEReference) => () => {
      const l = loss(q, k, queue.keys, { temperature: 0.07 });
      l.backward();
      l.dispose();
      q.zeroGrad();
    };
    const flops = 3 * 2 * N * (K + 1) * d;
    const fused = await measure(step(E.infoNCE), 3, 1);
    const row: BenchRow = {
      section: 'losses',
      name: `infonce fwd+bwd N=${N} K=${K} d=${d}`,
      ms: fused.ms,
      value: flops / fused.ms / 1e6,
      unit: 'GFLOP/s',
      compare: {},
      extra: { fusedExtraMiB: +(fused.peak / MiB).toFixed(2), logitsMiB: (N * (K + 1) * 4) / MiB },
    };
    if (naive) {
      const unfused = await measure(step(E.infoNCEReference), 3, 1);
      row.compare!.unfused = { ms: unfused.ms, value: flops / unfused.ms / 1e6, ratio: unfused.ms / fused.ms };
      row.extra!.unfusedExtraMiB = +(unfused.peak / MiB).toFixed(2);
    }
    rows.push(row);
    q.dispose();
    k.dispose();
    queue.dispose();
  }
  return rows;
}
