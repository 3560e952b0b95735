// Hardware-GPU check of the workgroup-tiled GEMM family (scripts/gpu-bench.sh runs it before the bench):
// every tiled candidate against a float64 reference on odd and transposed shapes, then its throughput
// on large square products, so one call on a lent GPU says which tile wins and how far from peak it is.
//   node dist/bench/gpu_sweep.js [sizes...]     (default 1024 2048 4096)
import { initDevice } from '../engine/device.js';
import { matmul, randn, tensor, transpose } from '../engine/index.js';
import { Rng } from '../engine/random.js';
import { setMatmulKernel } from '../engine/ops/matmul.js';
import { describeVariant, gemmCandidates, tiledVariants } from '../engine/tune.js';
import { median, timeGpu } from './harness.js';

function refMatmul(A: Float32Array, B: Float32Array, M: number, N: number, K: number): Float64Array {
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let k = 0; k < K; k++) {
      const a = A[i * K + k];
      for (let j = 0; j < N; j++) C[i * N + j] += a * B[k * N + j];
    }
  return C;
}

function rand(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.range(-0.5, 0.5));
}

async function main(): Promise<void> {
  const ctx = await initDevice();
  console.log(`adapter: ${JSON.stringify(ctx.summary)}`);
  const sizes = process.argv.slice(2).map(Number).filter((x) => x > 0);
  const cands = [...tiledVariants(), ...gemmCandidates('matmul', 2048, 2048, 2048).filter((v) => v.family !== 'tiled')];
  let bad = 0;
  for (const v of cands) {
    setMatmulKernel('gemm', v);
    for (const [M, N, K] of [[131, 259, 77], [517, 389, 300]]) {
      const A = rand(M * K, M + N);
      const B = rand(K * N, K);
      const ref = refMatmul(A, B, M, N, K);
      const a = tensor(A, [M, K]);
      const bT = tensor(Float32Array.from({ length: K * N }, (_, i) => B[(i % K) * N + Math.floor(i / K)]), [N, K]);
      const b = transpose(bT, 0, 1);
      const c = await matmul(a, b).toArray();
      let err = 0;
      let scale = 0;
      for (let i = 0; i < ref.length; i++) {
        err = Math.max(err, Math.abs(c[i] - ref[i]));
        scale = Math.max(scale, Math.abs(ref[i]));
      }
      const ok = err <= 1e-5 * scale * Math.sqrt(K) + 1e-6;
      if (!ok) bad++;
      console.log(`check ${describeVariant(v).padEnd(28)} ${M}x${N}x${K} (B transposed) max|err| ${err.toExponential(2)} of max|C| ${scale.toFixed(2)} ${ok ? 'ok' : 'FAIL'}`);
      [a, bT, b].forEach((t) => t.dispose());
    }
  }
  for (const n of sizes.length ? sizes : [1024, 2048, 4096]) {
    const a = randn([n, n]);
    const b = randn([n, n]);
    const flops = 2 * n * n * n;
    const iters = Math.min(50, Math.max(1, Math.round(2e11 / flops)));
    for (const v of cands) {
      setMatmulKernel('gemm', v);
      const runs: number[] = [];
      for (let r = 0; r < 3; r++) runs.push(await timeGpu(() => matmul(a, b).dispose(), { warmup: 1, runs: 3, iters }));
      const ms = median(runs);
      console.log(`time  ${describeVariant(v).padEnd(28)} ${n}^3  ${ms.toFixed(3).padStart(8)} ms  ${(flops / ms / 1e9).toFixed(2).padStart(7)} TFLOP/s`);
    }
    a.dispose();
    b.dispose();
  }
  setMatmulKernel('gemm', null);
  if (bad) {
    console.log(`${bad} checks FAILED`);
    process.exitCode = 1;
  }
}

main().then(
  () => process.exit(),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
