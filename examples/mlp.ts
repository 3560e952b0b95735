// Fits a small MLP to y = sin(3x) * x on [-1, 1] with plain SGD, printing the loss.
// Run: npm run build && node dist/examples/mlp.js
import { initDevice, manualSeed, tensor, randn, zeros, matmul, add, sub, mul, mean, tanh, tidy, noGrad, memoryStats, type Tensor } from '../engine/index.js';

await initDevice();
manualSeed(0);

const n = 256;
const xs = Float32Array.from({ length: n }, (_, i) => -1 + (2 * i) / (n - 1));
const x = tensor(xs, [n, 1]);
const y = tensor(xs.map((v) => Math.sin(3 * v) * v), [n, 1]);

const param = (t: Tensor) => ((t.requiresGrad = true), t);
let params = [param(mul(randn([1, 32]), 1.0)), param(zeros([32])), param(mul(randn([32, 1]), 0.2)), param(zeros([1]))];

const lr = 0.1;
for (let step = 0; step <= 2000; step++) {
  const loss = tidy(() => {
    const h = tanh(add(matmul(x, params[0]), params[1]));
    const out = add(matmul(h, params[2]), params[3]);
    const l = mean(mul(sub(out, y), sub(out, y)));
    l.backward();
    return l;
  });
  params = noGrad(() =>
    params.map((p) => {
      const next = tidy(() => sub(p, mul(p.grad!, lr)));
      p.dispose();
      return param(next);
    }),
  );
  if (step % 250 === 0) console.log(`step ${step.toString().padStart(4)}  loss ${(await loss.item()).toFixed(6)}  live GPU bytes ${memoryStats().liveBytes}`);
  loss.dispose();
}
process.exit(0);
