// Bench section "matmul": the tuned GEMM against the naive reference kernel and TensorFlow.js's
// WebGPU backend, on square sizes and the ResNet-50 fc / SimCLR projection-head shapes (256 images:
// x [256, 2048] times a [out, in] weight read transposed in place, as linear() does). GFLOP/s = 2MNK / time.
// The section's first row is the adapter's arithmetic ceiling (bench/ceiling.ts: no loads at all), and
// every GEMM row shows its rate against it (column 'ceiling', ratio = ours / ceiling).
import { initDevice } from '../engine/device.js';
import { matmul, randn, transpose, type Tensor } from '../engine/index.js';
import { setMatmulKernel } from '../engine/ops/matmul.js';
import { chooseGemmVariant, describeVariant, tuneGemm, type GemmVariant } from '../engine/tune.js';
import { aluCeiling, ceilingColumn } from './ceiling.js';
import { keptRuns, kernelProfile, resultError, timeGpu, type BenchRow } from './harness.js';
import { engineTimer, interleave, type Timer, tfjsPeer } from './tfjs.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** a @ b by the naive reference kernel (the result every GEMM row and A/B is checked against). */
export function naiveMatmul(a: Tensor, b: Tensor): Tensor {
  setMatmulKernel('naive');
  try {
    return matmul(a, b);
  } finally {
    setMatmulKernel('gemm', null);
  }
}

interface Shape {
  name: string;
  M: number;
  N: number;
  K: number;
  /** B is a [N, K] weight viewed transposed (linear layers). */
  transB: boolean;
  /** Only on hardware GPUs (minutes on a CPU driver). */
  gpuOnly?: boolean;
}

const SHAPES: Shape[] = [
  { name: 'matmul 256^3', M: 256, N: 256, K: 256, transB: false },
  { name: 'matmul 1024^3', M: 1024, N: 1024, K: 1024, transB: false },
  { name: 'matmul 2048^3', M: 2048, N: 2048, K: 2048, transB: false },
  { name: 'matmul 4096^3', M: 4096, N: 4096, K: 4096, transB: false, gpuOnly: true },
  { name: 'ResNet-50 fc 256x2048 -> 1000', M: 256, N: 1000, K: 2048, transB: true },
  { name: 'proj head 256x2048 -> 2048', M: 256, N: 2048, K: 2048, transB: true },
  { name: 'proj head 256x2048 -> 128', M: 256, N: 128, K: 2048, transB: true },
];


export async function runSection(): Promise<BenchRow[]> {
  const ctx = await initDevice();
  const rows: BenchRow[] = [];
  const peer = await tfjsPeer();
  const ceiling = await aluCeiling();
  const c = ceiling.shape;
  rows.push({ section: 'matmul', name: 'ALU ceiling (no loads)', ms: ceiling.ms, value: ceiling.gflops, unit: 'GFLOP/s', extra: { shape: `${c.accs} vec4 accumulators x ${c.unroll} updates an iteration`, resultError: ceiling.error } });
  for (const s of SHAPES.filter((x) => !x.gpuOnly || !ctx.summary.isSoftware)) {
    const flops = 2 * s.M * s.N * s.K;
    const a = randn([s.M, s.K]);
    const bStore = randn(s.transB ? [s.N, s.K] : [s.K, s.N]);
    const b = s.transB ? transpose(bStore, 0, 1) : bStore;
    const once = () => matmul(a, b).dispose();
    if (process.env.BENCH_TUNE === '1') {
      await tuneGemm('matmul', s.M, s.N, s.K, async (v: GemmVariant) => {
        setMatmulKernel('gemm', v);
        return timeGpu(once, { warmup: 1, runs: 3, stat: 'min' });
      });
      setMatmulKernel('gemm', null);
    }
    const variant = chooseGemmVariant('matmul', s.M, s.N, s.K);
    setMatmulKernel('gemm', null);
    const timers: Record<string, Timer> = { ours: engineTimer(once) };
    if (process.env.BENCH_NAIVE !== '0') timers.naive = engineTimer(() => naiveMatmul(a, b).dispose());
    let tfData: Any[] = [];
    if (typeof peer !== 'string') {
      const tf = peer.tf;
      const ta = tf.randomNormal([s.M, s.K]);
      const tb = tf.randomNormal(s.transB ? [s.N, s.K] : [s.K, s.N]);
      tfData = [ta, tb];
      const tfOnce = () => tf.matMul(ta, tb, false, s.transB);
      timers.tfjs = (iters) => peer.once(tfOnce, iters);
    }
    const samples: Record<string, number[]> = {};
    const med = await interleave(timers, { warmup: 1, runs: 7, apart: ['naive'], samples });
    const ours = med.ours;
    const compare: BenchRow['compare'] = {};
    for (const k of ['naive', 'tfjs']) if (med[k] !== undefined) compare[k] = { ms: med[k], value: flops / med[k] / 1e6, ratio: med[k] / ours };
    compare.ceiling = ceilingColumn(flops, ours, ceiling.gflops);
    if (typeof peer !== 'string') peer.tf.dispose(tfData);
    const resultErr = await resultError(matmul(a, b), naiveMatmul(a, b));
    rows.push({ section: 'matmul', name: s.name, ms: ours, value: flops / ours / 1e6, unit: 'GFLOP/s', compare, extra: { variant: describeVariant(variant), resultError: resultErr }, runs: keptRuns(samples), kernels: await kernelProfile(once) });
    a.dispose();
    b.dispose();
    bStore.dispose();
  }
  if (typeof peer === 'string') rows.push({ section: 'matmul', name: `(tfjs column: ${peer})`, ms: 0, value: 0, unit: '' });
  return rows;
}
