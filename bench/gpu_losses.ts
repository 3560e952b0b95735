// Layout sweep of the fused contrastive kernels (losses/contrastive.ts) on the adapter at hand: NT-Xent
// forward+backward at 2N = 4096, d = 128, tau = 0.1 for rows per invocation R, workgroup size and the
// register scheme, with each layout's loss and gradient checked against the default layout's. Used on
// a lent GPU (scripts/gpu-check.sh runs it) to choose the layout for hardware adapters.
//   node dist/bench/gpu_losses.js [2N]
import { initDevice } from '../engine/device.js';
import * as E from '../engine/index.js';
import { setFusedTuning, type FusedTuning } from '../losses/contrastive.js';
import { timeGpu } from './harness.js';

async function main(): Promise<void> {
  const ctx = await initDevice();
  console.log(`adapter: ${ctx.summary.description} (${ctx.summary.vendor}), subgroup ${ctx.summary.subgroupSize}`);
  const twoN = Number(process.argv[2] ?? 4096);
  const d = 128;
  E.manualSeed(7);
  const z1 = E.randn([twoN / 2, d], { requiresGrad: true });
  const z2 = E.randn([twoN / 2, d], { requiresGrad: true });
  const flops = 3 * 2 * twoN * twoN * d;
  const run = async (): Promise<{ loss: number; g: Float32Array }> => {
    const l = E.ntXent(z1, z2, { temperature: 0.1 });
    l.backward();
    const out = { loss: (await l.toArray())[0], g: await z1.grad!.toArray() };
    l.dispose();
    z1.zeroGrad();
    z2.zeroGrad();
    return out;
  };
  const step = () => {
    const l = E.ntXent(z1, z2, { temperature: 0.1 });
    l.backward();
    l.dispose();
    z1.zeroGrad();
    z2.zeroGrad();
  };
  const layouts: FusedTuning[] = [{}];
  for (const R of [1, 2, 4]) for (const workgroupSize of [32, 64, 128]) layouts.push({ rowsPerInvocation: R, workgroupSize });
  layouts.push({ rowsPerInvocation: 1, workgroupSize: 64, regs: 'memory' });
  layouts.push({ rowsPerInvocation: 1, workgroupSize: 64, regs: 'unrolled' });
  layouts.push({ rowsPerInvocation: 1, workgroupSize: 64, subgroups: false });
  let ref: { loss: number; g: Float32Array } | null = null;
  for (const t of layouts) {
    setFusedTuning(t);
    const r = await run();
    ref ??= r;
    let err = 0;
    let scale = 0;
    for (let i = 0; i < r.g.length; i++) {
      err = Math.max(err, Math.abs(r.g[i] - ref.g[i]));
      scale = Math.max(scale, Math.abs(ref.g[i]));
    }
    const ms = await timeGpu(step, { warmup: 1, runs: 3 });
    const ok = Math.abs(r.loss - ref.loss) <= 1e-5 * Math.abs(ref.loss) && err <= 1e-4 * scale;
    console.log(`${JSON.stringify(t).padEnd(64)} ${ms.toFixed(2).padStart(9)} ms ${(flops / ms / 1e6).toFixed(1).padStart(8)} GFLOP/s  loss ${r.loss.toFixed(6)} grad err ${(err / scale).toExponential(1)} ${ok ? 'ok' : 'MISMATCH'}`);
  }
  setFusedTuning({});
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
