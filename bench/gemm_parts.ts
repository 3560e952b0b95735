// Where a GEMM's time goes on a CPU driver (bench/NOTES.md "Where the 2048³ GEMM's time goes"):
//   WEBGPU_VECTOR_WIDTH=512 node dist/bench/gemm_parts.js [n] [rounds]
//     times matmul n³ (default 2048) under its chosen variant with the kernel's texel loads as written
//     and rewritten (engine/kernels.ts setSourceRewrite), the forms interleaved in one process, and
//     splits the time into the work outside the k loop (an empty k loop), arithmetic (no loads at all),
//     texel-fetch calls and cache misses. The rewritten forms compute wrong products by design; the
//     written form's result is checked against the naive kernel (WRONG, exit status 1).
//   WEBGPU_VECTOR_WIDTH=512 node dist/bench/gemm_parts.js fetch
//     the cost of one 16-byte fetch a lane in each binding form lavapipe offers (storage and sampled
//     textures, 2-D and 1-D, storage buffers), in a kernel that does nothing else.
import { initDevice, deviceContext } from '../engine/device.js';
import { matmul, randn, type Tensor } from '../engine/index.js';
import { setSourceRewrite, sourceRewriteCount } from '../engine/kernels.js';
import { gemmTile, matmulVariant } from '../engine/ops/matmul.js';
import { describeVariant, fitVariant } from '../engine/tune.js';
import { median, RESULT_TOLERANCE, resultError } from './harness.js';
import { naiveMatmul } from './matmul.js';
import { engineTimer, interleave, type Timer } from './tfjs.js';

/** The panel-load functions engine/kernels.ts panelBinding gives every GEMM that reads textures. */
const TEXEL_FN = (name: 'at' | 'bt') => new RegExp(`fn ${name}_texel\\(c: vec2<u32>\\) -> vec4<u32> \\{[^}]*\\}`);
/**
 * A load replaced by values made from its coordinates: the address arithmetic stays, the fetch goes.
 * The values are normal floats in [1, 1.008): small integers bit-cast to f32 are denormals, and the
 * CPU's multiplies of denormals are slow (the driver leaves them on), which made the no-load forms of
 * 2048³ 20% slower than with normal values (bench/NOTES.md, 2026-11-30 evening).
 */
const noLoad = (name: 'at' | 'bt') =>
  `fn ${name}_texel(c: vec2<u32>) -> vec4<u32> { return vec4<u32>((c.x & 0xffffu) | 0x3f800000u, (c.y & 0xffffu) | 0x3f800000u, ((c.x ^ c.y) & 0xffffu) | 0x3f800000u, 0x3f800000u); }`;

/** A rewrite of the A and/or B texel functions, or of the coordinates every fetch reads. */
export type PartForm = 'as written' | 'no loads' | 'no A loads' | 'no B loads' | 'loads from L1' | 'empty k loop';
export const PART_FORMS: PartForm[] = ['as written', 'no loads', 'no A loads', 'no B loads', 'loads from L1', 'empty k loop'];

/** The GEMM template's main-loop bound and its k-tail test (shaders/matmul_gemm.wgsl). */
const K_MAIN = 'let kMain = kBegin + ((kEnd - kBegin) & 0xfffffffcu);';
const K_TAIL = 'if (kMain < kEnd) {';

export function rewriteFor(form: PartForm): ((name: string, wgsl: string) => string) | null {
  const drop = (names: ('at' | 'bt')[]) => (_: string, wgsl: string) => names.reduce((w, n) => w.replace(TEXEL_FN(n), noLoad(n)), wgsl);
  switch (form) {
    case 'as written':
      return null;
    case 'no loads':
      return drop(['at', 'bt']);
    case 'no A loads':
      return drop(['at']);
    case 'no B loads':
      return drop(['bt']);
    case 'loads from L1':
      // every fetch reads one of the texture's first 16 x 16 texels (4 KiB): the same calls, no misses
      return (_, wgsl) => wgsl.replace(/(fn (?:at|bt)_texel\(c: vec2<u32>\) -> vec4<u32> \{ return textureLoad\(\w+, )c/g, '$1(c & vec2<u32>(15u, 15u))');
    case 'empty k loop':
      // no k step runs (the tail's test is never true, though the compiler cannot know): what is left
      // is the work outside the loop — operand copies, dispatch, the stores and the wait
      return (_, wgsl) => (wgsl.includes(K_MAIN) ? wgsl.replace(K_MAIN, 'let kMain = kBegin;').replace(K_TAIL, 'if (kMain < kEnd && p.K == 0u) {') : wgsl);
  }
}

export interface GemmParts {
  variant: string;
  /** Median ms per product for each form. */
  ms: Record<PartForm, number>;
  /** Kernels each rewrite changed (0 for 'as written'); a form that changed none measured nothing new. */
  rewritten: Record<PartForm, number>;
  /** Texel-fetch calls of the product (one per subgroup per fetch), for A and B read as texture copies. */
  fetchCalls: number;
  /** Relative error of the written form's result against the naive kernel's. */
  resultError: number;
}

/** Times matmul M x K x N in every form, interleaved over `rounds` rounds. */
export async function gemmParts(M: number, K: number, N: number, rounds: number): Promise<GemmParts> {
  const a = randn([M, K]);
  const b = randn([K, N]);
  const v = fitVariant(matmulVariant(M, N, K), M);
  const rewritten = {} as Record<PartForm, number>;
  const timers: Record<string, Timer> = {};
  for (const form of PART_FORMS) {
    const rewrite = rewriteFor(form);
    timers[form] = engineTimer(() => {
      setSourceRewrite(rewrite && { tag: form, rewrite });
      try {
        matmul(a, b).dispose();
        rewritten[form] = Math.max(rewritten[form] ?? 0, sourceRewriteCount());
      } finally {
        setSourceRewrite(null);
      }
    });
  }
  const ms = (await interleave(timers, { warmup: 1, runs: rounds })) as Record<PartForm, number>;
  const err = await resultError(matmul(a, b), naiveMatmul(a, b));
  const S = deviceContext().summary.subgroupSize;
  const { rows, cols } = gemmTile(v);
  const groups = cols / (4 * S);
  const perStep = Math.ceil(rows / S) + 4 * groups;
  const fetchCalls = Math.ceil(M / rows) * Math.ceil(N / cols) * Math.ceil(K / 4) * perStep;
  for (const t of [a, b] as Tensor[]) t.dispose();
  return { variant: describeVariant(v), ms, rewritten, fetchCalls, resultError: err };
}

export type FetchForm = 'storage 2-D' | 'sampled 2-D' | 'storage 1-D' | 'sampled 1-D' | 'storage buffer';
export const FETCH_FORMS: FetchForm[] = ['storage 2-D', 'sampled 2-D', 'storage 1-D', 'sampled 1-D', 'storage buffer'];

/**
 * Wall ns per subgroup-wide fetch (a 16-byte value a lane) for each binding form: a kernel of 2048
 * workgroups of one subgroup, each lane xor-ing `iters` x 8 fetches, timed over 4 dispatches a run.
 */
export async function fetchCosts(rounds: number, iters = 64): Promise<Record<FetchForm, number>> {
  const { device, summary } = deviceContext();
  const S = summary.subgroupSize;
  const W = 1024;
  const WG = 2048;
  const F = 8;
  const usage = GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST | GPUTextureUsage.STORAGE_BINDING;
  const w1 = Math.min(8192, device.limits.maxTextureDimension1D);
  const t2 = device.createTexture({ size: [W, W], format: 'rgba32uint', usage });
  const t1 = device.createTexture({ size: [w1], dimension: '1d', format: 'rgba32uint', usage });
  const buf = device.createBuffer({ size: W * W * 16, usage: GPUBufferUsage.STORAGE });
  const out = device.createBuffer({ size: WG * S * 16, usage: GPUBufferUsage.STORAGE });
  const flat = (x: string, y: string) => `((${y}) * 64u + (${x})) & ${w1 - 1}u`;
  const forms: Record<FetchForm, { decl: string; load: (x: string, y: string) => string; resource: GPUBindingResource }> = {
    'storage 2-D': { decl: 'var t: texture_storage_2d<rgba32uint, read>;', load: (x, y) => `textureLoad(t, vec2<u32>(${x}, ${y}))`, resource: t2.createView() },
    'sampled 2-D': { decl: 'var t: texture_2d<u32>;', load: (x, y) => `textureLoad(t, vec2<u32>(${x}, ${y}), 0)`, resource: t2.createView() },
    'storage 1-D': { decl: 'var t: texture_storage_1d<rgba32uint, read>;', load: (x, y) => `textureLoad(t, ${flat(x, y)})`, resource: t1.createView() },
    'sampled 1-D': { decl: 'var t: texture_1d<u32>;', load: (x, y) => `textureLoad(t, ${flat(x, y)}, 0)`, resource: t1.createView() },
    'storage buffer': { decl: 'var<storage, read> t: array<vec4<u32>>;', load: (x, y) => `t[(${y}) * ${W}u + (${x})]`, resource: { buffer: buf } },
  };
  const runs: Record<string, () => Promise<number>> = {};
  for (const form of FETCH_FORMS) {
    const { decl, load, resource } = forms[form];
    const body = [...Array(F).keys()].map((j) => `    s = s ^ ${load(`(lane + ${j * 16}u) & ${W - 1}u`, `(i * ${F}u + ${j}u + wid) & ${W - 1}u`)};`).join('\n');
    const code = `@group(0) @binding(0) ${decl}
@group(0) @binding(1) var<storage, read_write> o: array<vec4<u32>>;
@compute @workgroup_size(${S}) fn main(@builtin(workgroup_id) w: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let wid = w.x;
  var s = vec4<u32>(0u);
  for (var i = 0u; i < ${iters}u; i++) {
${body}
  }
  o[wid * ${S}u + lane] = s;
}`;
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
    const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource }, { binding: 1, resource: { buffer: out } }] });
    const dispatch = async (n: number) => {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      for (let r = 0; r < n; r++) pass.dispatchWorkgroups(WG);
      pass.end();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
    };
    await dispatch(1);
    runs[form] = async () => {
      const t0 = performance.now();
      await dispatch(4);
      return ((performance.now() - t0) / 4) * 1e6 / (WG * iters * F);
    };
  }
  const ns: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) for (const form of FETCH_FORMS) (ns[form] ??= []).push(await runs[form]());
  for (const x of [t1, t2]) x.destroy();
  for (const x of [buf, out]) x.destroy();
  return Object.fromEntries(FETCH_FORMS.map((f) => [f, median(ns[f])])) as Record<FetchForm, number>;
}

async function main(): Promise<void> {
  const ctx = await initDevice();
  const args = process.argv.slice(2);
  if (args[0] === 'fetch') {
    const rounds = Number(args[1] ?? 5);
    const ns = await fetchCosts(rounds);
    console.log(`one 16-byte fetch a lane, ${ctx.summary.subgroupSize} lanes, ${ctx.summary.description}; wall ns per subgroup fetch, median of ${rounds} rounds`);
    for (const f of FETCH_FORMS) console.log(`${f.padEnd(16)} ${ns[f].toFixed(1).padStart(7)} ns`);
    return;
  }
  const n = Number(args[0] ?? 2048);
  const rounds = Number(args[1] ?? 5);
  const p = await gemmParts(n, n, n, rounds);
  const gf = (ms: number) => (2 * n ** 3) / ms / 1e6;
  console.log(`matmul ${n}³, ${ctx.summary.description}, ${p.variant}; ${rounds} interleaved rounds, medians`);
  for (const f of PART_FORMS) console.log(`${f.padEnd(14)} ${p.ms[f].toFixed(2).padStart(9)} ms ${gf(p.ms[f]).toFixed(1).padStart(7)} GFLOP/s${f !== 'as written' && p.rewritten[f] === 0 ? '  (no kernel rewritten: this variant reads no such texel)' : ''}`);
  const outside = p.ms['empty k loop'];
  const body = p.ms['no loads'] - outside;
  const calls = p.ms['loads from L1'] - p.ms['no loads'];
  const misses = p.ms['as written'] - p.ms['loads from L1'];
  console.log(`outside the k loop ${outside.toFixed(1)} ms, arithmetic and accumulator traffic ${body.toFixed(1)} ms, texel-fetch calls ${calls.toFixed(1)} ms (${p.fetchCalls} calls, ${((calls * 1e6) / p.fetchCalls).toFixed(1)} ns each), cache misses ${misses.toFixed(1)} ms`);
  console.log(`100 GFLOP/s would take ${((2 * n ** 3) / 1e8).toFixed(1)} ms`);
  if (!(p.resultError <= RESULT_TOLERANCE)) {
    console.log(`WRONG: the written form's result differs from the naive kernel's (relative error ${p.resultError.toExponential(2)})`);
    process.exitCode = 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
