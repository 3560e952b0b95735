// The performance targets of the kernels issue, checked against one run's rows (`npm run bench` prints
// them after the table and writes them to bench/results.json as `targets`): on a CPU driver, matmul 2048³
// at 100 GFLOP/s or more, 3×3 convolutions (forward, input-grad, weight-grad) at 50 or more, every matmul
// and conv row at 8× TensorFlow.js's WebGPU backend or more; on a GPU, matmul 4096³ at 40% or more of the
// adapter's ALU ceiling (the matmul section's first row, standing in for the card's f32 peak).
// A target whose rows are not in the run (a section left out, --no-tfjs) is reported as not measured.
import type { BenchRow } from './harness.js';

export interface TargetCheck {
  target: string;
  /** null: the run has no row the target applies to. */
  met: boolean | null;
  detail: string;
}

const fmt = (x: number) => x.toFixed(1);

function lowest<T>(xs: T[], key: (x: T) => number): T {
  return xs.reduce((a, b) => (key(b) < key(a) ? b : a));
}

/** `ceiling`: the adapter's ALU ceiling in GFLOP/s, named in the detail when known. */
function atLeast(target: string, rows: BenchRow[], key: (r: BenchRow) => number, bound: number, show: (x: number) => string, ceiling?: number): TargetCheck {
  if (rows.length === 0) return { target, met: null, detail: 'not measured in this run' };
  const ok = rows.filter((r) => key(r) >= bound);
  const low = lowest(rows, key);
  const of = ceiling === undefined ? '' : ` (this adapter's ALU ceiling: ${fmt(ceiling)} GFLOP/s)`;
  return { target, met: ok.length === rows.length, detail: `${ok.length} of ${rows.length} rows; lowest: ${low.name} ${show(key(low))}${of}` };
}

export function checkTargets(rows: BenchRow[], software: boolean): TargetCheck[] {
  const ceiling = rows.find((r) => r.section === 'matmul' && r.name.startsWith('ALU ceiling'));
  const gemm = rows.filter((r) => r.section === 'conv' || (r.section === 'matmul' && r.unit === 'GFLOP/s' && r !== ceiling));
  const checks: TargetCheck[] = [];
  if (software) {
    const big = rows.filter((r) => r.section === 'matmul' && r.name === 'matmul 2048^3');
    checks.push(atLeast('matmul 2048³ >= 100 GFLOP/s', big, (r) => r.value, 100, (x) => `${fmt(x)} GFLOP/s`, ceiling?.value));
    const three = rows.filter((r) => r.section === 'conv' && r.name.includes('3x3'));
    const convCeiling = three.find((r) => r.compare?.ceiling)?.compare!.ceiling.value;
    checks.push(atLeast('3×3 conv forward, input-grad and weight-grad >= 50 GFLOP/s', three, (r) => r.value, 50, (x) => `${fmt(x)} GFLOP/s`, convCeiling));
  } else {
    const big = rows.filter((r) => r.section === 'matmul' && r.name === 'matmul 4096^3');
    const peak = ceiling?.value ?? 0;
    checks.push(atLeast('matmul 4096³ >= 40% of the ALU ceiling', ceiling ? big : [], (r) => r.value / peak, 0.4, (x) => `${(100 * x).toFixed(0)}% of ${fmt(peak)} GFLOP/s`));
  }
  const withPeer = gemm.filter((r) => r.compare?.tfjs !== undefined);
  checks.push(atLeast('every matmul and conv row >= 8x tfjs-webgpu', withPeer, (r) => r.compare!.tfjs.ratio, 8, (x) => `${x.toFixed(2)}x`));
  return checks;
}

export function fmtTarget(t: TargetCheck): string {
  const state = t.met === null ? 'not measured' : t.met ? 'met' : 'NOT met';
  return `${state.padEnd(12)} ${t.target}: ${t.detail}`;
}
