// Bench section "conv": conv2d forward, input-grad and weight-grad at ResNet-50 layer shapes (the 7x7/2
// stem, one 3x3 from each stage, a 1x1 expansion, the strided 1x1 downsample) at batch 2, against the
// naive reference kernels (engine/ops/conv2d.ts convNaive) and TensorFlow.js's WebGPU backend
// (tf.conv2d and its Conv2DBackpropInput / Conv2DBackpropFilter kernels, NHWC, its native layout).
// GFLOP/s = 2 * N * O * OH * OW * (C / groups) * kH * kW / time, the same count for all three products.
// Column 'ceiling': the adapter's ALU ceiling (bench/ceiling.ts), measured in this section's process.
import { initDevice } from '../engine/device.js';
import { conv2d, randn } from '../engine/index.js';
import { convGemmDims, convGeometry, convInputGrad, convNaive, convTuneOp, convWeightGrad, setConvVariants } from '../engine/ops/conv2d.js';
import type { Conv2dOptions, ConvGeometry } from '../engine/ops/conv_geometry.js';
import type { Tensor } from '../engine/tensor.js';
import { chooseGemmVariant, describeVariant, tuneGemm, type GemmOp, type GemmVariant } from '../engine/tune.js';
import { aluCeiling, ceilingColumn } from './ceiling.js';
import { keptRuns, kernelProfile, resultError, timeGpu, type BenchRow } from './harness.js';
import { engineTimer, interleave, type Timer, tfjsPeer } from './tfjs.js';

interface Layer {
  name: string;
  N: number;
  C: number;
  H: number;
  O: number;
  k: number;
  stride: number;
  pad: number;
}

const BATCH = 2;
export const LAYERS: Layer[] = [
  { name: 'stem 7x7/2 3->64 @224', N: BATCH, C: 3, H: 224, O: 64, k: 7, stride: 2, pad: 3 },
  { name: 'conv2_x 3x3 64->64 @56', N: BATCH, C: 64, H: 56, O: 64, k: 3, stride: 1, pad: 1 },
  { name: 'conv3_x 3x3 128->128 @28', N: BATCH, C: 128, H: 28, O: 128, k: 3, stride: 1, pad: 1 },
  { name: 'conv4_x 3x3 256->256 @14', N: BATCH, C: 256, H: 14, O: 256, k: 3, stride: 1, pad: 1 },
  { name: 'conv5_x 3x3 512->512 @7', N: BATCH, C: 512, H: 7, O: 512, k: 3, stride: 1, pad: 1 },
  { name: '1x1 expand 64->256 @56', N: BATCH, C: 64, H: 56, O: 256, k: 1, stride: 1, pad: 0 },
  { name: '1x1/2 downsample 256->512 @56', N: BATCH, C: 256, H: 56, O: 512, k: 1, stride: 2, pad: 0 },
];

export type Kind = 'fwd' | 'dx' | 'dw';
/** The tune-cache op of each conv product. */
export const OPS: Record<Kind, GemmOp> = { fwd: 'conv.fwd', dx: 'conv.dx', dw: 'conv.dw' };

/** A layer's three products as the engine runs them (ours) and as the naive reference kernels do. */
export function layerProducts(x: Tensor, w: Tensor, gy: Tensor, g: ConvGeometry, opts: Conv2dOptions): { ours: Record<Kind, () => Tensor>; naive: Record<Kind, () => Tensor> } {
  return {
    ours: { fwd: () => conv2d(x, w, null, opts), dx: () => convInputGrad(gy, w, g), dw: () => convWeightGrad(gy, x, g) },
    naive: { fwd: () => convNaive('fwd', g, x, w), dx: () => convNaive('dx', g, gy, w), dw: () => convNaive('dw', g, gy, x) },
  };
}

export async function runSection(): Promise<BenchRow[]> {
  await initDevice();
  const rows: BenchRow[] = [];
  const peer = await tfjsPeer();
  const ceiling = await aluCeiling();
  for (const L of LAYERS) {
    const x = randn([L.N, L.C, L.H, L.H]);
    const w = randn([L.O, L.C, L.k, L.k]);
    const opts = { stride: L.stride, padding: L.pad };
    const g = convGeometry('bench', x, w, opts);
    const gy = randn([L.N, L.O, g.OH, g.OW]);
    const flops = 2 * L.N * L.O * g.OH * g.OW * L.C * L.k * L.k;
    const { ours, naive } = layerProducts(x, w, gy, g, opts);
    // GEMM shapes of the three products (rows, columns, K), as engine/ops/conv2d.ts runs them
    const shapes: Record<Kind, [number, number, number]> = { fwd: convGemmDims('fwd', g), dx: convGemmDims('dx', g), dw: convGemmDims('dw', g) };
    let tf: any = null;
    let tx: any, tw: any, tdy: any;
    if (typeof peer !== 'string') {
      tf = peer.tf;
      tx = tf.randomNormal([L.N, L.H, L.H, L.C]);
      tw = tf.randomNormal([L.k, L.k, L.C, L.O]);
      tdy = tf.randomNormal([L.N, g.OH, g.OW, L.O]);
    }
    const tfOps: Record<Kind, () => unknown> = {
      fwd: () => tf.conv2d(tx, tw, L.stride, L.pad),
      dx: () => tf.engine().runKernel('Conv2DBackpropInput', { dy: tdy, filter: tw }, { strides: L.stride, pad: L.pad, dataFormat: 'NHWC', inputShape: [L.N, L.H, L.H, L.C] }),
      dw: () => tf.engine().runKernel('Conv2DBackpropFilter', { x: tx, dy: tdy }, { strides: L.stride, pad: L.pad, dataFormat: 'NHWC', filterShape: [L.k, L.k, L.C, L.O] }),
    };
    for (const kind of ['fwd', 'dx', 'dw'] as Kind[]) {
      const once = () => ours[kind]().dispose();
      const [M, N, K] = shapes[kind];
      if (process.env.BENCH_TUNE === '1') {
        await tuneGemm(convTuneOp(kind, g), M, N, K, async (v: GemmVariant) => {
          setConvVariants({ [OPS[kind]]: v });
          return timeGpu(once, { warmup: 1, runs: 3, stat: 'min' });
        });
        setConvVariants({});
      }
      const timers: Record<string, Timer> = { ours: engineTimer(once) };
      if (process.env.BENCH_NAIVE !== '0') timers.naive = engineTimer(() => naive[kind]().dispose());
      if (tf) timers.tfjs = (iters) => (peer as Exclude<typeof peer, string>).once(tfOps[kind], iters);
      const samples: Record<string, number[]> = {};
      const med = await interleave(timers, { warmup: 1, runs: 7, apart: ['naive'], samples });
      const ms = med.ours;
      const compare: BenchRow['compare'] = {};
      for (const k of ['naive', 'tfjs']) if (med[k] !== undefined) compare[k] = { ms: med[k], value: flops / med[k] / 1e6, ratio: med[k] / ms };
      compare.ceiling = ceilingColumn(flops, ms, ceiling.gflops);
      const resultErr = await resultError(ours[kind](), naive[kind]());
      rows.push({ section: 'conv', name: `${L.name} ${kind}`, ms, value: flops / ms / 1e6, unit: 'GFLOP/s', compare, extra: { variant: describeVariant(chooseGemmVariant(convTuneOp(kind, g), M, N, K)), resultError: resultErr }, runs: keptRuns(samples), kernels: await kernelProfile(once) });
    }
    if (tf) tf.dispose([tx, tw, tdy]);
    [x, w, gy].forEach((t) => t.dispose());
  }
  if (typeof peer === 'string') rows.push({ section: 'conv', name: `(tfjs column: ${peer})`, ms: 0, value: 0, unit: '' });
  return rows;
}
