// Benchmark plumbing shared by every section of `npm run bench`: timing with warm-up and medians,
// the printed table and the rows written to bench/results.json.
import { stopProfile, sync } from '../engine/commands.js';
import { deviceContext } from '../engine/device.js';
import { startProfile } from '../engine/profile.js';
import type { Tensor } from '../engine/tensor.js';

export interface BenchRow {
  section: string;
  name: string;
  /** Median milliseconds of the engine's kernel. */
  ms: number;
  /** Throughput of the engine: GFLOP/s, GB/s, images/s or views/s (see unit). */
  value: number;
  unit: string;
  /** Comparison columns, e.g. { naive: { ms, value }, tfjs: { ms, value } }; ratio = ours / theirs in throughput. */
  compare?: Record<string, { ms: number; value: number; ratio: number }>;
  extra?: Record<string, number | string>;
  /** Each column's timed runs (ms per call of its work, in the order they ran), whose medians are ms and compare[*].ms. */
  runs?: Record<string, number[]>;
  /** With `--profile`: GPU time per kernel of one call of the row's engine work, longest first. */
  kernels?: { kernel: string; calls: number; ms: number }[];
}

/**
 * With `npm run bench -- --profile` (BENCH_PROFILE=1): the GPU time of each kernel of `fn`, per call,
 * averaged over `runs` profiled calls (engine/profile.ts); undefined otherwise or without timestamps.
 */
export async function kernelProfile(fn: () => void, runs = 3): Promise<BenchRow['kernels']> {
  if (process.env.BENCH_PROFILE !== '1' || !deviceContext().features.has('timestamp-query')) return undefined;
  await sync('bench');
  startProfile();
  for (let i = 0; i < runs; i++) fn();
  const rows = await stopProfile();
  return rows.map((r) => ({ kernel: r.kernel, calls: r.calls / runs, ms: r.totalMs / runs }));
}

/** A row whose result differs from its reference by more than this (relative to the reference's largest magnitude) is reported wrong. */
export const RESULT_TOLERANCE = 1e-4;

/**
 * The largest |ours - ref| over the largest |ref| (a bench row's check of its own result against the
 * naive kernel; disposes both). Rows above RESULT_TOLERANCE are printed as wrong and make
 * `npm run bench` exit non-zero (bench/run.ts, wrongResult).
 */
export async function resultError(ours: Tensor, ref: Tensor): Promise<number> {
  const [a, b] = [await ours.toArray(), await ref.toArray()];
  ours.dispose();
  ref.dispose();
  let e = a.length === b.length ? 0 : Infinity;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    e = Math.max(e, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return e / (m || 1);
}

/**
 * An A/B's check of one setting's result against the naive kernel's (disposes both): prints WRONG and
 * sets a failing exit status where they differ by more than RESULT_TOLERANCE, so that a fast wrong
 * kernel cannot pass for a win.
 */
export async function checkAgainstNaive(setting: string, ours: Tensor, ref: Tensor): Promise<void> {
  const err = await resultError(ours, ref);
  if (!(err <= RESULT_TOLERANCE)) {
    console.log(`  WRONG: ${setting} differs from the naive kernel by ${err.toExponential(2)} of its largest value`);
    process.exitCode = 1;
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Milliseconds a timed run should last at least (BENCH_MIN_MS). Each run pays a fixed cost once: the
 * GPU idles while the first call is encoded, and the wait notices the end late (engine/device.ts
 * gpuWait polls by setTimeout after its first 0.5 ms, so up to a millisecond late). On lavapipe a
 * 6 ms conv input-grad ran 7.5-8.8 ms a call one call per run, 6.5-6.7 at 3, 6.1-6.4 at 10 or more;
 * through Dawn on a discrete GPU a round trip is 0.5-1 ms, where one kernel can take less. At 100 ms a
 * run the cost is within 1-2% for every row (at 20 ms, 5-8% for the conv rows, which then ran 2-3
 * calls a run, against 1-5% for tfjs's slower kernels).
 */
export function benchMinMs(): number {
  const env = Number(process.env.BENCH_MIN_MS);
  return Number.isFinite(env) && env > 0 ? env : 100;
}

/** Repetitions per timed run so that a run of single-run time `oneMs` lasts about `minMs` (1..256). */
export function itersFor(oneMs: number, minMs: number): number {
  return Math.max(1, Math.min(256, Math.round(minMs / Math.max(oneMs, 1e-3))));
}

/**
 * Times `fn` (which encodes GPU work) `runs` times after `warmup` runs, waiting for the GPU after
 * each run; returns the median in ms per call of fn (or the fastest run with `stat: 'min'`, which the
 * tuner uses: on a shared machine bursts only ever add time, so the fastest run is the least disturbed).
 * `iters` calls of fn per timed run amortize fixed costs; without it, iters is calibrated after the
 * warm-up so a run lasts about benchMinMs(), and a warm-up run of that many calls follows.
 */
export async function timeGpu(fn: () => void | Promise<void>, opts: { warmup?: number; runs?: number; iters?: number; after?: () => Promise<void>; stat?: 'median' | 'min' } = {}): Promise<number> {
  const warmup = opts.warmup ?? 2;
  const runs = opts.runs ?? 5;
  const wait = opts.after ?? (() => sync('bench'));
  let iters = opts.iters ?? 1;
  for (let i = 0; i < warmup; i++) {
    for (let k = 0; k < iters; k++) await fn();
    await wait();
  }
  if (opts.iters === undefined) {
    const t0 = performance.now();
    await fn();
    await wait();
    iters = itersFor(performance.now() - t0, benchMinMs());
    // as in interleave(): the first run at a new repetition count runs slower than the next ones
    if (warmup > 0 && iters > 1) {
      for (let k = 0; k < iters; k++) await fn();
      await wait();
    }
  }
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    for (let k = 0; k < iters; k++) await fn();
    await wait();
    times.push((performance.now() - t0) / iters);
  }
  return opts.stat === 'min' ? Math.min(...times) : median(times);
}

/** Runs as `BenchRow.runs` keeps them: ms rounded to 4 significant digits. */
export function keptRuns(samples: Record<string, number[]>): Record<string, number[]> {
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.map((ms) => +ms.toPrecision(4))]));
}

/** Whether a row checked its result and found it wrong. */
export function wrongResult(r: BenchRow): boolean {
  const err = r.extra?.resultError;
  return typeof err === 'number' && !(err <= RESULT_TOLERANCE);
}

export function fmtRow(r: BenchRow): string {
  const cmp = Object.entries(r.compare ?? {})
    .map(([k, v]) => `${k} ${v.value.toFixed(1)} (x${v.ratio.toFixed(2)})`)
    .join('  ');
  const wrong = wrongResult(r) ? `  WRONG RESULT (relative error ${Number(r.extra!.resultError).toExponential(2)} against its reference)` : '';
  const line = `${r.section.padEnd(10)} ${r.name.padEnd(44)} ${r.ms.toFixed(3).padStart(9)} ms ${r.value.toFixed(1).padStart(9)} ${r.unit.padEnd(8)} ${cmp}${wrong}`;
  const kernels = (r.kernels ?? []).slice(0, 6).map((k) => `${' '.repeat(12)}${k.ms.toFixed(3).padStart(9)} ms  x${k.calls}  ${k.kernel.length > 100 ? `${k.kernel.slice(0, 97)}...` : k.kernel}`);
  return [line, ...kernels].join('\n');
}
