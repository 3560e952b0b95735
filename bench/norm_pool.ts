// Bench section "norm_pool": batch norm (training mode: batch statistics + running-statistics update)
// forward and forward+backward, the fused BN+ReLU, and pooling (ResNet's 3x3/2 max pool, a 2x2 average
// pool, the global average pool), against TensorFlow.js's WebGPU backend (tf.moments + tf.batchNorm,
// tf.maxPool, tf.avgPool, tf.mean; gradients with tf.grads). The "naive" column for batch norm is the
// same computation composed from the engine's core ops (mean, variance, elementwise) through autograd,
// for the fused BN+ReLU it is batchNorm2d followed by a separate relu, and for pooling the naive
// reference kernels of engine/ops/pool_naive.ts (one element per invocation, every window recomputed;
// each pooling row also checks its forward and input gradient against them). These kernels are
// memory-bound: GB/s counts the minimum traffic (each tensor read or written once per pass).
import { initDevice } from '../engine/device.js';
import * as E from '../engine/index.js';
import type { Tensor } from '../engine/tensor.js';
import { poolNaive, poolNaiveGrad, type NaivePoolConfig } from '../engine/ops/pool_naive.js';
import { keptRuns, resultError, type BenchRow } from './harness.js';
import { composedBatchNorm } from './reference.js';
import { engineTimer, interleave, type Timer, tfAvgPoolFwdBwd, tfBatchNormTrain, tfGlobalAvgFwdBwd, tfjsPeer, tfMaxPoolFwdBwd } from './tfjs.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

export async function runSection(): Promise<BenchRow[]> {
  await initDevice();
  const rows: BenchRow[] = [];
  const peer = await tfjsPeer();
  const tf: Any = typeof peer === 'string' ? null : peer.tf;
  const eps = 1e-5;

  const row = async (section: string, name: string, bytes: number, ours: () => void, naive: (() => void) | null, tfFn: (() => Any) | null, check?: () => Promise<number>) => {
    const timers: Record<string, Timer> = { ours: engineTimer(ours) };
    if (naive && process.env.BENCH_NAIVE !== '0') timers.naive = engineTimer(naive);
    if (tfFn && typeof peer !== 'string') timers.tfjs = (iters) => peer.once(tfFn, iters);
    const samples: Record<string, number[]> = {};
    const med = await interleave(timers, { warmup: 2, runs: 7, apart: ['naive'], samples });
    const ms = med.ours;
    const compare: BenchRow['compare'] = {};
    for (const k of ['naive', 'tfjs']) if (med[k] !== undefined) compare[k] = { ms: med[k], value: bytes / med[k] / 1e6, ratio: med[k] / ms };
    rows.push({ section, name, ms, value: bytes / ms / 1e6, unit: 'GB/s', compare, runs: keptRuns(samples), ...(check ? { extra: { resultError: await check() } } : {}) });
  };

  // ---- batch norm, [8, 64, 56, 56]
  {
    const [N, C, H] = [8, 64, 56];
    const size = N * C * H * H * 4;
    const x = E.randn([N, C, H, H]);
    const xg = E.randn([N, C, H, H], { requiresGrad: true });
    const gy = E.randn([N, C, H, H]);
    const w = E.ones([C], { requiresGrad: true });
    const b = E.zeros([C], { requiresGrad: true });
    const rm = E.zeros([C]);
    const rv = E.ones([C]);
    let tx: Any, tdy: Any, ts: Any, to: Any;
    if (tf) {
      tx = tf.randomNormal([N, H, H, C]);
      tdy = tf.randomNormal([N, H, H, C]);
      ts = tf.ones([C]);
      to = tf.zeros([C]);
    }
    const tfBn = (x: Any, s: Any, o: Any, relu: boolean) => {
      const mv = tf.moments(x, [0, 1, 2]);
      const y = tf.batchNorm(x, mv.mean, mv.variance, o, s, eps);
      return relu ? tf.relu(y) : y;
    };
    // training-mode forward + backward (tfjs-core ships no gradient functions: see bench/tfjs.ts)
    const tfBnGrad = (relu: boolean) => () => tfBatchNormTrain(tf, tx, ts, to, tdy, relu, eps);
    const fwdBwd = (f: () => Tensor) => () => {
      E.tidy(() => f().backward(gy));
      [xg, w, b].forEach((t) => t.zeroGrad());
    };
    await row('batchnorm', `train fwd [${N},${C},${H},${H}]`, 2 * size,
      () => E.noGrad(() => E.batchNorm2d(x, rm, rv, w, b, { training: true })).dispose(),
      () => E.noGrad(() => composedBatchNorm(x, w, b, eps)).dispose(),
      tf ? () => tfBn(tx, ts, to, false) : null);
    await row('batchnorm', `train fwd+bwd [${N},${C},${H},${H}]`, 5 * size,
      fwdBwd(() => E.batchNorm2d(xg, rm, rv, w, b, { training: true })),
      fwdBwd(() => composedBatchNorm(xg, w, b, eps)),
      tf ? tfBnGrad(false) : null);
    await row('batchnorm', `fused BN+ReLU train fwd+bwd [${N},${C},${H},${H}] (naive: unfused)`, 5 * size,
      fwdBwd(() => E.batchNorm2dRelu(xg, rm, rv, w, b, { training: true })),
      fwdBwd(() => E.relu(E.batchNorm2d(xg, rm, rv, w, b, { training: true }))),
      tf ? tfBnGrad(true) : null);
    [x, xg, gy, w, b, rm, rv].forEach((t) => t.dispose());
    if (tf) tf.dispose([tx, tdy, ts, to]);
  }

  // ---- pooling
  const pools: { name: string; kind: 'max' | 'avg'; naive: NaivePoolConfig; shape: [number, number, number, number]; fwd: (x: Tensor) => Tensor; tfFwd: (x: Any) => Any; tfBoth: (x: Any, dy: Any) => Any; out: (s: number[]) => number[] }[] = [
    { name: 'maxpool 3x3/2 pad 1', kind: 'max', naive: { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }, shape: [8, 64, 112, 112], fwd: (x) => E.maxPool2d(x, 3, 2, 1), tfFwd: (x) => tf.maxPool(x, 3, 2, 1), tfBoth: (x, dy) => tfMaxPoolFwdBwd(tf, x, dy, 3, 2, 1), out: ([n, c, h]) => [n, c, Math.floor((h - 1) / 2) + 1, Math.floor((h - 1) / 2) + 1] },
    { name: 'avgpool 2x2/2', kind: 'avg', naive: { kernel: [2, 2], stride: [2, 2], padding: [0, 0] }, shape: [8, 256, 56, 56], fwd: (x) => E.avgPool2d(x, 2), tfFwd: (x) => tf.avgPool(x, 2, 2, 0), tfBoth: (x, dy) => tfAvgPoolFwdBwd(tf, x, dy, 2, 2, 0), out: ([n, c, h]) => [n, c, h / 2, h / 2] },
    { name: 'global avgpool', kind: 'avg', naive: { kernel: [7, 7], stride: [7, 7], padding: [0, 0] }, shape: [8, 2048, 7, 7], fwd: (x) => E.adaptiveAvgPool2d(x, 1), tfFwd: (x) => tf.mean(x, [1, 2], true), tfBoth: (x, dy) => tfGlobalAvgFwdBwd(tf, x, dy), out: ([n, c]) => [n, c, 1, 1] },
  ];
  for (const P of pools) {
    const [N, C, H, W] = P.shape;
    const inBytes = N * C * H * W * 4;
    const os = P.out(P.shape);
    const outBytes = os.reduce((a, b) => a * b, 1) * 4;
    const x = E.randn(P.shape);
    const xg = E.randn(P.shape, { requiresGrad: true });
    const gy = E.randn(os);
    let tx: Any, tdy: Any;
    if (tf) {
      tx = tf.randomNormal([N, H, W, C]);
      tdy = tf.randomNormal([os[0], os[2], os[3], os[1]]);
    }
    const label = `${P.name} [${P.shape}]`;
    const ourGrad = (): Tensor => {
      E.tidy(() => P.fwd(xg).backward(gy));
      const g = E.copy(xg.grad!);
      xg.zeroGrad();
      return g;
    };
    await row('pool', `${label} fwd`, inBytes + outBytes, () => E.noGrad(() => P.fwd(x)).dispose(), () => poolNaive(P.kind, x, P.naive).dispose(), tf ? () => P.tfFwd(tx) : null,
      () => resultError(E.noGrad(() => P.fwd(x)), poolNaive(P.kind, x, P.naive)));
    await row('pool', `${label} fwd+bwd`, 2 * (inBytes + outBytes),
      () => {
        E.tidy(() => P.fwd(xg).backward(gy));
        xg.zeroGrad();
      },
      () => {
        poolNaive(P.kind, xg, P.naive).dispose();
        poolNaiveGrad(P.kind, xg, gy, P.naive).dispose();
      },
      tf ? () => P.tfBoth(tx, tdy) : null,
      () => resultError(ourGrad(), poolNaiveGrad(P.kind, xg, gy, P.naive)));
    [x, xg, gy].forEach((t) => t.dispose());
    if (tf) tf.dispose([tx, tdy]);
  }
  if (typeof peer === 'string') rows.push({ section: 'pool', name: `(tfjs column: ${peer})`, ms: 0, value: 0, unit: '' });
  return rows;
}
