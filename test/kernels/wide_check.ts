// Child process of wide.test.ts, started with LP_NATIVE_VECTOR_WIDTH=512 (the driver reads it when it
// loads, so it cannot be switched inside the test process): runs the GEMM variants that exist only at
// 16-wide subgroups (B panels in a texture, 8 columns a lane) on odd shapes, for matmul and conv2d
// forward / input-grad / weight-grad, against float64 references, and prints one JSON line:
//   { subgroupSize, software, results: [{ what, maxRelErr }] }  (maxRelErr: max |err| / max |ref|)
import * as E from '../../engine/index.js';
import { setConvVariants } from '../../engine/ops/conv2d.js';
import { setMatmulKernel } from '../../engine/ops/matmul.js';
import type { GemmVariant } from '../../engine/tune.js';
import { randomData } from '../helpers.js';
import { conv2dGradRef, conv2dRef, convDims, refMatmul } from './ref.js';

function relErr(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let e = 0;
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    e = Math.max(e, Math.abs(a[i] - ref[i]));
    m = Math.max(m, Math.abs(ref[i]));
  }
  return e / (m || 1);
}

async function main(): Promise<void> {
  const ctx = await E.initDevice();
  const S = ctx.summary.subgroupSize;
  const results: { what: string; maxRelErr: number }[] = [];
  const out = { subgroupSize: S, software: ctx.summary.isSoftware, results };
  if (S < 16 || !ctx.summary.isSoftware) {
    console.log(JSON.stringify(out));
    return;
  }
  const variants: [string, GemmVariant][] = [
    ['tn8 packed texture', { family: 'bcast', tm: S, tn: 8, wg: 1, subgroup: S, pack: true, tex: true }],
    ['packB texture swap', { family: 'bcast', tm: S, wg: 2, subgroup: S, pack: 'B', tex: true, swap: true }],
    ['tn8 packB', { family: 'bcast', tm: S, tn: 8, wg: 1, subgroup: S, pack: 'B' }],
  ];
  let seed = 1;
  for (const [name, v] of variants) {
    setMatmulKernel('gemm', v);
    for (const [batch, M, N, K] of [[1, 131, 137, 41], [3, 20, 200, 9], [1, 1, 130, 7]]) {
      const A = randomData(batch * M * K, seed++);
      const B = randomData(K * N, seed++);
      const ref = refMatmul(A, B, M, N, K, batch, true, false);
      // B stored transposed and viewed back, as linear() reads its weight
      const bT = E.tensor(Float32Array.from({ length: K * N }, (_, i) => B[(i % K) * N + Math.floor(i / K)]), [N, K]);
      const c = E.matmul(E.tensor(A, [batch, M, K]), E.transpose(bT, 0, 1));
      results.push({ what: `matmul ${name} ${batch}x${M}x${N}x${K}`, maxRelErr: relErr(await c.toArray(), ref) });
    }
    setConvVariants({ 'conv.fwd': v, 'conv.dx': v, 'conv.dw': v });
    const xs = [2, 8, 9, 11];
    const ws = [20, 8, 3, 3];
    const cfg = { stride: [2, 2] as [number, number], padding: [1, 1] as [number, number] };
    const d = convDims(xs, ws, cfg);
    const X = randomData(2 * 8 * 9 * 11, seed++);
    const W = randomData(20 * 8 * 9, seed++);
    const GY = randomData(d.N * d.O * d.OH * d.OW, seed++);
    const x = E.tensor(X, xs, { requiresGrad: true });
    const w = E.tensor(W, ws, { requiresGrad: true });
    const y = E.conv2d(x, w, null, cfg);
    results.push({ what: `conv2d forward ${name}`, maxRelErr: relErr(await y.toArray(), conv2dRef(X, W, null, d)) });
    E.sum(E.mul(y, E.tensor(GY, [d.N, d.O, d.OH, d.OW]))).backward();
    const g = conv2dGradRef(X, W, GY, d);
    results.push({ what: `conv2d input-grad ${name}`, maxRelErr: relErr(await x.grad!.toArray(), g.dx) });
    results.push({ what: `conv2d weight-grad ${name}`, maxRelErr: relErr(await w.grad!.toArray(), g.dw) });
    setConvVariants({});
  }
  setMatmulKernel('gemm', null);
  console.log(JSON.stringify(out));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
