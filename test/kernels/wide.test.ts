// GEMM variants that only exist with 16-wide subgroups (lavapipe at LP_NATIVE_VECTOR_WIDTH=512, the
// width the benchmark's GEMM sections use): B panels in an rgba32uint texture and 8 columns a lane.
// The driver reads the width when it loads, so they run in a child process (wide_check.ts) whose
// results are checked here against float64 references: relative error 1e-5 of the largest value.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import * as E from '../../engine/index.js';
import { readsTextures, setMatmulKernel } from '../../engine/ops/matmul.js';
import type { GemmVariant } from '../../engine/tune.js';
import { assertClose, randomData } from '../helpers.js';
import { refMatmul } from './ref.js';

interface ChildOut {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one half of wide_check.js at 512 bits (each compiles its own kernels: the halves run side by side). */
function runChild(part: 'panels' | 'direct'): Promise<ChildOut> {
  const child = fileURLToPath(new URL('./wide_check.js', import.meta.url));
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [child, part], { env: { ...process.env, LP_NATIVE_VECTOR_WIDTH: '512' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('GEMM variants at 16-wide subgroups (child processes at 512-bit lavapipe)', function () {
  this.timeout(600_000);
  it('texture B panels, B copied straight into a texture, 8 columns a lane, and the weight-grad on texture copies of x match float64 for matmul and conv2d (forward and both gradients)', async function () {
    if (!E.deviceContext().summary.isSoftware) this.skip(); // hardware GPUs use the tiled family
    // first a texture GEMM at this process's own width, so that Mesa's shader cache (when on) holds
    // that width's code before the 512-bit children start: they must not load it (engine/device.ts
    // separateShaderCache; with one shared cache every 16-lane texture result below was garbage)
    const S = E.deviceContext().summary.subgroupSize;
    const own: GemmVariant = { family: 'bcast', tm: 4 * S, tn: 8, wg: 1, subgroup: S, pack: true, tex: true };
    if (E.deviceContext().features.has('subgroups') && readsTextures(own)) {
      const [M, N, K] = [96, 128, 64];
      const A = randomData(M * K, 71);
      const B = randomData(K * N, 72);
      setMatmulKernel('gemm', own);
      try {
        const ref = refMatmul(A, B, M, N, K, 1, false, false);
        const [a, b] = [E.tensor(A, [M, K]), E.tensor(B, [K, N])];
        const c = E.matmul(a, b);
        const got = await c.toArray();
        [a, b, c].forEach((t) => t.dispose());
        // max |error| within 1e-5 of the largest value, the children's measure below
        assertClose(got, ref, { rtol: 0, atol: 1e-5 * Math.max(...ref.map(Math.abs)) }, `the parent's ${S}-lane texture matmul`);
      } finally {
        setMatmulKernel('gemm', null);
      }
    }
    // panels: the crash-shape matmul, the mid-size default matmul and conv (3), then per variant its matmul and
    // conv results; direct: per variant 9 matmul cases and 5 1x1 conv results; the packB one adds the
    // 3x3 forward on a texture and 3 forward/input-grad pairs (strided; stride 1 as the phase GEMM and as dcol +
    // col2im); then 6 weight-grads (5 reading x from texture copies, the 1x1 one gathering it), 3 reading dy from its flat texture
    // copy, the stem's input-grad with more dy rows than a texture holds, and a weight-grad whose x's
    // 4 copies exceed a storage binding; a texture matmul run twice (its bind group reused); and 3 forwards
    // with their channels padded to 4
    const expected = { panels: 1 + 1 + 3 + 3 * 6 + 3, direct: 2 * (9 + 5) + 1 + 3 * 2 + 6 + 3 + 1 + 1 + 1 + 3 };
    const outs = await Promise.all((['panels', 'direct'] as const).map(runChild));
    (['panels', 'direct'] as const).forEach((part, i) => {
      const r = outs[i];
      expect(r.status, `child ${part} failed: ${r.stderr}`).to.equal(0);
      const line = r.stdout.trim().split('\n').pop()!;
      const out = JSON.parse(line) as { subgroupSize: number; results: { what: string; maxRelErr: number }[] };
      expect(out.subgroupSize, 'LP_NATIVE_VECTOR_WIDTH=512 gives 16-wide subgroups').to.equal(16);
      expect(out.results.length, part).to.equal(expected[part]);
      for (const { what, maxRelErr } of out.results) expect(maxRelErr, what).to.be.below(1e-5);
    });
  });
});
