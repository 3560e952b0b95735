// `npm run bench [-- <section>... ] [--tune] [--no-tfjs] [--no-naive] [--profile]`: every section of the benchmark,
// a table on stdout and bench/results.json (adapter, machine, timestamp, rows).
//
// Each section runs in its own child process because lavapipe's vector width is fixed when the driver
// loads: the matmul-bound sections (matmul, conv, block) run at 512 bits on AVX-512 cores (16-wide
// subgroups, +50% for the subgroup-broadcast GEMM there) and at 256 on AVX2-only ones (gemmWidth), the
// load-bound ones (norm_pool and the other helpers' sections) at the driver's default 256 bits, as the
// README recommends. WEBGPU_VECTOR_WIDTH set by the caller applies to
// every section. The TensorFlow.js peer runs inside each section's process, on the same adapter.
// Sections: matmul, conv, norm_pool, block (this file's), and, when their modules exist, losses,
// augment and poll (each exports runSection(): Promise<BenchRow[]>).
// --tune times a few GEMM variants per shape first and caches the winners (engine/tune.ts).
// --profile adds, under each matmul, conv and block row, the GPU time of its kernels (engine/profile.ts),
// measured after the row's timed runs. Every matmul and conv row checks its result against the naive
// kernel (extra.resultError); a wrong one is printed as such and the command exits with status 1.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostCpuinfo } from '../engine/host_cpu.js';
import { fmtRow, wrongResult, type BenchRow } from './harness.js';
import { checkTargets, fmtTarget } from './targets.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(HERE, '..', '..', 'bench', 'results.json');

interface SectionSpec {
  name: string;
  /** 'gemm': the GEMM-bound sections' width, gemmWidth() of the host CPU. */
  width: '256' | 'gemm';
  optional: boolean;
}

const SECTIONS: SectionSpec[] = [
  { name: 'matmul', width: 'gemm', optional: false },
  { name: 'conv', width: 'gemm', optional: false },
  { name: 'norm_pool', width: '256', optional: false },
  { name: 'block', width: 'gemm', optional: false },
  { name: 'losses', width: '256', optional: true },
  { name: 'augment', width: '256', optional: true },
  { name: 'poll', width: '256', optional: true },
];

interface ChildResult {
  rows: BenchRow[];
  adapter: Record<string, unknown>;
  vectorWidth: string;
  subgroupSize: number;
  seconds: number;
  error?: string;
}

async function child(name: string, out: string): Promise<void> {
  const t0 = performance.now();
  const { initDevice } = await import('../engine/device.js');
  const ctx = await initDevice();
  const result: ChildResult = {
    rows: [],
    adapter: { ...ctx.summary },
    vectorWidth: process.env.LP_NATIVE_VECTOR_WIDTH ?? 'driver default',
    subgroupSize: ctx.summary.subgroupSize,
    seconds: 0,
  };
  try {
    const mod = (await import(`./${name}.js`)) as { runSection(): Promise<BenchRow[]> };
    result.rows = await mod.runSection();
  } catch (e) {
    result.error = (e as Error).stack ?? String(e);
  }
  result.seconds = (performance.now() - t0) / 1000;
  writeFileSync(out, JSON.stringify(result));
  process.exit(0);
}

/**
 * The CPU, as far as it matters to a CPU driver's code: model name, family and model numbers, and
 * the vector extensions LLVM can use (lavapipe's speed depends on them more than on the name: the
 * same kernels ran several times faster on AVX-512 cores than on AVX2-only ones).
 */
function cpuInfo(): { model: string; cores: number; family?: number; modelNumber?: number; vector?: string } {
  const c = cpus();
  const info: ReturnType<typeof cpuInfo> = { model: c[0]?.model ?? 'unknown CPU', cores: c.length };
  const f = hostCpuinfo();
  if (!f) return info; // not Linux: the model name is all there is
  const num = (v: string) => (v === '' ? undefined : Number(v));
  info.family = num(f.family);
  info.modelNumber = num(f.model);
  info.vector = f.flags.has('avx512f') ? 'AVX-512' : f.flags.has('avx2') ? 'AVX2, no AVX-512' : f.flags.has('avx') ? 'AVX' : 'SSE';
  return info;
}

/**
 * lavapipe's vector width for the GEMM-bound sections: 512 bits (16-wide subgroups, sampled texture
 * panels) on AVX-512 cores, where it ran the GEMMs ~50% faster than 256; the default 256 (8-wide, storage
 * texture panels) on AVX2-only cores, where 512-bit vectors are pairs of 256-bit registers and the 8-wide
 * storage-texture GEMM ran 1024^3 at 25 GFLOP/s against 15-17 at 16 lanes (bench/NOTES.md, "Storage-texture panels at 8 lanes").
 */
function gemmWidth(c: ReturnType<typeof cpuInfo>): '256' | '512' {
  return c.vector === 'AVX-512' ? '512' : '256';
}

function header(c: ReturnType<typeof cpuInfo>, load: number[]): string {
  const detail = c.family !== undefined ? ` (family ${c.family}, model ${c.modelNumber}, ${c.vector})` : '';
  return `${c.cores} x ${c.model}${detail}, load average ${load.map((x) => x.toFixed(2)).join(' ')}`;
}

function rowsOf(sections: Record<string, unknown>[]): BenchRow[] {
  return sections.flatMap((x) => (x.rows as BenchRow[] | undefined) ?? []);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const childAt = args.indexOf('--child');
  if (childAt >= 0) return child(args[childAt + 1], args[childAt + 2]);
  const flags = new Set(args.filter((a) => a.startsWith('--')));
  const wanted = args.filter((a) => !a.startsWith('--'));
  const FLAGS = ['--tune', '--no-tfjs', '--no-naive', '--profile'];
  const badFlags = [...flags].filter((f) => !FLAGS.includes(f));
  if (badFlags.length) {
    console.error(`bench: unknown option(s) ${badFlags.join(', ')}; options: ${FLAGS.join(', ')}`);
    process.exit(2);
  }
  const unknown = wanted.filter((w) => !SECTIONS.some((s) => s.name === w));
  if (unknown.length) {
    console.error(`bench: unknown section(s) ${unknown.join(', ')}; sections: ${SECTIONS.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (flags.has('--tune')) env.BENCH_TUNE = '1';
  if (flags.has('--no-tfjs')) env.BENCH_TFJS = '0';
  if (flags.has('--no-naive')) env.BENCH_NAIVE = '0';
  if (flags.has('--profile')) env.BENCH_PROFILE = '1';
  const chosen = SECTIONS.filter((s) => (wanted.length ? wanted.includes(s.name) : true));
  const tmp = mkdtempSync(join(tmpdir(), 'webgpu-dl-bench-'));
  const started = new Date();
  const cpu = cpuInfo();
  const loadAtStart = loadavg();
  const machine = header(cpu, loadAtStart);
  console.log(`npm run bench — ${started.toISOString()} — ${machine}`);
  console.log(`medians of >= 5 timed runs after warm-up; compare columns: naive reference kernel, TensorFlow.js WebGPU, ceiling (the adapter's ALU ceiling, bench/ceiling.ts); (xR) = ours / theirs`);
  const sections: Record<string, unknown>[] = [];
  for (const s of chosen) {
    if (!existsSync(join(HERE, `${s.name}.js`))) {
      const note = `section ${s.name}: module bench/${s.name}.ts not present, skipped`;
      console.log(note);
      if (!s.optional) process.exitCode = 1;
      continue;
    }
    const out = join(tmp, `${s.name}.json`);
    const width = process.env.WEBGPU_VECTOR_WIDTH ?? process.env.LP_NATIVE_VECTOR_WIDTH ?? (s.width === 'gemm' ? gemmWidth(cpu) : s.width);
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', s.name, out], {
      env: { ...env, WEBGPU_VECTOR_WIDTH: width },
      stdio: ['ignore', 'inherit', 'pipe'],
      encoding: 'utf8',
    });
    if (!existsSync(out)) {
      console.log(`section ${s.name}: failed (exit ${r.status})\n${(r.stderr ?? '').split('\n').filter((l) => !/^Warning: max/.test(l)).join('\n')}`);
      process.exitCode = 1;
      continue;
    }
    const res = JSON.parse(readFileSync(out, 'utf8')) as ChildResult;
    const desc = (res.adapter.description as string) || (res.adapter.device as string);
    console.log(`\n## ${s.name} — ${desc}, vector width ${res.vectorWidth}, subgroup size ${res.subgroupSize}, ${res.seconds.toFixed(0)} s`);
    for (const row of res.rows) console.log(fmtRow(row));
    if (res.rows.some(wrongResult)) process.exitCode = 1;
    if (res.error) {
      console.log(`section ${s.name} failed: ${res.error}`);
      process.exitCode = 1;
    }
    sections.push({ name: s.name, adapter: res.adapter, vectorWidth: res.vectorWidth, subgroupSize: res.subgroupSize, seconds: res.seconds, error: res.error, rows: res.rows });
  }
  rmSync(tmp, { recursive: true, force: true });
  const software = sections.some((x) => (x.adapter as { isSoftware?: boolean } | undefined)?.isSoftware);
  const targets = checkTargets(rowsOf(sections), software);
  console.log(`\n## targets (the kernels issue), this run's rows`);
  for (const t of targets) console.log(fmtTarget(t));
  let allSections = sections;
  // a filtered run merges into the existing results (the other sections, with their rows, are kept)
  if (wanted.length && existsSync(RESULTS)) {
    try {
      const prev = JSON.parse(readFileSync(RESULTS, 'utf8'));
      const keep = ((prev.sections ?? []) as { name: string }[]).filter((x) => !chosen.some((s) => s.name === x.name));
      allSections = [...keep, ...sections].sort((a, b) => SECTIONS.findIndex((s) => s.name === a.name) - SECTIONS.findIndex((s) => s.name === b.name));
    } catch {
      // unreadable previous results: overwrite
    }
  }
  const rows = rowsOf(allSections);
  const first = allSections[0] as { adapter?: Record<string, unknown> } | undefined;
  const adapter = first?.adapter ? { description: first.adapter.description, vendor: first.adapter.vendor, architecture: first.adapter.architecture, device: first.adapter.device, backend: first.adapter.backend } : null;
  const doc = { timestamp: started.toISOString(), finished: new Date().toISOString(), adapter, machine: { cpu, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadavg() }, argv: args, targets, sections: allSections, rows };
  writeFileSync(RESULTS, JSON.stringify(doc, null, 1));
  console.log(`\nwrote ${RESULTS}`);
}

await main();
