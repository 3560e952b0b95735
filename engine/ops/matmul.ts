// Matrix products: the GEMM kernel generator every product op uses (matmul, linear, and conv2d's
// forward / input-grad / weight-grad as implicit GEMMs), plus matmul (2-D, batched with
// broadcasting, 1-D operands as in torch.matmul) and linear.
// Template: shaders/matmul_gemm.wgsl. The op describes its operands with a GemmSpec (how an element
// of A and a vec4 of B are loaded, how C is stored); transposed or otherwise strided operands are
// read in place through their strides, never copied. The blocking variant (family, rows per tile,
// subgroups per workgroup, split-K) is chosen per adapter by engine/tune.ts.
import { dispatch } from '../commands.js';
import { deviceContext } from '../device.js';
import { kernel, renderTemplate, shaderSource, type Kernel } from '../kernels.js';
import { broadcastShapes, fmtShape, numel } from '../shape.js';
import { empty, record, Tensor } from '../tensor.js';
import { chooseGemmVariant, type GemmVariant } from '../tune.js';
import { add, copy } from './elementwise.js';
import { sum, sumTo } from './reduce.js';
import { expand, reshape, transpose } from './shape.js';

export type { GemmVariant } from '../tune.js';

/**
 * How an op's operands map onto C = A @ B (A: M x K, B: K x N). Generated WGSL may use: `p.<field>`
 * (uniform params: M, N, K and the spec's own), `batch`, `split`, `m0`, `n0`, `nc0..nc3` (columns
 * n0..n0+3 clamped to N - 1), and the names the spec's own snippets define.
 */
export interface GemmSpec {
  /** Names every value baked into the generated code besides the variant (kernel cache key). */
  key: string;
  /** Extra u32 uniform fields, in order (their values follow M, N, K, ... in `gemm()`'s params). */
  params: string[];
  /** Storage declarations bound at 1..n, e.g. 'var<storage, read_write> c: array<f32>'. */
  bindings: string[];
  /** Statements run once per invocation before the k loop (after batch, split, m0, n0, nc*). */
  prologue?: string;
  /** Statements for A row slot j, whose (clamped) row index is the u32 variable `row`. */
  rowPrep(j: number, row: string): string;
  /** Statements computing what the loads of k index `k` (a u32 expression) need, for slot q = 0..3. */
  kPrep?(q: number, k: string): string;
  /** f32 expression: A[row of slot j][k of slot q]. */
  loadA(j: number, q: number, k: string): string;
  /** Optional vec4 expression: A[row of slot j][k .. k + 3] (k a multiple of 4), used instead of 4 loadA. */
  loadA4?(j: number, k: string): string;
  /** K is padded to a multiple of 4 with zeros by the operand layout: no tail step is generated. */
  noTail?: boolean;
  /** Statements run once before the k loop for the 4 columns n0..n0+3 (clamped: nc0..nc3). */
  colPrep?: string;
  /** vec4<f32> expression: B[k of slot q][n0 .. n0 + 3]. */
  loadB(q: number, k: string): string;
  /** A statement storing f32 `v` at C[m][n] (m < M and n < N are guaranteed). */
  store1(m: string, n: string, v: string): string;
  /** Statements run once per stored row `m` before its store1 calls. */
  storeRowPrep?(m: string): string;
  /** Extra WGSL functions. */
  functions?: string;
}

const ACC = (r: number) => `acc${r}`;

/** Renders the GEMM kernel for a spec and a blocking variant. */
export function gemmSource(spec: GemmSpec, v: GemmVariant): string {
  const S = v.family === 'bcast' ? v.subgroup : 1;
  const TM = v.tm;
  const slots = v.family === 'bcast' ? TM / S : TM; // A rows loaded per invocation
  if (v.family === 'bcast' && (TM % S !== 0 || S < 1)) throw new Error(`gemm: tm ${TM} must be a multiple of the subgroup size ${S}`);
  const lines = (xs: string[]) => xs.join('\n');
  let tile: string;
  if (v.family === 'bcast') {
    const [tn, tmx] = v.swap ? ['wid.y', 'wid.x'] : ['wid.x', 'wid.y'];
    tile = lines([
      `  let lane = sgLane;`,
      `  let sg = li / ${S}u;`,
      `  let m0 = (${tmx} * ${v.wg}u + sg) * ${TM}u;`,
      `  let n0 = (${tn} * ${S}u + lane) * 4u;`,
    ]);
  } else {
    const [tn, tmx] = v.swap ? ['wid.y', 'wid.x'] : ['wid.x', 'wid.y'];
    tile = lines([
      `  let lx = li % 8u;`,
      `  let ly = li / 8u;`,
      `  let m0 = (${tmx} * ${v.wg}u + ly) * ${TM}u;`,
      `  let n0 = (${tn} * 8u + lx) * 4u;`,
    ]);
  }
  const rowPrep: string[] = [];
  for (let j = 0; j < slots; j++) {
    const rowExpr = v.family === 'bcast' ? `m0 + ${j * S}u + lane` : `m0 + ${j}u`;
    rowPrep.push(`  let row${j} = min(${rowExpr}, p.M - 1u);`);
    rowPrep.push(indent(spec.rowPrep(j, `row${j}`), 2));
  }
  const accs = [...Array(TM).keys()].map((r) => `  var ${ACC(r)} = vec4<f32>(0.0);`);
  const step = (tail: boolean): string => {
    const out: string[] = [];
    const kq = (q: number) => (tail ? `kq${q}` : q === 0 ? 'k' : `(k + ${q}u)`);
    if (tail) for (let q = 0; q < 4; q++) out.push(`let kq${q} = min(k + ${q}u, kEnd - 1u);`, `let kv${q} = k + ${q}u < kEnd;`);
    if (spec.kPrep) for (let q = 0; q < 4; q++) out.push(spec.kPrep(q, kq(q)));
    const guardA = (q: number, e: string) => (tail ? `select(0.0, ${e}, kv${q})` : e);
    const guardB = (q: number, e: string) => (tail ? `select(vec4<f32>(0.0), ${e}, kv${q})` : e);
    for (let j = 0; j < slots; j++) {
      if (spec.loadA4 && !tail) {
        out.push(`let a${j} = ${spec.loadA4(j, 'k')};`);
        continue;
      }
      const comps = [0, 1, 2, 3].map((q) => guardA(q, spec.loadA(j, q, kq(q))));
      out.push(`let a${j} = vec4<f32>(${comps.join(', ')});`);
    }
    for (let q = 0; q < 4; q++) out.push(`let b${q} = ${guardB(q, spec.loadB(q, kq(q)))};`);
    for (let r = 0; r < TM; r++) {
      const av = v.family === 'bcast' ? `subgroupBroadcast(a${Math.floor(r / S)}, ${r % S}u)` : `a${r}`;
      out.push(`{ let v = ${av}; ${ACC(r)} = ${ACC(r)} + v.x * b0 + v.y * b1 + v.z * b2 + v.w * b3; }`);
    }
    return indent(out.join('\n'), 4);
  };
  const store: string[] = [];
  for (let r = 0; r < TM; r++) {
    store.push(`  { let m = m0 + ${r}u; if (m < p.M) {`);
    if (spec.storeRowPrep) store.push(indent(spec.storeRowPrep('m'), 4));
    ['x', 'y', 'z', 'w'].forEach((c, i) => {
      const n = i === 0 ? "n0" : `(n0 + ${i}u)`;
      store.push(`    if (${n} < p.N) { ${spec.store1('m', n, `${ACC(r)}.${c}`)} }`);
    });
    store.push(`  } }`);
  }
  const bindings = spec.bindings.map((b, i) => `@group(0) @binding(${i + 1}) ${b};`).join('\n');
  const params = spec.params.length ? spec.params.map((n) => `  ${n}: u32,`).join('\n') : '';
  const padCount = (4 - (spec.params.length % 4)) % 4;
  const pad = [...Array(padCount).keys()].map((i) => `  _q${i}: u32,`).join('\n');
  return renderTemplate(shaderSource('matmul_gemm'), {
    FAMILY: v.family,
    ENABLE: v.family === 'bcast' ? 'enable subgroups;' : '',
    PARAMS: [params, pad].filter(Boolean).join('\n'),
    BINDINGS: bindings,
    FUNCTIONS: spec.functions ?? '',
    WGSIZE: v.family === 'bcast' ? S * v.wg : 8 * v.wg,
    LANE_BUILTIN: v.family === 'bcast' ? ', @builtin(subgroup_invocation_id) sgLane: u32' : '',
    TILE: tile,
    PROLOGUE: indent([spec.prologue ?? '', spec.colPrep ?? ''].join('\n'), 2),
    ROWPREP: rowPrep.join('\n'),
    ACCS: accs.join('\n'),
    STEP: step(false),
    TAIL: spec.noTail ? '' : step(true),
    STORE: store.join('\n'),
  });
}

function indent(s: string, n: number): string {
  const pad = ' '.repeat(n);
  return s
    .split('\n')
    .map((l) => (l.trim() ? pad + l.trim() : ''))
    .filter(Boolean)
    .join('\n');
}

export function gemmKernel(spec: GemmSpec, v: GemmVariant): Kernel {
  const key = `gemm:${spec.key}:${v.family}:${v.tm}:${v.wg}:${v.subgroup}:${v.swap ? 1 : 0}`;
  return kernel(key, () => gemmSource(spec, v));
}

/** Rows covered by one workgroup and columns covered by one workgroup for a variant. */
export function gemmTile(v: GemmVariant): { rows: number; cols: number } {
  return v.family === 'bcast' ? { rows: v.tm * v.wg, cols: 4 * v.subgroup } : { rows: v.tm * v.wg, cols: 32 };
}

/**
 * Encodes one GEMM: C (M x N per batch) = A (M x K) @ B (K x N) as the spec describes, with
 * `splits` K-splits (partial results go where the spec's store puts them for each `split`).
 */
export function gemm(spec: GemmSpec, v: GemmVariant, buffers: GPUBuffer[], dims: { M: number; N: number; K: number; batch: number; splits?: number }, extra: number[]): void {
  const { M, N, K, batch } = dims;
  const splits = dims.splits ?? 1;
  if (M === 0 || N === 0 || batch === 0) return;
  const kChunk = splits > 1 ? Math.ceil(K / splits / 4) * 4 : Math.max(K, 1);
  if (extra.length !== spec.params.length) throw new Error(`gemm: internal: ${extra.length} params for ${spec.params.length} fields`);
  const k = gemmKernel(spec, v);
  const padCount = (4 - (spec.params.length % 4)) % 4;
  const params = new Uint32Array(8 + extra.length + padCount);
  params.set([M, N, K, kChunk, batch, splits, 0, 0]);
  params.set(extra, 8);
  const { rows, cols } = gemmTile(v);
  const gm = Math.ceil(M / rows);
  const gn = Math.ceil(N / cols);
  const z = batch * splits;
  const maxG = deviceContext().limits.maxComputeWorkgroupsPerDimension;
  if (z > maxG) throw new Error(`gemm: ${batch} batches x ${splits} splits exceed ${maxG} workgroups`);
  dispatch(k, buffers, params, v.swap ? [gm, gn, z] : [gn, gm, z]);
}

// ---- matmul ------------------------------------------------------------------------------------

/** Matmul operands as strided views: element (m, k) of batch b is a[offA + b*sAb + m*sAm + k*sAk]. */
const MATMUL_SPEC: GemmSpec = {
  key: 'matmul',
  params: ['offA', 'sAb', 'sAm', 'sAk', 'offB', 'sBb', 'sBk', 'sBn'],
  bindings: ['var<storage, read_write> c: array<f32>', 'var<storage, read> a: array<f32>', 'var<storage, read> b: array<f32>'],
  prologue: 'let aB = p.offA + batch * p.sAb;\nlet bB = p.offB + batch * p.sBb;\nlet cB = batch * p.M * p.N;',
  colPrep: 'let bc0 = bB + nc0 * p.sBn;\nlet bc1 = bB + nc1 * p.sBn;\nlet bc2 = bB + nc2 * p.sBn;\nlet bc3 = bB + nc3 * p.sBn;',
  rowPrep: (j, row) => `let ar${j} = aB + ${row} * p.sAm;`,
  kPrep: (q, k) => `let ka${q} = ${k} * p.sAk;\nlet kb${q} = ${k} * p.sBk;`,
  loadA: (j, q) => `a[ar${j} + ka${q}]`,
  loadB: (q) => `vec4<f32>(b[bc0 + kb${q}], b[bc1 + kb${q}], b[bc2 + kb${q}], b[bc3 + kb${q}])`,
  store1: (m, n, v) => `c[cB + ${m} * p.N + ${n}] = ${v};`,
};

/** GEMM spec reading both operands from panels packed by shaders/matmul_pack.wgsl (one vec4 per load). */
function packedSpec(v: GemmVariant): GemmSpec {
  const TM = v.tm;
  const L = v.family === 'bcast' ? v.subgroup : 8;
  const slot = (j: number) => (v.family === 'bcast' ? `${j * v.subgroup}u + lane` : `${j}u`);
  return {
    key: 'matmul.packed',
    params: ['K4', 'MT', 'NT', 'bA', 'bB'],
    bindings: ['var<storage, read_write> c: array<f32>', 'var<storage, read> ap: array<vec4<f32>>', 'var<storage, read> bp: array<vec4<f32>>'],
    prologue: [
      `let mt = m0 / ${TM}u;`,
      `let nt = n0 / ${4 * L}u;`,
      `let l = (n0 / 4u) % ${L}u;`,
      `let aBase = (batch * p.bA * p.MT + mt) * p.K4 * ${TM}u;`,
      `let bBase = (batch * p.bB * p.NT + nt) * 4u * p.K4 * ${L}u + l;`,
      `let cB = batch * p.M * p.N;`,
    ].join('\n'),
    rowPrep: (j) => `let ar${j} = aBase + ${slot(j)};`,
    loadA4: (j, k) => `ap[ar${j} + (${k} / 4u) * ${TM}u]`,
    loadA: (j, q, k) => `ap[ar${j} + (${k} / 4u) * ${TM}u][${q}]`,
    loadB: (_q, k) => `bp[bBase + ${k} * ${L}u]`,
    store1: (m, n, val) => `c[cB + ${m} * p.N + ${n}] = ${val};`,
    noTail: true,
  };
}

function packKernel(which: 'A' | 'B', wg: number): Kernel {
  const body =
    which === 'A'
      ? `  let k4 = wid.x;
  let mt = wid.y;
  let m = mt * ${wg}u + s;
  let base = p.off + b * p.sb + min(m, p.R - 1u) * p.s0;
  var v = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c = c + 1u) {
    let k = 4u * k4 + c;
    v[c] = select(0.0, src[base + min(k, p.K - 1u) * p.s1], m < p.R && k < p.K);
  }
  dst[((b * ng.y + mt) * p.K4 + k4) * ${wg}u + s] = v;`
      : `  let k = wid.x;
  let nt = wid.y;
  let base = p.off + b * p.sb + min(k, p.R - 1u) * p.s0;
  var v = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c = c + 1u) {
    let n = (nt * ${wg}u + s) * 4u + c;
    v[c] = select(0.0, src[base + min(n, p.C - 1u) * p.s1], k < p.R && n < p.C);
  }
  dst[((b * ng.y + nt) * 4u * p.K4 + k) * ${wg}u + s] = v;`;
  return kernel(`matmul_pack:${which}:${wg}`, () => renderTemplate(shaderSource('matmul_pack'), { WG: wg, BODY: body }));
}

/** Packs A and B into panels and runs the packed GEMM (C contiguous [nb, M, N]). */
function packedMatmul(v: GemmVariant, out: GPUBuffer, a: Tensor, sAb: number, b: Tensor, sBb: number, M: number, N: number, K: number, nb: number): void {
  const op = 'matmul';
  const TM = v.tm;
  const L = v.family === 'bcast' ? v.subgroup : 8;
  const K4 = Math.ceil(K / 4);
  const MT = Math.ceil(M / TM);
  const NT = Math.ceil(N / (4 * L));
  const nbA = sAb === 0 ? 1 : nb;
  const nbB = sBb === 0 ? 1 : nb;
  const ap = empty([nbA * MT * K4 * TM * 4], 'float32', op);
  const bp = empty([nbB * NT * 4 * K4 * L * 4], 'float32', op);
  dispatch(packKernel('A', TM), [ap.buffer(op), a.buffer(op)], new Uint32Array([M, 0, K, K4, a.offset, sAb, a.strides[a.rank - 2], a.strides[a.rank - 1]]), [K4, MT, nbA]);
  dispatch(packKernel('B', L), [bp.buffer(op), b.buffer(op)], new Uint32Array([K, N, K, K4, b.offset, sBb, b.strides[b.rank - 2], b.strides[b.rank - 1]]), [4 * K4, NT, nbB]);
  gemm(packedSpec(v), v, [out, ap.buffer(op), bp.buffer(op)], { M, N, K: 4 * K4, batch: nb }, [K4, MT, NT, nbA === 1 ? 0 : 1, nbB === 1 ? 0 : 1]);
  ap.dispose();
  bp.dispose();
}

/** Whether the packed path can run: panel grids fit the dispatch limits. */
function canPack(v: GemmVariant, M: number, N: number, K: number): boolean {
  const maxG = deviceContext().limits.maxComputeWorkgroupsPerDimension;
  const L = v.family === 'bcast' ? v.subgroup : 8;
  return K > 0 && 4 * Math.ceil(K / 4) <= maxG && Math.ceil(M / v.tm) <= maxG && Math.ceil(N / (4 * L)) <= maxG;
}

/** Collapses broadcast batch dims of `t` (expanded to `batch`) into one stride, or null if impossible. */
function batchStride(t: Tensor, batch: number[]): number | null {
  const r = t.rank - 2;
  const strides = batch.map((_d, i) => {
    const j = i - (batch.length - r);
    if (j < 0 || t.shape[j] === 1) return 0;
    return t.strides[j];
  });
  const live = batch.map((d, i) => (d === 1 ? null : strides[i])).filter((s): s is number => s !== null);
  const sizes = batch.filter((d) => d !== 1);
  if (live.every((s) => s === 0)) return 0;
  for (let i = 0; i < live.length - 1; i++) if (live[i] !== live[i + 1] * sizes[i + 1]) return null;
  return live.length ? live[live.length - 1] : 0;
}

/** Which kernel matmul uses: the tuned GEMM (default) or the naive reference (benchmarks only). */
let matmulImpl: 'gemm' | 'naive' = 'gemm';
let forcedVariant: GemmVariant | null = null;

/** Benchmarks and tests: run matmul with the naive reference kernel or a given GEMM variant. */
export function setMatmulKernel(impl: 'gemm' | 'naive', variant: GemmVariant | null = null): void {
  matmulImpl = impl;
  forcedVariant = variant;
}

/** The strided-operand product on rank >= 2 operands, C contiguous [...batch, M, N]. */
function matmulNd(a: Tensor, b: Tensor): Tensor {
  const op = 'matmul';
  const M = a.shape[a.rank - 2];
  const K = a.shape[a.rank - 1];
  const K2 = b.shape[b.rank - 2];
  const N = b.shape[b.rank - 1];
  if (K !== K2) throw new Error(`matmul: inner dimensions differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} (${K} vs ${K2})`);
  const batch = broadcastShapes(op, a.shape.slice(0, -2), b.shape.slice(0, -2));
  const nb = numel(batch);
  const outShape = [...batch, M, N];
  if (nb > 65535) throw new Error(`matmul: ${nb} batches exceed 65535`);
  let aa = a;
  let bb = b;
  let sAb = batchStride(a, batch);
  if (sAb === null) {
    const e = expand(a, [...batch, M, K]);
    aa = copy(e);
    e.dispose();
    sAb = M * K;
  }
  let sBb = batchStride(b, batch);
  if (sBb === null) {
    const e = expand(b, [...batch, K, N]);
    bb = copy(e);
    e.dispose();
    sBb = K * N;
  }
  const out = empty(outShape, 'float32', op);
  if (M * N * nb > 0) {
    const strides = [aa.offset, sAb, aa.strides[aa.rank - 2], aa.strides[aa.rank - 1], bb.offset, sBb, bb.strides[bb.rank - 2], bb.strides[bb.rank - 1]];
    const bufs = [out.buffer(op), aa.buffer(op), bb.buffer(op)];
    if (matmulImpl === 'naive') {
      const k = kernel('matmul_naive', () => shaderSource('matmul_naive'));
      dispatch(k, bufs, new Uint32Array([M, N, K, 0, ...strides]), [Math.ceil(N / 8), Math.ceil(M / 8), nb]);
    } else {
      // K = 0 gives zeros: the GEMM's k loop does not run
      const v = forcedVariant ?? chooseGemmVariant('matmul', M, N, Math.max(K, 1));
      if (v.pack && canPack(v, M, N, K)) packedMatmul(v, bufs[0], aa, sAb, bb, sBb, M, N, K, nb);
      else gemm(MATMUL_SPEC, v, bufs, { M, N, K, batch: nb }, strides);
    }
  }
  if (aa !== a) aa.dispose();
  if (bb !== b) bb.dispose();
  return record('matmul', [a, b], out, [a, b], (g, needs, [sa, sb]) => {
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (needs[0]) {
      const bt = transpose(sb, -2, -1);
      const full = matmulNd(g, bt);
      bt.dispose();
      ga = sumTo(full, a.shape);
      if (ga !== full) full.dispose();
    }
    if (needs[1]) {
      const at = transpose(sa, -2, -1);
      const full = matmulNd(at, g);
      at.dispose();
      gb = sumTo(full, b.shape);
      if (gb !== full) full.dispose();
    }
    return [ga, gb];
  });
}

/** torch.matmul semantics: 1-D operands are promoted (and the added dim removed afterwards). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (!(a instanceof Tensor) || !(b instanceof Tensor)) throw new Error('matmul: both operands must be Tensors');
  a.storage('matmul');
  b.storage('matmul');
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error(`matmul: expected float32 tensors, got ${a.dtype} and ${b.dtype}`);
  if (a.rank === 0 || b.rank === 0) throw new Error(`matmul: operands must have at least one dim, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const a2 = a.rank === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const b2 = b.rank === 1 ? reshape(b, [b.shape[0], 1]) : b;
  if (a2.shape[a2.rank - 1] !== b2.shape[b2.rank - 2]) {
    throw new Error(`matmul: inner dimensions differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`);
  }
  const out = matmulNd(a2, b2);
  if (a2 === a && b2 === b) return out;
  if (a2 !== a) a2.dispose();
  if (b2 !== b) b2.dispose();
  const shape = [...out.shape];
  if (b.rank === 1) shape.splice(shape.length - 1, 1);
  if (a.rank === 1) shape.splice(shape.length - (b.rank === 1 ? 1 : 2), 1);
  const r = reshape(out, shape);
  out.dispose();
  return r;
}

/** y = x @ w^T + b, with w of shape [out, in] as in torch.nn.functional.linear. */
export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  x.storage('linear');
  w.storage('linear');
  if (w.rank !== 2) throw new Error(`linear: weight must be 2-D [out, in], got ${fmtShape(w.shape)}`);
  if (x.shape[x.rank - 1] !== w.shape[1]) {
    throw new Error(`linear: input features ${x.shape[x.rank - 1]} (shape ${fmtShape(x.shape)}) do not match weight ${fmtShape(w.shape)}`);
  }
  if (b && (b.rank !== 1 || b.shape[0] !== w.shape[0])) throw new Error(`linear: bias must be [${w.shape[0]}], got ${fmtShape(b.shape)}`);
  const wt = transpose(w, 0, 1);
  const y = matmul(x, wt);
  wt.dispose();
  if (!b) return y;
  const r = add(y, b);
  y.dispose();
  return r;
}

/** Sums split-K partials [splits, ...shape] into one tensor of `shape` (used by the conv ops). */
export function sumSplits(partial: Tensor, splits: number, shape: number[]): Tensor {
  if (splits === 1) {
    const r = reshape(partial, shape);
    if (r !== partial) partial.dispose();
    return r;
  }
  const s = sum(partial, 0);
  partial.dispose();
  const r = reshape(s, shape);
  if (r !== s) s.dispose();
  return r;
}
