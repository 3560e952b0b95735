// GEMM variants that only exist with 16-wide subgroups (lavapipe at LP_NATIVE_VECTOR_WIDTH=512, the
// width the benchmark's GEMM sections use): B panels in an rgba32uint texture and 8 columns a lane.
// The driver reads the width when it loads, so they run in a child process (wide_check.ts) whose
// results are checked here against float64 references: relative error 1e-5 of the largest value.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import * as E from '../../engine/index.js';

describe('GEMM variants at 16-wide subgroups (child process at 512-bit lavapipe)', function () {
  this.timeout(600_000);
  it('texture B panels, B copied straight into a texture, and 8 columns a lane match float64 for matmul and conv2d (forward and both gradients)', function () {
    if (!E.deviceContext().summary.isSoftware) this.skip(); // hardware GPUs use the tiled family
    const child = fileURLToPath(new URL('./wide_check.js', import.meta.url));
    const r = spawnSync(process.execPath, [child], { env: { ...process.env, LP_NATIVE_VECTOR_WIDTH: '512' }, encoding: 'utf8' });
    expect(r.status, `child failed: ${r.stderr}`).to.equal(0);
    const line = r.stdout.trim().split('\n').pop()!;
    const out = JSON.parse(line) as { subgroupSize: number; results: { what: string; maxRelErr: number }[] };
    expect(out.subgroupSize, 'LP_NATIVE_VECTOR_WIDTH=512 gives 16-wide subgroups').to.equal(16);
    expect(out.results.length).to.equal(3 * 6 + 2 * (6 + 5) + 5);
    for (const { what, maxRelErr } of out.results) expect(maxRelErr, what).to.be.below(1e-5);
  });
});
