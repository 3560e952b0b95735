// Bench section "block": a ResNet basic residual block built from this ops —
// conv3x3 -> BN+ReLU (fused) -> conv3x3 -> BN -> + skip -> ReLU, training mode — forward and backward
// (gradients for the input and every parameter), in images/s, at the shape of each ResNet-50 stage
// (batch 4) and for 28x28 inputs at batch 256, against the same block in TensorFlow.js's WebGPU
// backend (the same ops, NHWC, backward written out with tfjs's gradient kernels: bench/tfjs.ts) and
// against a naive block: the same graph on the naive conv kernels (forward, input-grad and weight-grad)
// with batch norm composed from core ops and a separate ReLU (bench/reference.ts). Each stage row also
// checks the input gradient of our block against the naive block's (extra.resultError). The batch-256
// row has neither comparison: at their speed on this machine one run takes minutes.
import { initDevice } from '../engine/device.js';
import * as E from '../engine/index.js';
import type { Tensor } from '../engine/tensor.js';
import { convGeometry } from '../engine/ops/conv_geometry.js';
import { keptRuns, kernelProfile, resultError, type BenchRow } from './harness.js';
import { composedBatchNorm, naiveConv2d } from './reference.js';
import { engineTimer, interleave, type Timer, tfBasicBlockFwdBwd, tfjsPeer } from './tfjs.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

interface Block {
  name: string;
  N: number;
  C: number;
  H: number;
  /** Whether the row has the tfjs and naive columns (too slow at batch 256). */
  compared: boolean;
}

const BLOCKS: Block[] = [
  { name: 'stage 1: 64 ch @56', N: 4, C: 64, H: 56, compared: true },
  { name: 'stage 2: 128 ch @28', N: 4, C: 128, H: 28, compared: true },
  { name: 'stage 3: 256 ch @14', N: 4, C: 256, H: 14, compared: true },
  { name: 'stage 4: 512 ch @7', N: 4, C: 512, H: 7, compared: true },
  { name: '28x28 input: 64 ch @28', N: 256, C: 64, H: 28, compared: false },
];

export async function runSection(): Promise<BenchRow[]> {
  await initDevice();
  const rows: BenchRow[] = [];
  const peer = await tfjsPeer();
  const tf: Any = typeof peer === 'string' ? null : peer.tf;
  for (const B of BLOCKS) {
    const { N, C, H } = B;
    const blk = basicBlock(N, C, H);
    const { x, w1, w2, g1, b1, g2, b2, gy, params, std } = blk;
    const g = convGeometry('bench', x, w1, { padding: 1 });
    const ours = blk.fwdBwd;
    const naive = () => {
      const h = E.relu(composedBatchNorm(naiveConv2d(x, w1, g), g1, b1, 1e-5));
      const h2 = composedBatchNorm(naiveConv2d(h, w2, g), g2, b2, 1e-5);
      E.relu(E.add(h2, x)).backward(gy);
    };
    const stepOf = (fwdBwd: () => void) => () => {
      E.tidy(fwdBwd);
      params.forEach((t) => t.zeroGrad());
    };
    const step = stepOf(ours);
    const timers: Record<string, Timer> = { ours: engineTimer(step) };
    if (B.compared && process.env.BENCH_NAIVE !== '0') timers.naive = engineTimer(stepOf(naive));
    let tfData: Any[] = [];
    if (tf && B.compared) {
      const tx = tf.randomNormal([N, H, H, C]);
      const tw1 = tf.randomNormal([3, 3, C, C], 0, std);
      const tw2 = tf.randomNormal([3, 3, C, C], 0, std);
      const ts1 = tf.ones([C]);
      const to1 = tf.zeros([C]);
      const ts2 = tf.ones([C]);
      const to2 = tf.zeros([C]);
      const tdy = tf.randomNormal([N, H, H, C]);
      const tfStep = () => tfBasicBlockFwdBwd(tf, tx, tw1, tw2, ts1, to1, ts2, to2, tdy);
      timers.tfjs = (iters) => (peer as Exclude<typeof peer, string>).once(tfStep, iters);
      tfData = [tx, tw1, tw2, ts1, to1, ts2, to2, tdy];
    }
    const samples: Record<string, number[]> = {};
    const med = await interleave(timers, { warmup: 1, runs: 7, apart: ['naive'], samples });
    const ms = med.ours;
    const compare: BenchRow['compare'] = {};
    for (const k of ['naive', 'tfjs']) if (med[k] !== undefined) compare[k] = { ms: med[k], value: (N * 1000) / med[k], ratio: med[k] / ms };
    const extra: BenchRow['extra'] = { gflop: +((N * C * H * H * C * 9 * 2 * 2 * 3) / 1e9).toFixed(2) };
    if (B.compared) extra.resultError = await inputGradError(ours, naive, x, params);
    if (tf) {
      tf.dispose(tfData);
    }
    rows.push({ section: 'block', name: `basic block fwd+bwd, ${B.name}, batch ${N}`, ms, value: (N * 1000) / ms, unit: 'images/s', compare, extra, runs: keptRuns(samples), kernels: await kernelProfile(step, 1) });
    blk.dispose();
  }
  if (typeof peer === 'string') rows.push({ section: 'block', name: `(tfjs column: ${peer})`, ms: 0, value: 0, unit: '' });
  return rows;
}

/**
 * The basic block's tensors at batch N, C channels, H x H (He-scaled weights, batch norm starting at
 * the identity) and its forward and backward (fwdBwd, to run inside a tidy; gradients accumulate on
 * `params`): the section's rows and bench/ab_shapes.ts time the same block.
 */
export function basicBlock(N: number, C: number, H: number) {
  const std = Math.sqrt(2 / (9 * C));
  const x = E.randn([N, C, H, H], { requiresGrad: true });
  const w1 = E.tidy(() => E.mul(E.randn([C, C, 3, 3]), std));
  const w2 = E.tidy(() => E.mul(E.randn([C, C, 3, 3]), std));
  w1.requiresGrad = true;
  w2.requiresGrad = true;
  const g1 = E.ones([C], { requiresGrad: true });
  const b1 = E.zeros([C], { requiresGrad: true });
  const g2 = E.ones([C], { requiresGrad: true });
  const b2 = E.zeros([C], { requiresGrad: true });
  const stats = [E.zeros([C]), E.ones([C]), E.zeros([C]), E.ones([C])];
  const gy = E.randn([N, C, H, H]);
  const params = [x, w1, w2, g1, b1, g2, b2];
  const fwdBwd = () => {
    const h = E.batchNorm2dRelu(E.conv2d(x, w1, null, { padding: 1 }), stats[0], stats[1], g1, b1, { training: true });
    const h2 = E.batchNorm2d(E.conv2d(h, w2, null, { padding: 1 }), stats[2], stats[3], g2, b2, { training: true });
    E.relu(E.add(h2, x)).backward(gy);
  };
  const dispose = () => [...params, ...stats, gy].forEach((t: Tensor) => t.dispose());
  return { x, w1, w2, g1, b1, g2, b2, stats, gy, params, std, fwdBwd, dispose };
}

/** The largest difference between the input gradients of two forms of the block, over the reference's largest magnitude. */
async function inputGradError(ours: () => void, ref: () => void, x: Tensor, params: Tensor[]): Promise<number> {
  const gradOf = (fwdBwd: () => void) => {
    params.forEach((t) => t.zeroGrad());
    E.tidy(fwdBwd);
    const gx = x.grad as Tensor;
    x.grad = null; // handed to resultError, which disposes it
    params.forEach((t) => t.zeroGrad());
    return gx;
  };
  return resultError(gradOf(ours), gradOf(ref));
}
