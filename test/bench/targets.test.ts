// The bench's target summary (bench/targets.ts) on made-up rows: each target is met only when every
// row it covers meets it, names the lowest row, and says "not measured" when the run has no such row.
import { expect } from 'chai';
import { checkTargets } from '../../bench/targets.js';
import type { BenchRow } from '../../bench/harness.js';

function row(section: string, name: string, value: number, tfjs?: number): BenchRow {
  return { section, name, ms: 1, value, unit: 'GFLOP/s', ...(tfjs === undefined ? {} : { compare: { tfjs: { ms: tfjs, value: value / tfjs, ratio: tfjs } } }) };
}

describe('bench: target summary', () => {
  const good = [
    row('matmul', 'ALU ceiling (no loads)', 300),
    row('matmul', 'matmul 2048^3', 120, 9),
    row('matmul', 'proj head 256x2048 -> 128', 80, 8),
    row('conv', 'conv2_x 3x3 64->64 @56 fwd', 60, 10),
    row('conv', 'conv2_x 3x3 64->64 @56 dw', 50, 20),
    row('conv', 'stem 7x7/2 3->64 @224 dx', 10, 12),
  ];
  const byTarget = (rows: BenchRow[], software = true) => Object.fromEntries(checkTargets(rows, software).map((t) => [t.target.split(' ')[0] + (t.target.includes('tfjs') ? ' tfjs' : ''), t]));

  it('all met when every covered row meets its bound (the ceiling row is not a GEMM row)', () => {
    for (const t of checkTargets(good, true)) expect(t.met, t.target).to.equal(true);
  });

  it('one row below a bound fails that target alone and is named', () => {
    const rows = good.map((r) => (r.name.endsWith('dw') ? row('conv', r.name, 49.9, 20) : r));
    const t = byTarget(rows);
    expect(t['3×3'].met).to.equal(false);
    expect(t['3×3'].detail).to.contain('1 of 2 rows').and.contain('@56 dw 49.9');
    expect(t['matmul'].met).to.equal(true);
    const slow = byTarget(good.map((r) => (r.name.startsWith('proj') ? row('matmul', r.name, 80, 7.99) : r)));
    expect(slow['every tfjs'].met).to.equal(false);
    expect(slow['every tfjs'].detail).to.contain('proj head 256x2048 -> 128 7.99x');
  });

  it('a target with no rows in the run is not measured, neither met nor failed', () => {
    const t = byTarget(good.filter((r) => r.section === 'matmul').map((r) => row(r.section, r.name, r.value)));
    expect(t['3×3'].met).to.equal(null);
    expect(t['every tfjs'].met).to.equal(null);
    expect(t['matmul'].met).to.equal(true);
  });

  it("the 3×3 target names the adapter's ALU ceiling when the conv rows carry it", () => {
    const rows = good.map((r) => (r.section === 'conv' ? { ...r, compare: { ...r.compare, ceiling: { ms: 1, value: 55, ratio: r.value / 55 } } } : r));
    expect(byTarget(rows)['3×3'].detail).to.contain("ALU ceiling: 55.0 GFLOP/s");
    expect(byTarget(good)['3×3'].detail).to.not.contain('ceiling');
  });

  it('on a GPU: matmul 4096³ against 40% of the ALU ceiling', () => {
    const rows = [row('matmul', 'ALU ceiling (no loads)', 60000), row('matmul', 'matmul 4096^3', 23000, 20)];
    expect(checkTargets(rows, false)[0]).to.include({ met: false });
    rows[1] = row('matmul', 'matmul 4096^3', 24000, 20);
    expect(checkTargets(rows, false)[0]).to.include({ met: true });
    expect(checkTargets(rows.slice(1), false)[0].met).to.equal(null);
  });
});
