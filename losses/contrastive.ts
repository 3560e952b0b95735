// The fused contrastive kernel family behind ntXent, supConLoss, clipLoss and infoNCE: a row
// normalization pass (shaders/contrastive_normalize.wgsl), a forward kernel that computes each
// anchor's logsumexp over all candidates online, tile by tile (shaders/contrastive_forward.wgsl),
// and a backward kernel that recomputes the similarities tile by tile and accumulates the gradient
// (shaders/contrastive_backward.wgsl). Working memory beyond inputs and outputs is O(rows * d):
// normalized copies of the rows, their norms and 4 floats of statistics per anchor; the
// rows x cols similarity matrix never exists.
//
// Zero vectors: normalization is x / max(||x||, 1e-12), as torch.nn.functional.normalize (eps =
// 1e-12), so a zero row normalizes to zero (all its similarities are 0) and its gradient is the
// normalized-space gradient divided by 1e-12, exactly as in PyTorch.
//
// The kernels are generated straight-line WGSL (loops over registers are slow on CPU drivers):
// the template files hold the fixed parts and document the algorithm; this file fills in the
// unrolled bodies for one configuration (d, positives, scale source, ...), cached per key.
import { dispatch, groups1d } from '../engine/commands.js';
import { deviceContext } from '../engine/device.js';
import { kernel, renderTemplate, shaderSource } from '../engine/kernels.js';
import { fmtShape } from '../engine/shape.js';
import { empty, type Tensor } from '../engine/tensor.js';
import { copy } from '../engine/ops/elementwise.js';

/** The epsilon of the L2 normalization: x / max(||x||, NORM_EPS) (torch's F.normalize default). */
export const NORM_EPS = 1e-12;

/** Which candidates are an anchor's positives. */
export type Positives = 'labels' | 'diag' | 'extra';

export interface ContrastiveKernelConfig {
  /** 'labels': C is A itself (self-similarity excluded), positives share a label; 'diag': column i
   *  is row i's positive (CLIP); 'extra': one extra positive key per anchor (MoCo). */
  positives: Positives;
  /** For 'labels': label(r) = r % labelMod ('mod') or labels[r % labelMod] ('buffer'). */
  labelSource?: 'mod' | 'buffer';
  /** Scale from a buffer as min(exp(sc[scOff]), 100) (CLIP's learnable logit scale) instead of a uniform. */
  scaleFromBuffer?: boolean;
  d: number;
}

export interface BackwardKernelConfig extends ContrastiveKernelConfig {
  /** Add the gradient of the loss in the other direction (the column side): NT-Xent, SupCon, CLIP. */
  colTerm: boolean;
  /** Write per-row partials of dL/dscale (CLIP). */
  scaleGrad?: boolean;
  /** Write the gradient of the extra keys (MoCo's positive keys). */
  extraGrad?: boolean;
}

interface Layout {
  d: number;
  D4: number;
  /** Anchor rows per invocation. */
  R: number;
  /** Straight-line code over d (row cache and accumulators in registers) or a runtime loop. */
  unrolled: boolean;
  WG: number;
}

/** Test and benchmark knobs: force the looped path, a row count per invocation, a workgroup size. */
export interface FusedTuning {
  maxUnrolledD4?: number;
  rowsPerInvocation?: number;
  workgroupSize?: number;
}
let tuning: FusedTuning = {};
export function setFusedTuning(t: FusedTuning): void {
  tuning = { ...t };
}

function layoutFor(d: number): Layout {
  const D4 = Math.ceil(d / 4);
  const unrolled = D4 <= (tuning.maxUnrolledD4 ?? 64);
  const R = tuning.rowsPerInvocation ?? (!unrolled ? 1 : D4 <= 32 ? 4 : 2);
  const WG = tuning.workgroupSize ?? 16;
  return { d, D4, R, unrolled, WG };
}

const BINDING_TYPES: Record<string, string> = {
  stats: 'read_write> stats: array<vec4<f32>>',
  a: 'read> a: array<vec4<f32>>',
  c: 'read> c: array<vec4<f32>>',
  kn: 'read> kn: array<vec4<f32>>',
  labels: 'read> labels: array<i32>',
  sc: 'read> sc: array<f32>',
  out: 'read_write> out: array<f32>',
  norms: 'read> norms: array<f32>',
  statsA: 'read> statsA: array<vec4<f32>>',
  statsC: 'read> statsC: array<vec4<f32>>',
  dk: 'read_write> dk: array<f32>',
  knorms: 'read> knorms: array<f32>',
  sgOut: 'read_write> sgOut: array<f32>',
  g: 'read> g: array<f32>',
  accBuf: 'read_write> accBuf: array<vec4<f32>>',
};

function bindingDecls(names: string[]): string {
  return names.map((n, i) => `@group(0) @binding(${i + 1}) var<storage, ${BINDING_TYPES[n]};`).join('\n');
}

/** Code generation helpers shared by the forward and backward bodies. */
class Gen {
  lines: string[] = [];
  constructor(
    readonly L: Layout,
    readonly cfg: ContrastiveKernelConfig,
  ) {}
  emit(s: string): void {
    this.lines.push(s);
  }
  get self(): boolean {
    return this.cfg.positives === 'labels';
  }
  get colBuf(): string {
    return this.self ? 'a' : 'c';
  }
  get rows(): number[] {
    return [...Array(this.L.R).keys()];
  }
  /** Emits body(k) for every vec4 index k: unrolled with constants, or as one runtime loop. */
  kloop(body: (k: string) => string[], indent = '  '): void {
    if (this.L.unrolled) {
      for (let k = 0; k < this.L.D4; k++) this.emit(`${indent}{ ${body(`${k}u`).join(' ')} }`);
    } else {
      this.emit(`${indent}for (var k = 0u; k < ${this.L.D4}u; k = k + 1u) { ${body('k').join(' ')} }`);
    }
  }
  row(r: number, k: string): string {
    return this.L.unrolled ? `ra${r}_${k.replace('u', '')}` : `a[ib${r} + ${k}]`;
  }
  labelOf(x: string): string {
    return this.cfg.labelSource === 'buffer' ? `labels[(${x}) % p.labelMod]` : `((${x}) % p.labelMod)`;
  }
  scaleExpr(): string {
    return this.cfg.scaleFromBuffer ? 'min(exp(sc[p.scOff]), 100.0)' : 'p.scale';
  }
  prologue(): void {
    const { R, D4, unrolled } = this.L;
    this.emit('  let t = gid.y * p.width + gid.x;');
    this.emit(`  let rb = t * ${R}u;`);
    this.emit('  if (rb >= p.rows) { return; }');
    this.emit('  let last = p.rows - 1u;');
    for (const r of this.rows) this.emit(`  let i${r} = min(rb + ${r}u, last); let ib${r} = i${r} * ${D4}u; let live${r} = rb + ${r}u < p.rows;`);
    if (unrolled) for (const r of this.rows) for (let k = 0; k < D4; k++) this.emit(`  let ra${r}_${k} = a[ib${r} + ${k}u];`);
    if (this.self) for (const r of this.rows) this.emit(`  let lab${r} = ${this.labelOf(`i${r}`)};`);
    this.emit(`  let scale = ${this.scaleExpr()};`);
  }
  /** Inside the column loop (column j, the same for every invocation): raw dot products s{r}, label lj. */
  columnDots(): void {
    this.emit(`    let jb = j * ${this.L.D4}u;`);
    this.emit(`    ${this.rows.map((r) => `var s${r} = 0.0;`).join(' ')}`);
    this.kloop((k) => [`let cv = ${this.colBuf}[jb + ${k}];`, ...this.rows.map((r) => `s${r} = s${r} + dot(${this.row(r, k)}, cv);`)], '    ');
    if (this.self) this.emit(`    let lj = ${this.labelOf('j')};`);
  }
  /** v{r}: column j counts for row r; x{r}: the scaled logit; q{r}: j is a positive of row r. */
  columnMasks(): void {
    for (const r of this.rows) {
      this.emit(`    let v${r} = ${this.self ? `j != i${r}` : 'true'}; let x${r} = s${r} * scale;`);
      if (this.cfg.positives === 'labels') this.emit(`    let q${r} = v${r} && lj == lab${r};`);
      if (this.cfg.positives === 'diag') this.emit(`    let q${r} = j == i${r};`);
    }
  }
  /** Stores the vec4 `v` as components 4k.. of row `i` of the [rows, d] array `buf`, masked past d. */
  store(buf: string, i: string, k: string, v: string): string[] {
    const { d, unrolled } = this.L;
    const comp = ['x', 'y', 'z', 'w'];
    if (unrolled) {
      const kk = Number(k.replace('u', ''));
      return comp.filter((_, q) => 4 * kk + q < d).map((cc, q) => `${buf}[${i} * ${d}u + ${4 * kk + q}u] = ${v}.${cc};`);
    }
    return [`let o = ${i} * ${d}u + 4u * ${k};`, ...comp.map((cc, q) => `if (4u * ${k} + ${q}u < ${d}u) { ${buf}[o + ${q}u] = ${v}.${cc}; }`)];
  }
}

function header(L: Layout): { WG: number } {
  return { WG: L.WG };
}

export function forwardBindings(cfg: ContrastiveKernelConfig): string[] {
  const self = cfg.positives === 'labels';
  return [
    'stats',
    'a',
    ...(self ? [] : ['c']),
    ...(self && cfg.labelSource === 'buffer' ? ['labels'] : []),
    ...(cfg.positives === 'extra' ? ['kn'] : []),
    ...(cfg.scaleFromBuffer ? ['sc'] : []),
  ];
}

function forwardSource(cfg: ContrastiveKernelConfig, L: Layout): string {
  const G = new Gen(L, cfg);
  const rows = G.rows;
  G.prologue();
  for (const r of rows) G.emit(`  var m${r} = NEG; var l${r} = 0.0; var ps${r} = 0.0; var pc${r} = 0.0;`);
  G.emit('  for (var j = 0u; j < p.cols; j = j + 1u) {');
  G.columnDots();
  G.columnMasks();
  for (const r of rows) {
    G.emit(`    let mt${r} = select(m${r}, max(m${r}, x${r}), v${r});`);
    G.emit(`    l${r} = l${r} * exp(m${r} - mt${r}) + select(0.0, exp(x${r} - mt${r}), v${r}); m${r} = mt${r};`);
    if (cfg.positives !== 'extra') G.emit(`    ps${r} = ps${r} + select(0.0, x${r}, q${r}); pc${r} = pc${r} + select(0.0, 1.0, q${r});`);
  }
  G.emit('  }');
  if (cfg.positives === 'extra') {
    for (const r of rows) G.emit(`  var se${r} = 0.0;`);
    G.kloop((k) => rows.map((r) => `se${r} = se${r} + dot(${G.row(r, k)}, kn[ib${r} + ${k}]);`));
    for (const r of rows) {
      G.emit(`  let xe${r} = se${r} * scale; let me${r} = max(m${r}, xe${r});`);
      G.emit(`  l${r} = l${r} * exp(m${r} - me${r}) + exp(xe${r} - me${r}); m${r} = me${r}; ps${r} = ps${r} + xe${r}; pc${r} = pc${r} + 1.0;`);
    }
  }
  for (const r of rows) {
    G.emit(`  if (live${r}) {`);
    G.emit(`    let lse = m${r} + log(l${r}); let has = pc${r} > 0.0; let np = max(pc${r}, 1.0);`);
    G.emit(`    stats[i${r}] = vec4<f32>(lse, select(0.0, p.weight, has), select(0.0, p.weight / np, has), select(0.0, p.weight * (lse - ps${r} / np), has));`);
    G.emit('  }');
  }
  return renderTemplate(shaderSource('contrastive_forward'), {
    ...header(L),
    BINDINGS: bindingDecls(forwardBindings(cfg)),
    BODY: G.lines.join('\n'),
  });
}

export function backwardBindings(cfg: BackwardKernelConfig, L?: Layout): string[] {
  const self = cfg.positives === 'labels';
  const looped = L ? !L.unrolled : false;
  return [
    'out',
    'a',
    'norms',
    'statsA',
    ...(self ? [] : ['c']),
    ...(cfg.colTerm && !self ? ['statsC'] : []),
    ...(self && cfg.labelSource === 'buffer' ? ['labels'] : []),
    ...(cfg.positives === 'extra' ? ['kn'] : []),
    ...(cfg.extraGrad ? ['dk', 'knorms'] : []),
    ...(cfg.scaleGrad ? ['sgOut'] : []),
    'g',
    ...(cfg.scaleFromBuffer ? ['sc'] : []),
    ...(looped ? ['accBuf'] : []),
  ];
}

function backwardSource(cfg: BackwardKernelConfig, L: Layout): string {
  const G = new Gen(L, cfg);
  const { D4, unrolled } = L;
  const rows = G.rows;
  // The d-vector accumulators: registers when unrolled, else this invocation's rows of accBuf.
  const acc = (r: number, k: string) => (unrolled ? `acc${r}_${k.replace('u', '')}` : `accBuf[ib${r} + ${k}]`);
  const accAdd = (r: number, k: string, v: string) => (unrolled ? `${acc(r, k)} = ${acc(r, k)} + ${v};` : `if (live${r}) { ${acc(r, k)} = ${acc(r, k)} + ${v}; }`);
  G.prologue();
  G.emit('  let gv = g[p.gOff]; let gsc = gv * scale;');
  for (const r of rows) G.emit(`  let st${r} = statsA[i${r}];`);
  for (const r of rows) {
    if (unrolled) for (let k = 0; k < D4; k++) G.emit(`  var acc${r}_${k} = vec4<f32>(0.0);`);
    else G.kloop((k) => [`if (live${r}) { ${acc(r, k)} = vec4<f32>(0.0); }`]);
    if (cfg.scaleGrad) G.emit(`  var sg${r} = 0.0;`);
  }
  G.emit('  for (var j = 0u; j < p.cols; j = j + 1u) {');
  G.columnDots();
  if (cfg.colTerm) G.emit(`    let cs = ${G.self ? 'statsA' : 'statsC'}[j];`);
  G.columnMasks();
  for (const r of rows) {
    let e = `st${r}.y * exp(x${r} - st${r}.x)`;
    if (cfg.colTerm) e += ` + cs.y * exp(x${r} - cs.x)`;
    if (cfg.positives !== 'extra') e += ` - select(0.0, st${r}.z${cfg.colTerm ? ' + cs.z' : ''}, q${r})`;
    G.emit(`    let w${r} = select(0.0, ${e}, v${r});`);
    if (cfg.scaleGrad) G.emit(`    sg${r} = sg${r} + w${r} * s${r};`);
  }
  G.kloop((k) => [`let cv = ${G.colBuf}[jb + ${k}];`, ...rows.map((r) => accAdd(r, k, `w${r} * cv`))], '    ');
  G.emit('  }');
  if (cfg.positives === 'extra') {
    for (const r of rows) G.emit(`  var se${r} = 0.0;`);
    G.kloop((k) => rows.map((r) => `se${r} = se${r} + dot(${G.row(r, k)}, kn[ib${r} + ${k}]);`));
    for (const r of rows) G.emit(`  let qe${r} = st${r}.y * exp(se${r} * scale - st${r}.x) - st${r}.z;`);
    G.kloop((k) => rows.map((r) => accAdd(r, k, `qe${r} * kn[ib${r} + ${k}]`)));
  }
  for (const r of rows) {
    G.emit(`  if (live${r}) {`);
    // dâ = gsc * acc; da = (dâ - â <â, dâ>) / n  (n > eps), else dâ / eps
    G.emit(`    let n${r} = norms[i${r}]; var dp${r} = 0.0;`);
    G.kloop((k) => [`dp${r} = dp${r} + dot(${G.row(r, k)}, ${acc(r, k)});`], '    ');
    G.emit(`    dp${r} = dp${r} * gsc;`);
    G.emit(`    if (n${r} > EPS) {`);
    G.kloop((k) => [`let v = (${acc(r, k)} * gsc - ${G.row(r, k)} * dp${r}) / n${r};`, ...G.store('out', `i${r}`, k, 'v')], '      ');
    G.emit('    } else {');
    G.kloop((k) => [`let v = ${acc(r, k)} * gsc / EPS;`, ...G.store('out', `i${r}`, k, 'v')], '      ');
    G.emit('    }');
    if (cfg.extraGrad) {
      // dk̂ = f â with f = gsc * qe; dk = (dk̂ - k̂ <k̂, dk̂>) / ||k|| (or dk̂ / eps)
      G.emit(`    let f${r} = gsc * qe${r}; let kn${r} = knorms[i${r}]; var kp${r} = 0.0;`);
      G.kloop((k) => [`kp${r} = kp${r} + dot(kn[ib${r} + ${k}], ${G.row(r, k)});`], '    ');
      G.emit(`    kp${r} = kp${r} * f${r};`);
      G.emit(`    if (kn${r} > EPS) {`);
      G.kloop((k) => [`let v = (${G.row(r, k)} * f${r} - kn[ib${r} + ${k}] * kp${r}) / kn${r};`, ...G.store('dk', `i${r}`, k, 'v')], '      ');
      G.emit('    } else {');
      G.kloop((k) => [`let v = ${G.row(r, k)} * f${r} / EPS;`, ...G.store('dk', `i${r}`, k, 'v')], '      ');
      G.emit('    }');
    }
    if (cfg.scaleGrad) G.emit(`    sgOut[i${r}] = sg${r} * gv;`);
    G.emit('  }');
  }
  return renderTemplate(shaderSource('contrastive_backward'), {
    ...header(L),
    BINDINGS: bindingDecls(backwardBindings(cfg, L)),
    BODY: G.lines.join('\n'),
  });
}

function cfgKey(cfg: ContrastiveKernelConfig | BackwardKernelConfig, L: Layout): string {
  const b = cfg as BackwardKernelConfig;
  return [cfg.positives, cfg.labelSource ?? '-', cfg.scaleFromBuffer ? 'sb' : 'su', b.colTerm, b.scaleGrad, b.extraGrad, L.d, L.R, L.unrolled, L.WG].join(':');
}

// ---- launchers --------------------------------------------------------------------------------

/** Rows of an input: `rows` contiguous d-vectors starting at element `offset`, `rowStride` apart. */
export interface RowSegment {
  t: Tensor;
  rows: number;
  offset: number;
  rowStride: number;
}

/** A set of normalized rows: zn [rows, D4 * 4] (zero-padded), norms [rows] (raw L2 norms). */
export interface NormalizedRows {
  zn: Tensor;
  norms: Tensor;
  rows: number;
  d: number;
}

/** Segments covering a 2-D tensor (copied first when its rows are not contiguous). */
export function rowsOf(t: Tensor, op: string): { seg: RowSegment; owned: Tensor | null } {
  if (t.rank !== 2) throw new Error(`${op}: internal: rowsOf expects 2-D, got ${fmtShape(t.shape)}`);
  if (t.strides[1] !== 1 && t.shape[1] > 1) {
    const c = copy(t);
    return { seg: { t: c, rows: c.shape[0], offset: c.offset, rowStride: c.shape[1] }, owned: c };
  }
  return { seg: { t, rows: t.shape[0], offset: t.offset, rowStride: t.strides[0] }, owned: null };
}

export function normalizeRows(segments: RowSegment[], d: number, op: string): NormalizedRows {
  const rows = segments.reduce((a, s) => a + s.rows, 0);
  const D4 = Math.ceil(d / 4);
  const zn = empty([rows, D4 * 4], 'float32', op);
  const norms = empty([rows], 'float32', op);
  const k = kernel('contrastive_normalize', () => shaderSource('contrastive_normalize'));
  let at = 0;
  for (const s of segments) {
    if (s.rows > 0) {
      const [gx, gy] = groups1d(Math.ceil(s.rows / 64));
      dispatch(k, [zn.buffer(op), norms.buffer(op), s.t.buffer(op)], new Uint32Array([s.rows, d, D4 * 4, s.offset, s.rowStride, at, gx * 64, 0]), [gx, gy]);
    }
    at += s.rows;
  }
  return { zn, norms, rows, d };
}

export interface ForwardArgs {
  cfg: ContrastiveKernelConfig;
  A: NormalizedRows;
  /** Candidates (absent for 'labels': C is A). */
  C?: NormalizedRows;
  /** 'extra' positives: normalized keys, one per anchor. */
  K?: NormalizedRows;
  labels?: Tensor;
  labelMod?: number;
  scale?: number;
  scaleTensor?: Tensor;
  weight: number;
  op: string;
}

function invocationGrid(rows: number, L: Layout): [number, number] {
  return groups1d(Math.ceil(Math.ceil(rows / L.R) / L.WG));
}

function scaleBufferArgs(a: { scaleTensor?: Tensor }, op: string): { buf: GPUBuffer[]; off: number } {
  if (!a.scaleTensor) return { buf: [], off: 0 };
  return { buf: [a.scaleTensor.buffer(op)], off: a.scaleTensor.offset };
}

/** Runs the forward kernel: returns stats [rowsA, 4] = (lse, w, u, loss contribution) per anchor. */
export function contrastiveForward(args: ForwardArgs): Tensor {
  const { cfg, A, op } = args;
  const L = layoutFor(cfg.d);
  const cols = cfg.positives === 'labels' ? A.rows : args.C!.rows;
  const stats = empty([A.rows, 4], 'float32', op);
  if (A.rows === 0) return stats;
  const k = kernel(`contrastive_forward:${cfgKey(cfg, L)}`, () => forwardSource(cfg, L));
  const sc = scaleBufferArgs(args, op);
  const bufs = [
    stats.buffer(op),
    A.zn.buffer(op),
    ...(cfg.positives === 'labels' ? [] : [args.C!.zn.buffer(op)]),
    ...(cfg.positives === 'labels' && cfg.labelSource === 'buffer' ? [args.labels!.buffer(op)] : []),
    ...(cfg.positives === 'extra' ? [args.K!.zn.buffer(op)] : []),
    ...sc.buf,
  ];
  const [gx, gy] = invocationGrid(A.rows, L);
  const params = new Uint32Array(8);
  const f = new Float32Array(params.buffer);
  params[0] = A.rows;
  params[1] = cols;
  params[2] = gx * L.WG;
  params[3] = args.labelMod ?? 1;
  f[4] = args.scale ?? 1;
  f[5] = args.weight;
  params[6] = sc.off;
  dispatch(k, bufs, params, [gx, gy]);
  return stats;
}

export interface BackwardArgs {
  cfg: BackwardKernelConfig;
  A: NormalizedRows;
  statsA: Tensor;
  C?: NormalizedRows;
  statsC?: Tensor;
  K?: NormalizedRows;
  labels?: Tensor;
  labelMod?: number;
  scale?: number;
  scaleTensor?: Tensor;
  /** The incoming gradient (one element). */
  g: Tensor;
  op: string;
}

/** Runs the backward kernel: dA [rowsA, d]; dK [rowsA, d] when extraGrad; per-row dL/dscale partials when scaleGrad. */
export function contrastiveBackward(args: BackwardArgs): { dA: Tensor; dK: Tensor | null; scalePartials: Tensor | null } {
  const { cfg, A, op } = args;
  const L = layoutFor(cfg.d);
  const self = cfg.positives === 'labels';
  const cols = self ? A.rows : args.C!.rows;
  const dA = empty([A.rows, cfg.d], 'float32', op);
  const dK = cfg.extraGrad ? empty([A.rows, cfg.d], 'float32', op) : null;
  const sgOut = cfg.scaleGrad ? empty([A.rows], 'float32', op) : null;
  if (A.rows === 0) return { dA, dK, scalePartials: sgOut };
  const k = kernel(`contrastive_backward:${cfgKey(cfg, L)}`, () => backwardSource(cfg, L));
  const sc = scaleBufferArgs(args, op);
  const g = args.g;
  const bufs = [
    dA.buffer(op),
    A.zn.buffer(op),
    A.norms.buffer(op),
    args.statsA.buffer(op),
    ...(self ? [] : [args.C!.zn.buffer(op)]),
    ...(cfg.colTerm && !self ? [args.statsC!.buffer(op)] : []),
    ...(self && cfg.labelSource === 'buffer' ? [args.labels!.buffer(op)] : []),
    ...(cfg.positives === 'extra' ? [args.K!.zn.buffer(op)] : []),
    ...(cfg.extraGrad ? [dK!.buffer(op), args.K!.norms.buffer(op)] : []),
    ...(cfg.scaleGrad ? [sgOut!.buffer(op)] : []),
    g.buffer(op),
    ...sc.buf,
  ];
  const accBuf = L.unrolled ? null : empty([A.rows, L.D4 * 4], 'float32', op);
  if (accBuf) bufs.push(accBuf.buffer(op));
  const [gx, gy] = invocationGrid(A.rows, L);
  const params = new Uint32Array(8);
  const f = new Float32Array(params.buffer);
  params[0] = A.rows;
  params[1] = cols;
  params[2] = gx * L.WG;
  params[3] = args.labelMod ?? 1;
  f[4] = args.scale ?? 1;
  params[5] = g.offset;
  params[6] = sc.off;
  dispatch(k, bufs, params, [gx, gy]);
  accBuf?.dispose();
  return { dA, dK, scalePartials: sgOut };
}

/** The WGSL a configuration generates (for inspection and tests). */
export function contrastiveSource(phase: 'forward' | 'backward', cfg: BackwardKernelConfig): string {
  const L = layoutFor(cfg.d);
  return phase === 'forward' ? forwardSource(cfg, L) : backwardSource(cfg, L);
}
