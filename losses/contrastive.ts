// The fused contrastive kernel family behind ntXent, supConLoss, clipLoss and infoNCE: a row
// normalization pass (shaders/contrastive_normalize.wgsl), a forward kernel that computes each
// anchor's logsumexp over all candidates online, tile by tile (shaders/contrastive_forward.wgsl),
// and a backward kernel that recomputes the similarities tile by tile and accumulates the gradient
// (shaders/contrastive_backward.wgsl). Working memory beyond inputs and outputs is O(rows * d):
// normalized copies of the rows, their norms and 8 floats of statistics per anchor; the
// rows x cols similarity matrix never exists.
//
// Zero vectors: normalization is x / max(||x||, 1e-12), as torch.nn.functional.normalize (eps =
// 1e-12), so a zero row normalizes to zero (all its similarities are 0) and its gradient is the
// normalized-space gradient divided by 1e-12, exactly as in PyTorch.
//
// The kernel bodies are generated WGSL: the template files hold the fixed parts and document the
// algorithm; this file fills in the body for one configuration (d, positives, scale source, rows
// per invocation, subgroups, ...), compiled once per key. What shaped the code on lavapipe (2 cores,
// d = 128, measured): each anchor row kept in registers and each column shared across the subgroup
// by subgroupBroadcast gives 45-57 GFLOP/s (R = 4-8 rows per invocation); reading the same column
// in every lane instead gives ~10; fully unrolled straight-line code compiles in 20-100 s per kernel
// (the driver's compile time grows with the number of load instructions), so the registers are
// reached from a runtime loop through a binary tree of uniform branches instead (2-5 s, same speed);
// private arrays indexed at run time are spilled to scratch memory and are slow both ways.
import { dispatch, groups1d } from '../engine/commands.js';
import { deviceContext } from '../engine/device.js';
import { kernel, renderTemplate, shaderSource } from '../engine/kernels.js';
import { fmtShape } from '../engine/shape.js';
import { empty, type Tensor } from '../engine/tensor.js';
import { copy } from '../engine/ops/elementwise.js';
import { noGrad } from '../engine/autograd.js';

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

/**
 * How the per-row d-vectors (the anchor rows and the backward accumulators) are held:
 * 'tree': in registers, reached from a runtime loop over the D4 vec4 slots through a binary tree
 *         of uniform branches (few load instructions in the code, so CPU drivers compile fast);
 * 'unrolled': in registers, straight-line code for every slot (fastest to run, slow to compile on
 *         CPU drivers, whose compile time grows with the number of load instructions);
 * 'memory': not cached; rows are re-read from `a` and accumulators live in the scratch buffer
 *         accBuf (any d).
 */
type Regs = 'tree' | 'unrolled' | 'memory';

interface Layout {
  d: number;
  D4: number;
  /** Anchor rows per invocation. */
  R: number;
  regs: Regs;
  WG: number;
  /** Columns per step of the column loop: shared by subgroupBroadcast (sg) or read by every invocation (CG = 1). */
  CG: number;
  sg: boolean;
}

/** Test and benchmark knobs. */
export interface FusedTuning {
  regs?: Regs;
  /** Above this many vec4 slots per row the 'memory' path is used. */
  maxRegisterD4?: number;
  rowsPerInvocation?: number;
  workgroupSize?: number;
  subgroups?: boolean;
}
let tuning: FusedTuning = {};
export function setFusedTuning(t: FusedTuning): void {
  tuning = { ...t };
}

function layoutFor(d: number, rows: number, cols: number): Layout {
  const D4 = Math.ceil(d / 4);
  const ctx = deviceContext();
  // GPUs need many more invocations than a CPU driver: one row each, 64 a workgroup, unrolled
  // registers. On an H200 that ran NT-Xent fwd+bwd (2N = 4096, d = 128) in 16.8 ms against 184 ms with
  // the CPU layout (bench/gpu/h200-losses-sweep.txt, node dist/bench/gpu_losses.js).
  const gpu = !ctx.summary.isSoftware;
  const regs: Regs = D4 > (tuning.maxRegisterD4 ?? 128) ? 'memory' : (tuning.regs ?? (gpu ? 'unrolled' : 'tree'));
  const sgSize = ctx.summary.subgroupSize;
  const sgOk = ctx.features.has('subgroups') && sgSize >= 4;
  const sg = tuning.subgroups ?? sgOk;
  if (sg && !sgOk) throw new Error('contrastive: subgroups were requested but this device has none');
  const CG = sg ? Math.min(8, sgSize) : 1;
  // More rows per invocation reuse each loaded column more (R = 4 doubles the throughput of R = 1
  // at d = 128 on lavapipe) but compile several times slower: small problems (fewer than 512 x 512
  // pairs) take R = 1.
  const R = tuning.rowsPerInvocation ?? (gpu || regs === 'memory' || rows * cols < 512 * 512 ? 1 : Math.max(1, Math.min(4, Math.floor(128 / D4))));
  const WG = tuning.workgroupSize ?? (gpu ? 64 : 16);
  return { d, D4, R, regs, WG, CG, sg };
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

/** A vec4 slot index: a constant (register modes) or the runtime loop variable k ('memory'). */
type Slot = number | 'k';

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
  get regs(): boolean {
    return this.L.regs !== 'memory';
  }
  /**
   * For every vec4 slot: pre(k) (runtime index: loads), reg(slot) (register reads/writes), post(k)
   * (stores). 'unrolled' repeats all three per slot; 'tree' and 'memory' emit one loop over k,
   * 'tree' reaching the registers through a binary tree of branches on k.
   */
  kloop(pre: (k: string) => string[], reg: (s: Slot) => string[], post: (k: string) => string[] = () => [], indent = '  '): void {
    const { D4, regs } = this.L;
    if (regs === 'unrolled') {
      for (let k = 0; k < D4; k++) this.emit(`${indent}{ ${[...pre(`${k}u`), ...reg(k), ...post(`${k}u`)].join(' ')} }`);
      return;
    }
    const tree = (lo: number, hi: number): string => {
      if (hi - lo === 1) return reg(lo).join(' ');
      const mid = (lo + hi) >> 1;
      return `if (k < ${mid}u) { ${tree(lo, mid)} } else { ${tree(mid, hi)} }`;
    };
    const middle = regs === 'tree' ? tree(0, D4) : reg('k').join(' ');
    this.emit(`${indent}for (var k = 0u; k < ${D4}u; k = k + 1u) { ${[...pre('k'), middle, ...post('k')].join(' ')} }`);
  }
  row(r: number, s: Slot): string {
    return s === 'k' ? `a[ib${r} + k]` : `ra${r}_${s}`;
  }
  labelOf(x: string): string {
    return this.cfg.labelSource === 'buffer' ? `labels[(${x}) % p.labelMod]` : `((${x}) % p.labelMod)`;
  }
  scaleExpr(): string {
    return this.cfg.scaleFromBuffer ? 'min(exp(sc[p.scOff]), 100.0)' : 'p.scale';
  }
  prologue(): void {
    const { R, D4, regs } = this.L;
    this.emit('  let t = gid.y * p.width + gid.x;');
    this.emit(`  let rb = t * ${R}u;`);
    // With subgroups every lane must reach the broadcasts: no early return, rows are clamped.
    if (this.L.sg) this.emit(`  let lane = sgid % ${this.L.CG}u;`);
    else this.emit('  if (rb >= p.rows) { return; }');
    this.emit('  let last = p.rows - 1u;');
    this.emit('  let clast = p.cols - 1u;');
    for (const r of this.rows) this.emit(`  let i${r} = min(rb + ${r}u, last); let ib${r} = i${r} * ${D4}u; let live${r} = rb + ${r}u < p.rows;`);
    if (regs === 'unrolled') for (const r of this.rows) for (let k = 0; k < D4; k++) this.emit(`  let ra${r}_${k} = a[ib${r} + ${k}u];`);
    if (regs === 'tree') {
      for (const r of this.rows) this.emit(`  ${[...Array(D4).keys()].map((k) => `var ra${r}_${k}: vec4<f32>;`).join(' ')}`);
      this.kloop((k) => this.rows.map((r) => `let v${r} = a[ib${r} + ${k}];`), (s) => this.rows.map((r) => `ra${r}_${s} = v${r};`));
    }
    if (this.self) for (const r of this.rows) this.emit(`  let lab${r} = ${this.labelOf(`i${r}`)};`);
    this.emit(`  let scale = ${this.scaleExpr()};`);
  }
  get cols(): number[] {
    return [...Array(this.L.CG).keys()];
  }
  /** The column loop's header: columns j0 .. j0 + CG - 1 (the same for every invocation). */
  columnLoop(): void {
    this.emit(`  for (var j0 = 0u; j0 < p.cols; j0 = j0 + ${this.L.CG}u) {`);
    for (const c of this.cols) this.emit(`    let j${c} = j0 + ${c}u;`);
    if (this.L.sg) {
      this.emit('    let jl = min(j0 + lane, clast);');
      this.emit(`    let cb = jl * ${this.L.D4}u;`);
    } else this.emit(`    let cb = j0 * ${this.L.D4}u;`);
  }
  /** Loads the column's two statistics vectors (backward) into cs{c} (lse, w, u, -) and ct{c} (lsePos, q, -, -). */
  columnStats(buf: string): void {
    if (this.L.sg) {
      this.emit(`    let cst = ${buf}[2u * jl]; let ctt = ${buf}[2u * jl + 1u];`);
      for (const c of this.cols) this.emit(`    let cs${c} = subgroupBroadcast(cst, ${c}u); let ct${c} = subgroupBroadcast(ctt, ${c}u);`);
    } else this.emit(`    let cs0 = ${buf}[2u * j0]; let ct0 = ${buf}[2u * j0 + 1u];`);
  }
  /** Statements giving b0..b{CG-1}: vec4 slot k of the step's columns. */
  loadCols(k: string): string[] {
    if (!this.L.sg) return [`let b0 = ${this.colBuf}[cb + ${k}];`];
    return [`let cv = ${this.colBuf}[cb + ${k}];`, ...this.cols.map((c) => `let b${c} = subgroupBroadcast(cv, ${c}u);`)];
  }
  /** Raw dot products s{r}_{c} of the step's columns, and their labels lb{c}. */
  columnDots(): void {
    for (const r of this.rows) this.emit(`    ${this.cols.map((c) => `var s${r}_${c} = 0.0;`).join(' ')}`);
    this.kloop((k) => this.loadCols(k), (s) => this.rows.flatMap((r) => this.cols.map((c) => `s${r}_${c} = s${r}_${c} + dot(${this.row(r, s)}, b${c});`)), undefined, '    ');
    if (this.self) {
      if (this.L.sg) {
        this.emit(`    let lj = ${this.labelOf('jl')};`);
        for (const c of this.cols) this.emit(`    let lb${c} = subgroupBroadcast(lj, ${c}u);`);
      } else this.emit(`    let lb0 = ${this.labelOf('j0')};`);
    }
  }
  /** v{r}_{c}: the column counts for row r; x{r}_{c}: the scaled logit; q{r}_{c}: it is a positive of row r. */
  columnMasks(): void {
    for (const r of this.rows) {
      for (const c of this.cols) {
        const inRange = this.L.CG > 1 ? `j${c} < p.cols` : 'true';
        this.emit(`    let v${r}_${c} = ${inRange}${this.self ? ` && j${c} != i${r}` : ''}; let x${r}_${c} = s${r}_${c} * scale;`);
        if (this.cfg.positives === 'labels') this.emit(`    let q${r}_${c} = v${r}_${c} && lb${c} == lab${r};`);
        if (this.cfg.positives === 'diag') this.emit(`    let q${r}_${c} = v${r}_${c} && j${c} == i${r};`);
      }
    }
  }
  /** Stores the vec4 `v` as components 4k.. of row `i` of the [rows, d] array `buf`, masked past d. */
  store(buf: string, i: string, k: string, v: string): string[] {
    const { d } = this.L;
    const comp = ['x', 'y', 'z', 'w'];
    const kc = /^\d+u$/.test(k) ? Number(k.slice(0, -1)) : null;
    if (kc !== null) return comp.filter((_, q) => 4 * kc + q < d).map((cc, q) => `${buf}[${i} * ${d}u + ${4 * kc + q}u] = ${v}.${cc};`);
    return [`let o = ${i} * ${d}u + 4u * ${k};`, ...comp.map((cc, q) => (q === 0 ? `${buf}[o] = ${v}.x;` : `if (4u * ${k} + ${q}u < ${d}u) { ${buf}[o + ${q}u] = ${v}.${cc}; }`))];
  }
}

function header(L: Layout): { ENABLE: string; SG_ARG: string; WG: number } {
  return L.sg
    ? { ENABLE: 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n', SG_ARG: ', @builtin(subgroup_invocation_id) sgid: u32', WG: L.WG }
    : { ENABLE: '', SG_ARG: '', WG: L.WG };
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
  const colPos = cfg.positives !== 'extra';
  G.prologue();
  // Two online logsumexps per anchor: over its negatives (m, l) and over its positives (mp, lp).
  for (const r of rows) G.emit(`  var m${r} = NEG; var l${r} = 0.0; var mp${r} = NEG; var lp${r} = 0.0; var ps${r} = 0.0; var pc${r} = 0.0;`);
  const cols = G.cols;
  G.columnLoop();
  G.columnDots();
  G.columnMasks();
  for (const r of rows) {
    const chain = (mask: (c: number) => string, start: string) => cols.reduce((acc, c) => `max(${acc}, select(NEG, x${r}_${c}, ${mask(c)}))`, start);
    if (colPos) {
      for (const c of cols) G.emit(`    let n${r}_${c} = v${r}_${c} && !q${r}_${c};`);
      G.emit(`    let mt${r} = ${chain((c) => `n${r}_${c}`, `m${r}`)};`);
      G.emit(`    let mpt${r} = ${chain((c) => `q${r}_${c}`, `mp${r}`)};`);
      for (const c of cols) G.emit(`    let e${r}_${c} = exp(x${r}_${c} - select(mt${r}, mpt${r}, q${r}_${c}));`);
      G.emit(`    l${r} = l${r} * exp(m${r} - mt${r}) + ${cols.map((c) => `select(0.0, e${r}_${c}, n${r}_${c})`).join(' + ')}; m${r} = mt${r};`);
      G.emit(`    lp${r} = lp${r} * exp(mp${r} - mpt${r}) + ${cols.map((c) => `select(0.0, e${r}_${c}, q${r}_${c})`).join(' + ')}; mp${r} = mpt${r};`);
      G.emit(`    ps${r} = ps${r} + ${cols.map((c) => `select(0.0, x${r}_${c}, q${r}_${c})`).join(' + ')};`);
      G.emit(`    pc${r} = pc${r} + ${cols.map((c) => `select(0.0, 1.0, q${r}_${c})`).join(' + ')};`);
    } else {
      G.emit(`    let mt${r} = ${chain((c) => `v${r}_${c}`, `m${r}`)};`);
      G.emit(`    l${r} = l${r} * exp(m${r} - mt${r}) + ${cols.map((c) => `select(0.0, exp(x${r}_${c} - mt${r}), v${r}_${c})`).join(' + ')}; m${r} = mt${r};`);
    }
  }
  G.emit('  }');
  if (!colPos) {
    for (const r of rows) G.emit(`  var se${r} = 0.0;`);
    G.kloop((k) => rows.map((r) => `let kv${r} = kn[ib${r} + ${k}];`), (s) => rows.map((r) => `se${r} = se${r} + dot(${G.row(r, s)}, kv${r});`));
    for (const r of rows) G.emit(`  let xe${r} = se${r} * scale; mp${r} = xe${r}; lp${r} = 1.0; ps${r} = xe${r}; pc${r} = 1.0;`);
  }
  for (const r of rows) {
    G.emit(`  if (live${r}) {`);
    G.emit(`    let has = pc${r} > 0.0; let np = max(pc${r}, 1.0); let hasN = l${r} > 0.0;`);
    G.emit(`    let lneg = m${r} + log(max(l${r}, 1e-30)); let lpos = mp${r} + log(max(lp${r}, 1e-30));`);
    G.emit('    let dl = select(-1e30, lneg - lpos, hasN && has); let sp = softplus_(dl);');
    G.emit(`    let w = select(0.0, p.weight, has); let loss = (lpos - ps${r} / np) + sp;`);
    G.emit(`    stats[2u * i${r}] = vec4<f32>(select(lneg, lpos + sp, has), w, select(0.0, p.weight / np, has), select(0.0, w * loss, has));`);
    G.emit(`    stats[2u * i${r} + 1u] = vec4<f32>(lpos, sigmoid_(dl), 0.0, 0.0);`);
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
  const memory = L ? L.regs === 'memory' : false;
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
    ...(memory ? ['accBuf'] : []),
  ];
}

function backwardSource(cfg: BackwardKernelConfig, L: Layout): string {
  const G = new Gen(L, cfg);
  const { D4 } = L;
  const rows = G.rows;
  // The d-vector accumulators: registers, or this invocation's rows of accBuf ('memory').
  const acc = (r: number, s: Slot) => (s === 'k' ? `accBuf[ib${r} + k]` : `acc${r}_${s}`);
  const accAdd = (r: number, s: Slot, v: string) => (s === 'k' ? `if (live${r}) { ${acc(r, s)} = ${acc(r, s)} + ${v}; }` : `${acc(r, s)} = ${acc(r, s)} + ${v};`);
  G.prologue();
  G.emit('  let gv = g[p.gOff]; let gsc = gv * scale;');
  for (const r of rows) G.emit(`  let sa${r} = statsA[2u * i${r}]; let sb${r} = statsA[2u * i${r} + 1u];`);
  for (const r of rows) {
    if (G.regs) G.emit(`  ${[...Array(D4).keys()].map((k) => `var acc${r}_${k} = vec4<f32>(0.0);`).join(' ')}`);
    else G.kloop(() => [], () => [`if (live${r}) { accBuf[ib${r} + k] = vec4<f32>(0.0); }`]);
    if (cfg.scaleGrad) G.emit(`  var sg${r} = 0.0;`);
  }
  const cols = G.cols;
  G.columnLoop();
  G.columnDots();
  if (cfg.colTerm) G.columnStats(G.self ? 'statsA' : 'statsC');
  G.columnMasks();
  // dL/ds for a negative: w exp(s - lse); for a positive: w pi (1 - q) - u with pi = exp(s - lsePos)
  // (the softmax within the positives) and q the negatives' share: exact 0 - w q for one positive.
  const term = (a: string, b: string, r: number, c: number) =>
    G.cfg.positives === 'extra'
      ? `${a}.y * exp(x${r}_${c} - ${a}.x)`
      : `select(${a}.y * exp(x${r}_${c} - ${a}.x), (${a}.y * exp(x${r}_${c} - ${b}.x) - ${a}.z) - ${a}.y * exp(x${r}_${c} - ${b}.x) * ${b}.y, q${r}_${c})`;
  for (const r of rows) {
    for (const c of cols) {
      let e = term(`sa${r}`, `sb${r}`, r, c);
      if (cfg.colTerm) e += ` + ${term(`cs${c}`, `ct${c}`, r, c)}`;
      G.emit(`    let w${r}_${c} = select(0.0, ${e}, v${r}_${c});`);
    }
    if (cfg.scaleGrad) G.emit(`    sg${r} = sg${r} + ${cols.map((c) => `w${r}_${c} * s${r}_${c}`).join(' + ')};`);
  }
  G.kloop((k) => G.loadCols(k), (s) => rows.map((r) => accAdd(r, s, cols.map((c) => `w${r}_${c} * b${c}`).join(' + '))), undefined, '    ');
  G.emit('  }');
  if (cfg.positives === 'extra') {
    for (const r of rows) G.emit(`  var se${r} = 0.0;`);
    G.kloop((k) => rows.map((r) => `let kv${r} = kn[ib${r} + ${k}];`), (s) => rows.map((r) => `se${r} = se${r} + dot(${G.row(r, s)}, kv${r});`));
    for (const r of rows) G.emit(`  let pe${r} = exp(se${r} * scale - sb${r}.x); let qe${r} = (sa${r}.y * pe${r} - sa${r}.z) - sa${r}.y * pe${r} * sb${r}.y;`);
    G.kloop((k) => rows.map((r) => `let kv${r} = kn[ib${r} + ${k}];`), (s) => rows.map((r) => accAdd(r, s, `qe${r} * kv${r}`)));
  }
  for (const r of rows) {
    G.emit(`  if (live${r}) {`);
    // dâ = gsc * acc; da = (dâ - â <â, dâ>) / n  (n > eps), else dâ / eps
    G.emit(`    let n${r} = norms[i${r}]; var dp${r} = 0.0;`);
    G.kloop(() => [], (s) => [`dp${r} = dp${r} + dot(${G.row(r, s)}, ${acc(r, s)});`], undefined, '    ');
    G.emit(`    dp${r} = dp${r} * gsc;`);
    G.emit(`    let inv${r} = select(1.0 / EPS, 1.0 / n${r}, n${r} > EPS); let pr${r} = select(0.0, dp${r}, n${r} > EPS);`);
    G.kloop(
      () => ['var v: vec4<f32>;'],
      (s) => [`v = (${acc(r, s)} * gsc - ${G.row(r, s)} * pr${r}) * inv${r};`],
      (k) => G.store('out', `i${r}`, k, 'v'),
      '    ',
    );
    if (cfg.extraGrad) {
      // dk̂ = f â with f = gsc * qe; dk = (dk̂ - k̂ <k̂, dk̂>) / ||k|| (or dk̂ / eps)
      G.emit(`    let f${r} = gsc * qe${r}; let kn${r} = knorms[i${r}]; var kp${r} = 0.0;`);
      G.kloop((k) => [`let kv = kn[ib${r} + ${k}];`], (s) => [`kp${r} = kp${r} + dot(kv, ${G.row(r, s)});`], undefined, '    ');
      G.emit(`    let kinv${r} = select(1.0 / EPS, 1.0 / kn${r}, kn${r} > EPS); let kpr${r} = select(0.0, kp${r} * f${r}, kn${r} > EPS);`);
      G.kloop(
        (k) => [`let kv = kn[ib${r} + ${k}];`, 'var v: vec4<f32>;'],
        (s) => [`v = (${G.row(r, s)} * f${r} - kv * kpr${r}) * kinv${r};`],
        (k) => G.store('dk', `i${r}`, k, 'v'),
        '    ',
      );
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
  return [cfg.positives, cfg.labelSource ?? '-', cfg.scaleFromBuffer ? 'sb' : 'su', b.colTerm, b.scaleGrad, b.extraGrad, L.d, L.R, L.regs, L.WG, L.CG, L.sg].join(':');
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
    const c = noGrad(() => copy(t));
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

/** A clear error instead of a pipeline validation failure on devices with few storage bindings. */
function checkBindings(count: number, op: string): void {
  const max = deviceContext().limits.maxStorageBuffersPerShaderStage;
  if (count > max) throw new Error(`${op}: the fused kernel needs ${count} storage buffers, above this device's maxStorageBuffersPerShaderStage (${max})`);
}

function invocationGrid(rows: number, L: Layout): [number, number] {
  return groups1d(Math.ceil(Math.ceil(rows / L.R) / L.WG));
}

function scaleBufferArgs(a: { scaleTensor?: Tensor }, op: string): { buf: GPUBuffer[]; off: number } {
  if (!a.scaleTensor) return { buf: [], off: 0 };
  return { buf: [a.scaleTensor.buffer(op)], off: a.scaleTensor.offset };
}

/** Runs the forward kernel: returns stats [rowsA, 8]: per anchor (lse, w, u, loss contribution) and (lsePos, q, 0, 0). */
export function contrastiveForward(args: ForwardArgs): Tensor {
  const { cfg, A, op } = args;
  const cols = cfg.positives === 'labels' ? A.rows : args.C!.rows;
  const L = layoutFor(cfg.d, A.rows, cols);
  checkBindings(forwardBindings(cfg).length, op);
  const stats = empty([A.rows, 8], 'float32', op);
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
  const self = cfg.positives === 'labels';
  const cols = self ? A.rows : args.C!.rows;
  const L = layoutFor(cfg.d, A.rows, cols);
  checkBindings(backwardBindings(cfg, L).length, op);
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
  const accBuf = L.regs !== 'memory' ? null : empty([A.rows, L.D4 * 4], 'float32', op);
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
export function contrastiveSource(phase: 'forward' | 'backward', cfg: BackwardKernelConfig, rows = 1, cols = rows): string {
  const L = layoutFor(cfg.d, rows, cols);
  return phase === 'forward' ? forwardSource(cfg, L) : backwardSource(cfg, L);
}
