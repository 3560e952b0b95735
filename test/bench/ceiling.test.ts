// The bench's arithmetic-ceiling kernel (bench/ceiling.ts) must do the work it is credited with: its
// per-invocation sums equal the same f32 recurrence on the host, for every shape the bench times.
import { expect } from 'chai';
import { CEILING_SHAPES, ceilingColumn, expectedSum, runCeiling, updatesPerInvocation } from '../../bench/ceiling.js';

describe('bench: ALU ceiling kernel', () => {
  const iters = 24;
  for (const s of CEILING_SHAPES) {
    it(`${s.accs} accumulators x ${s.unroll}${s.straight ? ' straight-line' : ' a loop iteration'}: every invocation's sum matches the host recurrence (relative 1e-6)`, async () => {
      const got = await runCeiling(s, 3, iters);
      const n = updatesPerInvocation(s, iters);
      expect(n).to.equal(s.straight ? s.unroll : iters * s.unroll);
      expect(got.length).to.be.greaterThan(2 * 8);
      for (let gi = 0; gi < got.length; gi++) {
        const want = expectedSum(s, gi, n);
        expect(Math.abs(got[gi] - want) / Math.abs(want), `invocation ${gi}`).to.be.below(1e-6);
        // one update more or less is far outside the tolerance: the check sees skipped work
        for (const other of [n - 1, n + 1]) expect(Math.abs(got[gi] - expectedSum(s, gi, other)) / Math.abs(want)).to.be.above(1e-5);
      }
    });
  }

  it("a row's ceiling column: the time its FLOPs take at the ceiling, and ours / ceiling", () => {
    // 1 GFLOP in 100 ms is 10 GFLOP/s; at a 50 GFLOP/s ceiling it would take 20 ms: ratio 0.2
    const c = ceilingColumn(1e9, 100, 50);
    expect(c.value).to.equal(50);
    expect(c.ms).to.be.closeTo(20, 1e-9);
    expect(c.ratio).to.be.closeTo(0.2, 1e-12);
  });
});
