// The adapter's arithmetic ceiling (shaders/alu_ceiling.wgsl): GFLOP/s of a kernel whose loop only
// multiplies and adds on values held by each invocation, no loads. On lavapipe it is what the CPU
// driver's generated code reaches on the machine at hand (a fraction of the CPU's own peak, see
// bench/cpu_peak.c), the ceiling any GEMM through the driver stays below; the matmul section shows
// each GEMM row against it. The result is checked against the same recurrence computed on the host.
import { dispatch } from '../engine/commands.js';
import { deviceContext } from '../engine/device.js';
import { kernel, renderTemplate, shaderSource } from '../engine/kernels.js';
import { empty } from '../engine/tensor.js';
import { timeGpu } from './harness.js';

export interface CeilingShape {
  /** vec4 accumulators per invocation. */
  accs: number;
  /** Updates of each accumulator per loop iteration (straight: in all). */
  unroll: number;
  /** No loop: the updates are one straight-line block, run once per invocation. */
  straight?: boolean;
}

/**
 * Shapes timed by `aluCeiling` (the best is reported). On lavapipe, loops: 12-16 accumulators unrolled
 * 4-8 times were fastest (~50-70 GFLOP/s on 2 Zen 3 cores); straight-line code whose accumulators all
 * fit in the CPU's 16 vector registers ran faster still (~86-97 at 8 lanes with 3 vec4s, i.e. 12
 * registers; ~77 at 16 lanes with 1, i.e. 8), and one accumulator more, spilled, fell to ~24-40.
 */
export const CEILING_SHAPES: CeilingShape[] = [
  { accs: 12, unroll: 8 },
  { accs: 16, unroll: 4 },
  { accs: 8, unroll: 8 },
  { accs: 3, unroll: 1024, straight: true },
  { accs: 1, unroll: 1024, straight: true },
];

// acc = acc * M + C converges to C / (1 - M) = -1, below every start value: no sum of accumulators
// passes near 0, so one update more or less always shows in the relative difference.
const M = 0.999;
const C = -0.001;

/** Updates each accumulator gets in a run of `iters` iterations (a straight-line shape runs its block once). */
export function updatesPerInvocation(s: CeilingShape, iters: number): number {
  return s.straight ? s.unroll : iters * s.unroll;
}

function workgroupSize(): number {
  const { summary } = deviceContext();
  return summary.isSoftware ? Math.max(1, summary.subgroupSize) : 256;
}

function ceilingSource(s: CeilingShape, wg: number): string {
  const acc = (i: number) => `acc${i}`;
  const init: string[] = [];
  const body: string[] = [];
  for (let i = 0; i < s.accs; i++) init.push(`  var ${acc(i)} = vec4<f32>(x + ${i}.0, x + ${i}.25, x + ${i}.5, x + ${i}.75);`);
  const indent = s.straight ? '  ' : '    ';
  for (let u = 0; u < s.unroll; u++) for (let i = 0; i < s.accs; i++) body.push(`${indent}${acc(i)} = ${acc(i)} * m + c;`);
  const block = s.straight ? body : ['  for (var it = 0u; it < p.iters; it = it + 1u) {', ...body, '  }'];
  const sum = [...Array(s.accs).keys()].map((i) => `dot(${acc(i)}, vec4<f32>(1.0))`).join(' + ');
  return renderTemplate(shaderSource('alu_ceiling'), { ACCS: s.accs, UNROLL: s.unroll, WGSIZE: wg, INIT: init.join('\n'), BODY: block.join('\n'), SUM: sum });
}

/** What invocation `gi` writes after `updates` updates of each accumulator, by the same f32 recurrence (Math.fround after each operation). */
export function expectedSum(s: CeilingShape, gi: number, updates: number): number {
  const f = Math.fround;
  const m = f(M);
  const c = f(C);
  const x = f(f(gi % 64) * 0.015625);
  let total = 0;
  for (let i = 0; i < s.accs; i++) {
    for (const q of [0, 0.25, 0.5, 0.75]) {
      let v = f(x + f(i + q));
      for (let n = 0; n < updates; n++) v = f(f(v * m) + c);
      total += v;
    }
  }
  return total;
}

/** Runs the ceiling kernel once: `groups` workgroups, `iters` iterations; returns every invocation's sum. */
export async function runCeiling(s: CeilingShape, groups: number, iters: number): Promise<Float32Array> {
  const wg = workgroupSize();
  const out = empty([groups * wg], 'float32', 'bench.ceiling');
  try {
    launch(s, wg, groups, iters, out.buffer('bench.ceiling'));
    return await out.toArray();
  } finally {
    out.dispose();
  }
}

function launch(s: CeilingShape, wg: number, groups: number, iters: number, buffer: GPUBuffer): void {
  const k = kernel(`bench.ceiling:${s.accs}:${s.unroll}:${wg}`, () => ceilingSource(s, wg));
  const params = new Uint32Array(4);
  const pf = new Float32Array(params.buffer);
  params[0] = iters;
  pf[1] = M;
  pf[2] = C;
  dispatch(k, [buffer], params, [groups]);
}

/** Largest relative difference between the kernel's sums and the host recurrence over `n` invocations. */
export async function ceilingError(s: CeilingShape, groups: number, iters: number, n = 64): Promise<number> {
  const got = await runCeiling(s, groups, iters);
  let worst = 0;
  for (let gi = 0; gi < Math.min(n, got.length); gi++) {
    const want = expectedSum(s, gi, updatesPerInvocation(s, iters));
    worst = Math.max(worst, Math.abs(got[gi] - want) / Math.abs(want));
  }
  return worst;
}

/** A GEMM row's `ceiling` column: the ceiling's rate, the time the row's FLOPs would take at it, and ours / ceiling. */
export function ceilingColumn(flops: number, ms: number, gflops: number): { ms: number; value: number; ratio: number } {
  const atCeiling = flops / gflops / 1e6;
  return { ms: atCeiling, value: gflops, ratio: atCeiling / ms };
}

/** The adapter's ceiling in GFLOP/s: the fastest of CEILING_SHAPES, each checked against the host. */
export async function aluCeiling(): Promise<{ gflops: number; ms: number; shape: CeilingShape; error: number }> {
  const software = deviceContext().summary.isSoftware;
  const wg = workgroupSize();
  // updates per invocation and run: lavapipe 4096 x 96 (0.8-3.2 GFLOP a run), a GPU 1024 x 96 on 8192 x 256
  // invocations (about 1.6 TFLOP); a straight-line shape makes up its fewer updates with more workgroups
  const loopGroups = software ? 64 : 8192;
  const iters = software ? 4096 : 1024;
  const shapes = CEILING_SHAPES.map((s) => ({ s, groups: s.straight ? Math.ceil((loopGroups * iters * 96) / (s.accs * s.unroll)) : loopGroups }));
  let best: { gflops: number; ms: number; shape: CeilingShape; error: number } | null = null;
  const out = empty([Math.max(...shapes.map((x) => x.groups)) * wg], 'float32', 'bench.ceiling');
  try {
    for (const { s, groups } of shapes) {
      const error = await ceilingError(s, 1, 64);
      const ms = await timeGpu(() => launch(s, wg, groups, iters, out.buffer('bench.ceiling')), { warmup: 1, runs: 5 });
      const gflops = (2 * 4 * s.accs * updatesPerInvocation(s, iters) * groups * wg) / ms / 1e6;
      if (!best || gflops > best.gflops) best = { gflops, ms, shape: s, error };
    }
  } finally {
    out.dispose();
  }
  return best!;
}
