// conv2d on NCHW input and OIHW weights (torch.nn.functional.conv2d's layouts, names and argument
// order), with stride, padding (numbers, pairs, 'valid', 'same'), dilation and groups.
// All three products are implicit GEMMs on the shared GEMM generator (engine/ops/matmul.ts,
// shaders/matmul_gemm.wgsl): the im2col matrix is never built, its elements are gathered inside the
// kernel with padding handled by masked loads.
//   forward      rows = output pixels (n, oh, ow), columns = output channels, K = (c, kh, kw)
//   input-grad   rows = input pixels of one stride phase (ih % sh, iw % sw), columns = input channels,
//                K = (o, taps of that phase): a strided convolution's transpose splits into sh*sw
//                dense stride-1 correlations, so no multiply is spent on the zeros a dilated
//                gradient would hold
//   weight-grad  rows = (c, kh, kw), columns = output channels, K = (n, oh, ow), split over K
//                (partials summed) when the output is too small to fill the machine; at 16 lanes and
//                stride 1 with OH = H, OW = W it reads x from 4 shifted texture copies (DW_TEX_SPEC)
// Groups are the GEMM's batch dimension. All shape values are uniforms, so one compiled kernel per
// GEMM variant serves every conv shape. Kernels larger than 1x1 read channels-last copies of x (forward)
// and dy (input-grad) when channels per group are multiples of 4 (at 16 lanes the stem's 3 channels
// are padded to 4 for it: paddedForward); on CPU drivers some unpadded 1x1 products run as batched
// matmuls instead (see pointwise()).
import { noGrad } from '../autograd.js';
import { copyBuffer, copyBufferToTexture, dispatch, groups1d } from '../commands.js';
import { deviceContext } from '../device.js';
import { acquireTexture, releaseTexture, textureView } from '../memory.js';
import { elementMain, elementTiling, kernel, renderTemplate, shaderSource } from '../kernels.js';
import { fmtShape } from '../shape.js';
import { empty, record, Tensor } from '../tensor.js';
import { chooseGemmVariant, fitVariant, isTuned, useBcast, type GemmOp, type GemmVariant } from '../tune.js';
import { copiesAsTexture, gemm, gemmTile, matmulProduct, matrixTexture, planGemm, readsTextures, sumSplits, type BOperand, type GemmDims, type GemmSpec } from './matmul.js';
import { sum } from './reduce.js';
import { add, copy } from './elementwise.js';
import { contiguous, permute, reshape } from './shape.js';

export interface Conv2dOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number] | 'valid' | 'same';
  dilation?: number | readonly [number, number];
  groups?: number;
}

/** Everything about one convolution's shapes (padding is the top/left amount). */
export interface ConvGeometry {
  N: number; C: number; H: number; W: number;
  O: number; KH: number; KW: number;
  sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
  G: number; Cg: number; Og: number;
  OH: number; OW: number;
}

const MAX_EXACT = 1 << 22; // index ranges the kernels' float-reciprocal division handles exactly

function pair(op: string, name: string, v: unknown, min: number): [number, number] {
  const arr = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? v : null;
  if (!arr || !arr.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= min)) {
    throw new Error(`${op}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return [arr[0], arr[1]];
}

/** Validates conv2d arguments and computes the output geometry; throws naming what is wrong. */
export function convGeometry(op: string, x: Tensor, w: Tensor, opts: Conv2dOptions = {}): ConvGeometry {
  if (!(x instanceof Tensor) || !(w instanceof Tensor)) throw new Error(`${op}: input and weight must be Tensors`);
  x.storage(op);
  w.storage(op);
  if (x.dtype !== 'float32' || w.dtype !== 'float32') throw new Error(`${op}: expected float32 tensors, got ${x.dtype} input and ${w.dtype} weight`);
  if (x.rank !== 4) throw new Error(`${op}: input must be 4-D [N, C, H, W], got ${fmtShape(x.shape)}`);
  if (w.rank !== 4) throw new Error(`${op}: weight must be 4-D [out_channels, in_channels / groups, kH, kW], got ${fmtShape(w.shape)}`);
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`${op}: groups must be a positive integer, got ${groups}`);
  const [N, C, H, W] = x.shape;
  const [O, Cg, KH, KW] = w.shape;
  if (C % groups !== 0) throw new Error(`${op}: input channels ${C} are not divisible by groups ${groups}`);
  if (O % groups !== 0) throw new Error(`${op}: output channels ${O} (weight ${fmtShape(w.shape)}) are not divisible by groups ${groups}`);
  if (Cg * groups !== C) {
    throw new Error(`${op}: weight ${fmtShape(w.shape)} expects ${Cg * groups} input channels (${Cg} per group x ${groups} groups), but input ${fmtShape(x.shape)} has ${C}`);
  }
  if (KH < 1 || KW < 1 || O < 1) throw new Error(`${op}: weight ${fmtShape(w.shape)} has an empty dimension`);
  const [sh, sw] = pair(op, 'stride', opts.stride ?? 1, 1);
  const [dh, dw] = pair(op, 'dilation', opts.dilation ?? 1, 1);
  let ph: number;
  let pw: number;
  let OH: number;
  let OW: number;
  const padding = opts.padding ?? 0;
  if (padding === 'valid') {
    ph = pw = 0;
    OH = Math.floor((H - dh * (KH - 1) - 1) / sh) + 1;
    OW = Math.floor((W - dw * (KW - 1) - 1) / sw) + 1;
  } else if (padding === 'same') {
    if (sh !== 1 || sw !== 1) throw new Error(`${op}: padding='same' is not supported for strided convolutions (stride ${sh}x${sw})`);
    // as PyTorch: the odd pixel of an odd total padding goes to the bottom/right
    ph = Math.floor((dh * (KH - 1)) / 2);
    pw = Math.floor((dw * (KW - 1)) / 2);
    OH = H;
    OW = W;
  } else {
    if (typeof padding === 'string') throw new Error(`${op}: padding must be a number, a pair, 'valid' or 'same', got '${padding}'`);
    [ph, pw] = pair(op, 'padding', padding, 0);
    OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
    OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  }
  if (OH < 1 || OW < 1) {
    throw new Error(`${op}: input ${fmtShape(x.shape)} padded by ${ph}x${pw} is smaller than the dilated kernel ${dh * (KH - 1) + 1}x${dw * (KW - 1) + 1} (output would be ${OH}x${OW})`);
  }
  const g: ConvGeometry = { N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, G: groups, Cg, Og: O / groups, OH, OW };
  for (const [what, v] of [['input pixels N*H*W', N * H * W], ['output pixels N*OH*OW', N * OH * OW], ['reduction size Cg*kH*kW', Cg * KH * KW], ['O*kH*kW', (O / groups) * KH * KW]] as const) {
    if (v >= MAX_EXACT) throw new Error(`${op}: ${what} = ${v} is too large (limit ${MAX_EXACT}); split the batch`);
  }
  return g;
}

// ---- GEMM specs --------------------------------------------------------------------------------

const PARAMS = [
  'C', 'H', 'W', 'O', 'OH', 'OW', 'Cg', 'Og', 'KW', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw',
  'HW', 'OHW', 'KHW', 'Kg', 'invKHW', 'invKW', 'invOHW', 'invOW', 'hasBias', 'xo', 'wo', 'yo', 'bo',
  'pa', 'pb', 'Wa', 'HaWa', 'kh0', 'kw0', 'stH', 'stW', 'TW', 'THW', 'dOh', 'dOw', 'offh0', 'offw0', 'invTHW', 'invTW', 'invCg', 'invOg', 'Kgp',
  'HWp', 'invHWp', 'txShift', 'txLast', 'ytShift',
] as const;
type ParamName = (typeof PARAMS)[number];

const f32bits = (v: number) => new Uint32Array(new Float32Array([v]).buffer)[0];
const i32bits = (v: number) => v >>> 0;

function convParams(g: ConvGeometry, extra: Partial<Record<ParamName, number>>): number[] {
  const base: Partial<Record<ParamName, number>> = {
    C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, Cg: g.Cg, Og: g.Og, KW: g.KW,
    sh: g.sh, sw: g.sw, ph: i32bits(g.ph), pw: i32bits(g.pw), dh: g.dh, dw: g.dw,
    HW: g.H * g.W, OHW: g.OH * g.OW, KHW: g.KH * g.KW, Kg: g.Cg * g.KH * g.KW,
    invKHW: f32bits(1 / (g.KH * g.KW)), invKW: f32bits(1 / g.KW), invOHW: f32bits(1 / (g.OH * g.OW)), invOW: f32bits(1 / g.OW), invCg: f32bits(1 / g.Cg), invOg: f32bits(1 / g.Og),
    ...extra,
  };
  return PARAMS.map((k) => base[k] ?? 0);
}

const I = (name: ParamName) => `bitcast<i32>(p.${name})`;
const F = (name: ParamName) => `bitcast<f32>(p.${name})`;

/** Masked load of an NCHW plane element: 0 outside [0, h) x [0, w). */
const maskedLoad = (fn: string, buf: string, h: string, w: string) => `
fn ${fn}(base: u32, ih: i32, iw: i32) -> f32 {
  let ok = u32(ih) < ${h} && u32(iw) < ${w};
  let idx = base + u32(clamp(ih, 0, i32(${h}) - 1)) * ${w} + u32(clamp(iw, 0, i32(${w}) - 1));
  return select(0.0, ${buf}[idx], ok);
}`;

/**
 * Masked load of 4 channels of a channels-last pixel from an rgba32uint texture copy of the NHWC rows
 * (texel (channel / 4, pixel n*h*w + ih*w + iw), pix = n*h*w): 0 outside [0, h) x [0, w).
 */
const maskedTexel4 = (fn: string, tex: string, h: string, w: string) => `
fn ${fn}(pix: u32, c: u32, ih: i32, iw: i32) -> vec4<f32> {
  let ok = u32(ih) < ${h} && u32(iw) < ${w};
  let row = pix + u32(clamp(ih, 0, i32(${h}) - 1)) * ${w} + u32(clamp(iw, 0, i32(${w}) - 1));
  return select(vec4<f32>(0.0), bitcast<vec4<f32>>(textureLoad(${tex}, vec2<u32>(c / 4u, row), 0)), ok);
}`;

/** y[n][oc][pixel]: the output row m = (n, pixel) starts at u_yb (+ oc * OHW). */
const FWD_STORE_ROW = (m: string) => `let u_sn = ${m} / p.OHW;\nlet u_yb = u_sn * p.O * p.OHW + (${m} - u_sn * p.OHW);`;

/** Output channel oc of GEMM column n and its bias (0 without one), once per column a lane stores. */
const FWD_STORE_COL = (n: string, col: string) => `let u_oc${col} = u_g * p.Og + ${n};\nlet u_bias${col} = select(0.0, bias[p.bo + u_oc${col}], p.hasBias != 0u);`;

/** 4 output pixels of one channel as a vec4 (when OH * OW % 4 == 0, so 4 aligned rows stay in one image). */
const FWD_STORE4: GemmSpec['store4'] = {
  along: 'rows',
  binding: 'var<storage, read_write> y4: array<vec4<f32>>',
  rowPrep: FWD_STORE_ROW,
  store: (_m, _n, v, col) => `y4[(u_yb + u_oc${col} * p.OHW) / 4u] = ${v} + vec4<f32>(u_bias${col});`,
};

const FWD_SPEC: GemmSpec = {
  key: 'conv.fwd',
  params: [...PARAMS],
  bindings: ['var<storage, read_write> y: array<f32>', 'var<storage, read> x: array<f32>', 'var<storage, read> w: array<f32>', 'var<storage, read> bias: array<f32>'],
  functions: maskedLoad('ldx', 'x', 'p.H', 'p.W'),
  prologue: `let u_g = batch;\nlet u_xg = p.xo + u_g * p.Cg * p.HW;`,
  rowPrep: (j, row) => `
    let u_n${j} = ${row} / p.OHW;
    let u_r${j} = ${row} - u_n${j} * p.OHW;
    let u_oh${j} = u_r${j} / p.OW;
    let u_ow${j} = u_r${j} - u_oh${j} * p.OW;
    let u_xb${j} = u_n${j} * p.C * p.HW + u_xg;
    let u_ih${j} = i32(u_oh${j} * p.sh) - ${I('ph')};
    let u_iw${j} = i32(u_ow${j} * p.sw) - ${I('pw')};`,
  kPrep: (q, k) => `
    let u_c${q} = divu(${k}, p.KHW, ${F('invKHW')});
    let u_t${q} = ${k} - u_c${q} * p.KHW;
    let u_kh${q} = divu(u_t${q}, p.KW, ${F('invKW')});
    let u_xc${q} = u_c${q} * p.HW;
    let u_dh${q} = i32(u_kh${q} * p.dh);
    let u_dw${q} = i32((u_t${q} - u_kh${q} * p.KW) * p.dw);`,
  loadA: (j, q) => `ldx(u_xb${j} + u_xc${q}, u_ih${j} + u_dh${q}, u_iw${j} + u_dw${q})`,
  colPrep: [0, 1, 2, 3].map((i) => `let u_wb${i} = p.wo + (u_g * p.Og + nc${i}) * p.Kg;`).join('\n'),
  loadB: (_q, k) => `vec4<f32>(w[u_wb0 + ${k}], w[u_wb1 + ${k}], w[u_wb2 + ${k}], w[u_wb3 + ${k}])`,
  storeRowPrep: FWD_STORE_ROW,
  storeCol: FWD_STORE_COL,
  store1: (_m, _n, v, col) => `y[u_yb + u_oc${col} * p.OHW] = ${v} + u_bias${col};`,
  store4: FWD_STORE4,
};

/**
 * Forward on a channels-last copy of the input (when channels per group are a multiple of 4): K runs
 * over (kh, kw, c), so the 4 k values of a step are 4 adjacent channels of one input pixel, read
 * with one vec4 load and one bounds check instead of 4 gathers.
 */
const FWD_NHWC_SPEC: GemmSpec = {
  key: 'conv.fwd.nhwc',
  params: [...PARAMS],
  bindings: ['var<storage, read_write> y: array<f32>', 'var<storage, read> x4: array<vec4<f32>>', 'var<storage, read> w: array<f32>', 'var<storage, read> bias: array<f32>'],
  functions: `
fn ldx4(base: u32, ih: i32, iw: i32) -> vec4<f32> {
  let ok = u32(ih) < p.H && u32(iw) < p.W;
  let idx = base + (u32(clamp(ih, 0, i32(p.H) - 1)) * p.W + u32(clamp(iw, 0, i32(p.W) - 1))) * p.C;
  return select(vec4<f32>(0.0), x4[idx / 4u], ok);
}`,
  prologue: `let u_g = batch;`,
  rowPrep: (j, row) => `
    let u_n${j} = ${row} / p.OHW;
    let u_r${j} = ${row} - u_n${j} * p.OHW;
    let u_oh${j} = u_r${j} / p.OW;
    let u_xb${j} = u_n${j} * p.HW * p.C + u_g * p.Cg;
    let u_ih${j} = i32(u_oh${j} * p.sh) - ${I('ph')};
    let u_iw${j} = i32((u_r${j} - u_oh${j} * p.OW) * p.sw) - ${I('pw')};`,
  // k = (kh * KW + kw) * Cg + c
  kPrep: (q, k) => `
    let u_t${q} = divu(${k}, p.Cg, ${F('invCg')});
    let u_c${q} = ${k} - u_t${q} * p.Cg;
    let u_kh${q} = divu(u_t${q}, p.KW, ${F('invKW')});
    let u_kw${q} = u_t${q} - u_kh${q} * p.KW;
    let u_dh${q} = i32(u_kh${q} * p.dh);
    let u_dw${q} = i32(u_kw${q} * p.dw);`,
  loadA4: (j) => `ldx4(u_xb${j} + u_c0, u_ih${j} + u_dh0, u_iw${j} + u_dw0)`,
  loadA: (j, q) => `ldx4(u_xb${j} + u_c${q} - u_c${q} % 4u, u_ih${j} + u_dh${q}, u_iw${j} + u_dw${q})[u_c${q} % 4u]`,
  colPrep: [0, 1, 2, 3].map((i) => `let u_wb${i} = p.wo + (u_g * p.Og + nc${i}) * p.Kg;`).join('\n'),
  loadB: (q) => {
    const idx = (i: number) => `w[u_wb${i} + (u_c${q} * p.KHW + u_kh${q} * p.KW + u_kw${q})]`;
    return `vec4<f32>(${[0, 1, 2, 3].map(idx).join(', ')})`;
  },
  storeRowPrep: FWD_STORE_ROW,
  storeCol: FWD_STORE_COL,
  store1: (_m, _n, v, col) => `y[u_yb + u_oc${col} * p.OHW] = ${v} + u_bias${col};`,
  store4: FWD_STORE4,
};

/**
 * The channels-last forward reading x from an rgba32uint texture copy of the NHWC input (texel
 * (channel / 4, pixel n*H*W + ih*W + iw)): one 16-byte texel fetch per lane for 4 channels instead of
 * a per-lane storage load (16-wide lavapipe; C a multiple of 64, N*H*W within a texture's height).
 */
const FWD_NHWC_TEX_SPEC: GemmSpec = {
  ...FWD_NHWC_SPEC,
  key: 'conv.fwd.nhwc.tex',
  bindings: ['var<storage, read_write> y: array<f32>', 'var xt: texture_2d<u32>', 'var<storage, read> w: array<f32>', 'var<storage, read> bias: array<f32>'],
  functions: maskedTexel4('ldx4', 'xt', 'p.H', 'p.W'),
  rowPrep: (j, row) => `
    let u_n${j} = ${row} / p.OHW;
    let u_r${j} = ${row} - u_n${j} * p.OHW;
    let u_oh${j} = u_r${j} / p.OW;
    let u_xp${j} = u_n${j} * p.HW;
    let u_ih${j} = i32(u_oh${j} * p.sh) - ${I('ph')};
    let u_iw${j} = i32((u_r${j} - u_oh${j} * p.OW) * p.sw) - ${I('pw')};`,
  loadA4: (j) => `ldx4(u_xp${j}, u_g * p.Cg + u_c0, u_ih${j} + u_dh0, u_iw${j} + u_dw0)`,
  loadA: (j, q) => `ldx4(u_xp${j}, u_g * p.Cg + u_c${q}, u_ih${j} + u_dh${q}, u_iw${j} + u_dw${q})[u_c${q} % 4u]`,
};

/** FWD_NHWC_TEX_SPEC with B read from the weight re-laid out as [O][T][Cg] (weightTapsLast 'otc'): plain rows of K, copied straight into a texture. */
const FWD_NHWC_TEX_WT_SPEC: GemmSpec = {
  ...FWD_NHWC_TEX_SPEC,
  key: 'conv.fwd.nhwc.tex.wt',
  colPrep: [0, 1, 2, 3].map((i) => `let u_wb${i} = (u_g * p.Og + nc${i}) * p.Kg;`).join('\n'),
  loadB: (_q, k) => `vec4<f32>(w[u_wb0 + ${k}], w[u_wb1 + ${k}], w[u_wb2 + ${k}], w[u_wb3 + ${k}])`,
};

/**
 * The channels-last forward on a flat texture copy of the NHWC input (flatTexture: texel i = elements
 * 4i .. 4i + 3, rows of 2^txShift texels) and the weight re-laid out tap-major as FWD_NHWC_TEX_WT_SPEC:
 * the stem, its 3 channels padded to 4 (paddedForward), whose N*H*W rows exceed a texture's height.
 */
const FWD_NHWC_TEXF_WT_SPEC: GemmSpec = {
  ...FWD_NHWC_TEX_WT_SPEC,
  key: 'conv.fwd.nhwc.texf.wt',
  functions: `
fn ldx4(pix: u32, c: u32, ih: i32, iw: i32) -> vec4<f32> {
  let ok = u32(ih) < p.H && u32(iw) < p.W;
  let row = pix + u32(clamp(ih, 0, i32(p.H) - 1)) * p.W + u32(clamp(iw, 0, i32(p.W) - 1));
  let t = (row * p.C + c) >> 2u;
  return select(vec4<f32>(0.0), bitcast<vec4<f32>>(textureLoad(xt, vec2<u32>(t & ((1u << p.txShift) - 1u), t >> p.txShift), 0)), ok);
}`,
};


/** dx[n][c][pixel]: the phase row m = (n, i, j) is pixel (pa + i * sh, pb + j * sw), starting at u_xb (+ c * HW). */
const DX_STORE_ROW = (m: string) => `
    let u_sn = ${m} / p.HaWa;
    let u_sr = ${m} - u_sn * p.HaWa;
    let u_si = u_sr / p.Wa;
    let u_xb = (u_sn * p.C + u_g * p.Cg) * p.HW + (p.pa + u_si * p.sh) * p.W + p.pb + (u_sr - u_si * p.Wa) * p.sw;`;

/**
 * An input-grad phase row m = (n, i, j): its image u_n, the dy position (u_oh, u_ow) of its first tap,
 * and `dyBase` (a statement naming where its image's dy starts, in the spec's layout).
 */
const dxPhaseRow = (j: number, row: string, dyBase: string) => `
    let u_n${j} = ${row} / p.HaWa;
    let u_r${j} = ${row} - u_n${j} * p.HaWa;
    let u_i${j} = u_r${j} / p.Wa;
    ${dyBase}
    let u_oh${j} = i32(u_i${j}) + ${I('offh0')};
    let u_ow${j} = i32(u_r${j} - u_i${j} * p.Wa) + ${I('offw0')};`;

/** The phase's tap u_t (of TH x TW) with output channel u_o, for k slot q: its dy offsets and weight index. */
const dxTap = (q: number) => `
    let u_th${q} = divu(u_t${q}, p.TW, ${F('invTW')});
    let u_tw${q} = u_t${q} - u_th${q} * p.TW;
    let u_eh${q} = i32(u_th${q} * p.dOh);
    let u_ew${q} = i32(u_tw${q} * p.dOw);
    let u_wk${q} = p.wo + (u_g * p.Og + u_o${q}) * p.Cg * p.KHW + (p.kh0 + u_th${q} * p.stH) * p.KW + p.kw0 + u_tw${q} * p.stW;`;

const DX_SPEC: GemmSpec = {
  key: 'conv.dx',
  params: [...PARAMS],
  bindings: ['var<storage, read_write> dx: array<f32>', 'var<storage, read> dy: array<f32>', 'var<storage, read> w: array<f32>'],
  functions: maskedLoad('ldy', 'dy', 'p.OH', 'p.OW'),
  prologue: `let u_g = batch;`,
  rowPrep: (j, row) => dxPhaseRow(j, row, `let u_yb${j} = p.yo + (u_n${j} * p.O + u_g * p.Og) * p.OHW;`),
  kPrep: (q, k) => `
    let u_o${q} = divu(${k}, p.THW, ${F('invTHW')});
    let u_t${q} = ${k} - u_o${q} * p.THW;
    let u_yo${q} = u_o${q} * p.OHW;${dxTap(q)}`,
  loadA: (j, q) => `ldy(u_yb${j} + u_yo${q}, u_oh${j} - u_eh${q}, u_ow${j} - u_ew${q})`,
  colPrep: [0, 1, 2, 3].map((i) => `let u_wc${i} = nc${i} * p.KHW;`).join('\n'),
  loadB: (q) => `vec4<f32>(w[u_wk${q} + u_wc0], w[u_wk${q} + u_wc1], w[u_wk${q} + u_wc2], w[u_wk${q} + u_wc3])`,
  storeRowPrep: DX_STORE_ROW,
  store1: (_m, n, v) => `dx[u_xb + ${n} * p.HW] = ${v};`,
  // stride 1 (one phase, rows = the image's pixels in order) with H * W % 4 == 0
  store4: { along: 'rows', binding: 'var<storage, read_write> dx4: array<vec4<f32>>', rowPrep: DX_STORE_ROW, store: (_m, n, v) => `dx4[(u_xb + ${n} * p.HW) / 4u] = ${v};` },
};

/**
 * Input-grad on a channels-last copy of dy (when output channels per group are a multiple of 4): K
 * runs over (tap, o) instead of (o, tap), so the 4 k values of a step are 4 adjacent output channels
 * of one dy pixel, read with one vec4 load and one bounds check instead of 4 gathers (the mirror of
 * FWD_NHWC_SPEC). Rows, columns and the store are DX_SPEC's.
 */
const DX_NHWC_SPEC: GemmSpec = {
  ...DX_SPEC,
  key: 'conv.dx.nhwc',
  bindings: ['var<storage, read_write> dx: array<f32>', 'var<storage, read> dy4: array<vec4<f32>>', 'var<storage, read> w: array<f32>'],
  functions: `
fn ldy4(pix: u32, o: u32, oh: i32, ow: i32) -> vec4<f32> {
  let ok = u32(oh) < p.OH && u32(ow) < p.OW;
  let idx = (pix + u32(clamp(oh, 0, i32(p.OH) - 1)) * p.OW + u32(clamp(ow, 0, i32(p.OW) - 1))) * p.O + o;
  return select(vec4<f32>(0.0), dy4[idx / 4u], ok);
}`,
  rowPrep: (j, row) => dxPhaseRow(j, row, `let u_yp${j} = u_n${j} * p.OHW;`),
  // k = (th * TW + tw) * Og + o
  kPrep: (q, k) => `
    let u_t${q} = divu(${k}, p.Og, ${F('invOg')});
    let u_o${q} = ${k} - u_t${q} * p.Og;${dxTap(q)}`,
  loadA4: (j) => `ldy4(u_yp${j}, u_g * p.Og + u_o0, u_oh${j} - u_eh0, u_ow${j} - u_ew0)`,
  loadA: (j, q) => `ldy4(u_yp${j}, u_g * p.Og + u_o${q} - u_o${q} % 4u, u_oh${j} - u_eh${q}, u_ow${j} - u_ew${q})[u_o${q} % 4u]`,
};

/**
 * DX_NHWC_SPEC reading dy from an rgba32uint texture copy of its channels-last rows (texel (channel /
 * 4, pixel n*OH*OW + oh*OW + ow)): one texel fetch per lane for 4 channels (16-wide lavapipe; O a
 * multiple of 64, N*OH*OW within a texture's height).
 */
const DX_NHWC_TEX_SPEC: GemmSpec = {
  ...DX_NHWC_SPEC,
  key: 'conv.dx.nhwc.tex',
  bindings: ['var<storage, read_write> dx: array<f32>', 'var yt: texture_2d<u32>', 'var<storage, read> w: array<f32>'],
  functions: maskedTexel4('ldy4', 'yt', 'p.OH', 'p.OW'),
};

/**
 * DX_NHWC_TEX_SPEC at stride 1 with one group, B read from the weight re-laid out as [T][O][Cg]
 * (weightTapsLast 'toc'): row k = (tap, o) of a plain K x N matrix, copied straight into a texture.
 */
const DX_NHWC_TEX_WT_SPEC: GemmSpec = {
  ...DX_NHWC_TEX_SPEC,
  key: 'conv.dx.nhwc.tex.wt',
  colPrep: '',
  loadB: (_q, k) => `vec4<f32>(w[${k} * p.Cg + nc0], w[${k} * p.Cg + nc1], w[${k} * p.Cg + nc2], w[${k} * p.Cg + nc3])`,
};

const DW_SPEC: GemmSpec = {
  key: 'conv.dw',
  params: [...PARAMS],
  bindings: ['var<storage, read_write> dwp: array<f32>', 'var<storage, read> x: array<f32>', 'var<storage, read> dy: array<f32>'],
  functions: maskedLoad('ldx', 'x', 'p.H', 'p.W'),
  prologue: `let u_g = batch;\nlet u_xg = p.xo + u_g * p.Cg * p.HW;\nlet u_ob = split * p.O * p.Kg;`,
  rowPrep: (j, row) => `
    let u_c${j} = ${row} / p.KHW;
    let u_t${j} = ${row} - u_c${j} * p.KHW;
    let u_kh${j} = u_t${j} / p.KW;
    let u_xc${j} = u_xg + u_c${j} * p.HW;
    let u_dh${j} = i32(u_kh${j} * p.dh);
    let u_dw${j} = i32((u_t${j} - u_kh${j} * p.KW) * p.dw);`,
  kPrep: (q, k) => `
    let u_n${q} = divu(${k}, p.OHW, ${F('invOHW')});
    let u_pix${q} = ${k} - u_n${q} * p.OHW;
    let u_oh${q} = divu(u_pix${q}, p.OW, ${F('invOW')});
    let u_xn${q} = u_n${q} * p.C * p.HW;
    let u_ih${q} = i32(u_oh${q} * p.sh) - ${I('ph')};
    let u_iw${q} = i32((u_pix${q} - u_oh${q} * p.OW) * p.sw) - ${I('pw')};
    let u_dk${q} = p.yo + u_n${q} * p.O * p.OHW + u_pix${q};`,
  loadA: (j, q) => `ldx(u_xn${q} + u_xc${j}, u_ih${q} + u_dh${j}, u_iw${q} + u_dw${j})`,
  colPrep: [0, 1, 2, 3].map((i) => `let u_dc${i} = (u_g * p.Og + nc${i}) * p.OHW;`).join('\n'),
  loadB: (q) => `vec4<f32>(dy[u_dk${q} + u_dc0], dy[u_dk${q} + u_dc1], dy[u_dk${q} + u_dc2], dy[u_dk${q} + u_dc3])`,
  store1: (m, n, v) => `dwp[u_ob + (u_g * p.Og + ${n}) * p.Kg + ${m}] = ${v};`,
  // 4 consecutive (c, kh, kw) of one output channel, when Kg % 4 == 0
  store4: { along: 'rows', binding: 'var<storage, read_write> dwp4: array<vec4<f32>>', store: (m, n, v) => `dwp4[(u_ob + (u_g * p.Og + ${n}) * p.Kg + ${m}) / 4u] = ${v};` },
};

/**
 * Weight-grad reading x from 4 shifted copies of its flat elements in one rgba32uint texture (copy s
 * holds x's element j - 4 + s at element j, perCopy = txLast + 1 texels, wrapped into rows of
 * 2^txShift texels; see weightGradTexture), for stride 1 with OH = H and OW = W. K runs over (n,
 * pixel) with each image's pixels padded to HWp (HW rounded up to 4; padded pixels are masked on both
 * operands), so the 4 k values of a step are 4 consecutive pixels of one image, and each A row's 4
 * values 4 consecutive elements of x shifted by the row's (channel, tap): one texel of the copy that
 * the shift's residue mod 4 selects, instead of 4 masked gathers. Masks: the row's input pixel inside
 * [0, H) x [0, W), the pixel below HW.
 */
const DW_TEX_SPEC: GemmSpec = {
  ...DW_SPEC,
  key: 'conv.dw.tex',
  bindings: ['var<storage, read_write> dwp: array<f32>', 'var xt: texture_2d<u32>', 'var<storage, read> dy: array<f32>'],
  functions: `
fn xtexel(t: u32) -> vec4<f32> {
  return bitcast<vec4<f32>>(textureLoad(xt, vec2<u32>(t & ((1u << p.txShift) - 1u), t >> p.txShift), 0));
}
// x's elements f .. f + 3 (f may be below 0 or past the end where ok is false there) from copy f % 4,
// whose element j is x's element j - 4 + f % 4: texel f / 4 + 1 of that copy
fn xt4(f: i32, ok: vec4<bool>) -> vec4<f32> {
  let s = u32(f) & 3u;
  let t = u32(clamp((f >> 2u) + 1, 0, i32(p.txLast)));
  return select(vec4<f32>(0.0), xtexel(s * (p.txLast + 1u) + t), ok);
}`,
  prologue: `let u_g = batch;\nlet u_ob = split * p.O * p.Kg;`,
  rowPrep: (j, row) => `
    let u_c${j} = ${row} / p.KHW;
    let u_t${j} = ${row} - u_c${j} * p.KHW;
    let u_kh${j} = u_t${j} / p.KW;
    let u_dh${j} = i32(u_kh${j} * p.dh) - ${I('ph')};
    let u_dw${j} = i32((u_t${j} - u_kh${j} * p.KW) * p.dw) - ${I('pw')};
    let u_ro${j} = i32((u_g * p.Cg + u_c${j}) * p.HW) + u_dh${j} * i32(p.W) + u_dw${j};`,
  kPrep: (q, k) => `
    let u_n${q} = divu(${k}, p.HWp, ${F('invHWp')});
    let u_pix${q} = ${k} - u_n${q} * p.HWp;
    let u_oh${q} = divu(u_pix${q}, p.OW, ${F('invOW')});
    let u_ow${q} = i32(u_pix${q} - u_oh${q} * p.OW);
    let u_pv${q} = u_pix${q} < p.OHW;
    let u_xf${q} = i32(u_n${q} * p.C * p.HW + u_pix${q});
    let u_dk${q} = p.yo + u_n${q} * p.O * p.OHW + min(u_pix${q}, p.OHW - 1u);`,
  loadA4: (j) => `xt4(u_xf0 + u_ro${j}, vec4<bool>(${[0, 1, 2, 3].map((q) => `u_pv${q} && u32(i32(u_oh${q}) + u_dh${j}) < p.H && u32(u_ow${q} + u_dw${j}) < p.W`).join(', ')}))`,
  loadA: (j, q) => `xt4(u_xf${q} + u_ro${j}, vec4<bool>(u_pv${q} && u32(i32(u_oh${q}) + u_dh${j}) < p.H && u32(u_ow${q} + u_dw${j}) < p.W, false, false, false)).x`,
  loadB: (q) => `select(vec4<f32>(0.0), vec4<f32>(dy[u_dk${q} + u_dc0], dy[u_dk${q} + u_dc1], dy[u_dk${q} + u_dc2], dy[u_dk${q} + u_dc3]), u_pv${q})`,
};

/**
 * dcol[g][pixel][(c, kh, kw)] = sum_o dy[n][g*Og + o][pixel] * w[g*Og + o][c][kh][kw] (col2im input;
 * pa = first image, HaWa = rows; rows Kgp = Kg rounded up to 4 floats apart, so a lane stores vec4s).
 */
const DCOL_SPEC: GemmSpec = {
  key: 'conv.dcol',
  params: [...PARAMS],
  bindings: ['var<storage, read_write> dcol: array<f32>', 'var<storage, read> dy: array<f32>', 'var<storage, read> w: array<f32>'],
  prologue: `let u_g = batch;`,
  rowPrep: (j, row) => `
    let u_n${j} = ${row} / p.OHW;
    let u_yb${j} = p.yo + ((p.pa + u_n${j}) * p.O + u_g * p.Og) * p.OHW + (${row} - u_n${j} * p.OHW);`,
  kPrep: (q, k) => `let u_yo${q} = ${k} * p.OHW;\nlet u_wk${q} = p.wo + (u_g * p.Og + ${k}) * p.Kg;`,
  loadA: (j, q) => `dy[u_yb${j} + u_yo${q}]`,
  loadB: (q) => `vec4<f32>(w[u_wk${q} + nc0], w[u_wk${q} + nc1], w[u_wk${q} + nc2], w[u_wk${q} + nc3])`,
  store1: (m, n, v) => `dcol[(u_g * p.HaWa + ${m}) * p.Kgp + ${n}] = ${v};`,
  // the last group of 4 columns may end in a row's padding (column Kg .. Kgp - 1), which col2im never reads
  store4: { along: 'cols', binding: 'var<storage, read_write> dcol4: array<vec4<f32>>', store: (m, n, v) => `dcol4[((u_g * p.HaWa + ${m}) * p.Kgp + ${n}) / 4u] = ${v};` },
};

/**
 * A weight-grad spec (DW_SPEC, DW_TEX_SPEC) reading B = dy down its columns from a flat rgba32uint
 * texture copy of it (flatTexture: texel t = elements 4t .. 4t + 3, rows of 2^ytShift texels) instead
 * of a pack kernel's panel or per-lane gathers: column oc's 4 k values of a step are 4 consecutive
 * pixels of one dy plane (OH * OW % 4 == 0, so K has no padding and a step never spans two planes),
 * one texel fetch. The GEMM regroups a lane's columns into k rows (GemmSpec.loadBk4).
 */
function dyTextureSpec(spec: GemmSpec): GemmSpec {
  return {
    ...spec,
    key: `${spec.key}.yt`,
    bindings: [spec.bindings[0], spec.bindings[1], 'var yt: texture_2d<u32>'],
    functions: `${spec.functions ?? ''}
// dy[n][oc][pix .. pix + 3] (pix a multiple of 4)
fn dyt4(n: u32, oc: u32, pix: u32) -> vec4<f32> {
  let t = ((n * p.O + oc) * p.OHW + pix) >> 2u;
  return bitcast<vec4<f32>>(textureLoad(yt, vec2<u32>(t & ((1u << p.ytShift) - 1u), t >> p.ytShift), 0));
}`,
    colPrep: '',
    loadB: (q) => `vec4<f32>(${[0, 1, 2, 3].map((i) => `dyt4(u_n${q}, u_g * p.Og + nc${i}, u_pix${q} & ~3u)[u_pix${q} & 3u]`).join(', ')})`,
    loadBk4: (col) => `dyt4(u_n0, u_g * p.Og + ${col}, u_pix0)`,
  };
}

const DW_YT_SPEC = dyTextureSpec(DW_SPEC);
const DW_TEX_YT_SPEC = dyTextureSpec(DW_TEX_SPEC);

/**
 * DCOL_SPEC reading dy from an rgba32uint texture copy of its channels-last rows (texel (o / 4, pixel
 * n*OH*OW + oh*OW + ow); one fetch per lane for 4 k) and the weight as it is stored: w[o][(c, kh, kw)]
 * is B row-major K x N (k = o), which a texture variant copies straight into a texture. No weight
 * re-layout at all; groups = 1, O a multiple of 64 (see useCol2im and convInputGrad).
 */
const DCOL_TEX_SPEC: GemmSpec = {
  ...DCOL_SPEC,
  key: 'conv.dcol.tex',
  bindings: ['var<storage, read_write> dcol: array<f32>', 'var yt: texture_2d<u32>', 'var<storage, read> w: array<f32>'],
  rowPrep: (j, row) => `let u_yr${j} = p.pa * p.OHW + ${row};`,
  kPrep: (q, k) => `let u_wk${q} = p.wo + ${k} * p.Kg;`,
  loadA4: (j, k) => `bitcast<vec4<f32>>(textureLoad(yt, vec2<u32>(${k} / 4u, u_yr${j}), 0))`,
  loadA: (j, _q, k) => `bitcast<vec4<f32>>(textureLoad(yt, vec2<u32>(${k} / 4u, u_yr${j}), 0))[${k} % 4u]`,
};

// ---- variants ------------------------------------------------------------------------------------

let forced: Partial<Record<GemmOp, GemmVariant>> = {};
let dxPath: 'auto' | 'phase' | 'col2im' = 'auto';

/** Tests and benchmarks: force the input-gradient formulation ('auto' picks by channels per group). */
export function setConvInputGradPath(path: 'auto' | 'phase' | 'col2im'): void {
  dxPath = path;
}

const dxPathCounts = { phase: 0, col2im: 0 };

let col2imPhased = true;

/** Benchmarks: col2im at stride > 1 without dilation by its phase kernel (true) or the general one. */
export function setConvCol2imPhased(on: boolean): void {
  col2imPhased = on;
}

/** Tests: how many input-grads so far took each formulation (1x1 matmul routes count as neither). */
export function convInputGradPathCounts(): { phase: number; col2im: number } {
  return { ...dxPathCounts };
}

/** Tests and benchmarks: force a GEMM variant for a conv product (empty object = tuned/default). */
export function setConvVariants(v: Partial<Record<GemmOp, GemmVariant>>): void {
  forced = { ...v };
}

function variantFor(op: GemmOp, M: number, N: number, K: number): GemmVariant {
  return forced[op] ?? chooseGemmVariant(op, M, N, K);
}

// ---- 1x1 convolutions as matmuls (CPU drivers) ---------------------------------------------------

let pointwiseRoute: 'auto' | 'on' | 'off' = 'auto';

/**
 * Tests and benchmarks: 'on' runs every unpadded 1x1 forward and unstrided 1x1 input-grad as a batched
 * matmul, 'off' none (implicit GEMMs, like every other kernel size), 'auto' where it measured faster.
 */
export function setConvPointwise(mode: 'auto' | 'on' | 'off'): void {
  pointwiseRoute = mode;
}

/**
 * Unpadded 1x1 convolutions can run as batched matmuls over NCHW's channel-major pixel rows: forward
 * y[n][g] = W[g] (Og x Cg) @ x[n][g] (Cg x OH*OW), subsampling a strided x first; input-grad
 * dx[n][g] = W[g]^T @ dy[n][g] when unstrided (a strided one would scatter into zeros), with W^T a small
 * plain copy. The pixel rows are then B, a plain K x N matrix that 16-lane variants copy straight into
 * a texture when a row is a multiple of 64 pixels, where the implicit GEMM gathers one pixel per lane
 * from channels H*W apart. 'auto' takes the route only there (16-lane lavapipe, OH*OW % 64 == 0): in
 * interleaved A/Bs the 1x1 expand forward ran 1.5-1.7x faster, the expand and reduce input-grads 1.15x
 * and 1.4x; 28x28 and smaller outputs (no texture copy) up to 1.2x slower. The weight-grad stays an
 * implicit GEMM (its K runs across images).
 */
function pointwise(g: ConvGeometry, kind: 'fwd' | 'dx'): boolean {
  if (pointwiseRoute === 'off' || g.KH !== 1 || g.KW !== 1 || g.ph !== 0 || g.pw !== 0 || g.N * g.G > 65535 || !useBcast()) return false;
  if (kind === 'dx' && (g.sh !== 1 || g.sw !== 1)) return false;
  return pointwiseRoute === 'on' || (deviceContext().summary.subgroupSize >= 16 && (g.OH * g.OW) % 64 === 0);
}

/**
 * The route's variant: a forced conv variant (tests, bench tuning), else the matmul class's tuned one,
 * else at 16 lanes the variant that won every A/B above (64 x 8 a lane, both operands textures).
 */
function pointwiseVariant(op: GemmOp): (M: number, N: number, K: number) => GemmVariant {
  return (M, N, K) => {
    const S = deviceContext().summary.subgroupSize;
    if (forced[op]) return forced[op];
    if (S < 16 || isTuned('matmul', M, N, K)) return chooseGemmVariant('matmul', M, N, K);
    return { family: 'bcast', tm: 64, tn: 8, wg: 1, subgroup: S, pack: true, tex: true };
  };
}

/** x[:, :, ::sh, ::sw] as a new contiguous [N, C, OH, OW] tensor (x itself when unstrided). */
function subsample(x: Tensor, g: ConvGeometry): Tensor {
  if (g.sh === 1 && g.sw === 1) return x;
  const v = x.view([g.N, g.C, g.OH, g.OW], [g.C * g.H * g.W, g.H * g.W, g.sh * g.W, g.sw], x.offset);
  const c = copy(v);
  v.dispose();
  return c;
}

function pointwiseForward(x: Tensor, w: Tensor, b: Tensor | null, g: ConvGeometry): Tensor {
  const P = g.OH * g.OW;
  const xs = subsample(x, g);
  const a = w.view([g.G, g.Og, g.Cg], [g.Og * g.Cg, g.Cg, 1], w.offset);
  const bm = xs.view([g.N, g.G, g.Cg, P], [g.C * P, g.Cg * P, P, 1], xs.offset);
  const prod = matmulProduct(a, bm, pointwiseVariant('conv.fwd')); // [N, G, Og, P] = NCHW
  a.dispose();
  bm.dispose();
  if (xs !== x) xs.dispose();
  const y = reshape(prod, [g.N, g.O, g.OH, g.OW]);
  prod.dispose();
  if (!b) return y;
  const bc = reshape(b, [g.O, 1, 1]);
  const yb = add(y, bc);
  bc.dispose();
  y.dispose();
  return yb;
}

function pointwiseInputGrad(dy: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  const P = g.OH * g.OW;
  // W[g]^T as a plain row-major [G][Cg][Og] copy (small), which packed variants copy into a texture
  const wv = w.view([g.G, g.Cg, g.Og], [g.Og * g.Cg, 1, g.Cg], w.offset);
  const a = copy(wv);
  wv.dispose();
  const bm = dy.view([g.N, g.G, g.Og, P], [g.O * P, g.Og * P, P, 1], dy.offset);
  const prod = matmulProduct(a, bm, pointwiseVariant('conv.dx')); // [N, G, Cg, P] = NCHW
  a.dispose();
  bm.dispose();
  const dx = reshape(prod, [g.N, g.C, g.H, g.W]);
  prod.dispose();
  return dx;
}

/**
 * K-splits so that the grid has enough workgroups, with at least 256 k per split: 32 for a CPU
 * driver's few threads, 256 (about 2 per multiprocessor) on GPUs: on the H200 that made the
 * weight-grad rows with few output tiles 1.4-2.1x faster (bench/gpu/h200-bench-gemm*.txt).
 */
function chooseSplits(v: GemmVariant, M: number, N: number, K: number, batch: number): number {
  const { rows, cols } = gemmTile(fitVariant(v, M));
  const tiles = Math.ceil(M / rows) * Math.ceil(N / cols) * batch;
  const want = deviceContext().summary.isSoftware ? 32 : 256;
  if (tiles >= want) return 1;
  return Math.max(1, Math.min(Math.ceil(want / tiles), Math.floor(K / 256), 64));
}

// ---- weight re-layout for the channels-last texture GEMMs ---------------------------------------

let weightRelayout = true;

/** Tests and benchmarks: false packs the weight inside the channels-last texture GEMMs instead of re-laying it out first. */
export function setConvWeightRelayout(enabled: boolean): void {
  weightRelayout = enabled;
}

/**
 * The weight with its taps before its channels (shaders/conv_weight_taps.wgsl): 'otc' = [O][T][Cg]
 * (the channels-last forward's B stored N x K) or 'toc' = [T][O][Cg] (the stride-1 input-grad's B
 * stored K x N, groups = 1). Both need Cg % 4 == 0 and a weight offset that is a multiple of 4.
 */
function weightTapsLast(w: Tensor, g: ConvGeometry, order: 'otc' | 'toc'): Tensor {
  const op = 'conv2d';
  const T = g.KH * g.KW;
  const out = empty(order === 'otc' ? [g.O, T, g.Cg] : [T, g.O, g.Cg], 'float32', op);
  const k = kernel(`conv_weight_taps:${T}`, () => {
    const c = ['x', 'y', 'z', 'w'];
    const comp = (f: number) => `v${Math.floor(f / 4)}.${c[f % 4]}`;
    const body: string[] = [];
    for (let j = 0; j < T; j++) body.push(`  let v${j} = w[src + ${j}u];`);
    for (let t = 0; t < T; t++) body.push(`  out[dst + ${t}u * p.soT4] = vec4<f32>(${[0, 1, 2, 3].map((r) => comp(r * T + t)).join(', ')});`);
    return renderTemplate(shaderSource('conv_weight_taps'), { T: String(T), BODY: body.join('\n') });
  });
  const n = (g.O * g.Cg) / 4;
  const [gx, gy] = groups1d(Math.ceil(n / 64));
  const [soO, soT] = order === 'otc' ? [T * g.Cg, g.Cg] : [g.Cg, g.O * g.Cg];
  dispatch(k, [out.buffer(op), w.buffer(op)], new Uint32Array([n, gx * 64, g.Cg / 4, w.offset / 4, soO / 4, soT / 4, 0, 0]), [gx, gy]);
  return out;
}

// ---- the three products --------------------------------------------------------------------------

const channelsLast: Record<'fwd' | 'dx', 'auto' | 'on' | 'off'> = { fwd: 'auto', dx: 'auto' };

/**
 * Tests and benchmarks: force (or forbid) the channels-last forward and input-grad (or one of them);
 * 'auto' uses them for kernels larger than 1x1 when the channels per group they read (Cg, Og) are a
 * multiple of 4; at 16 lanes the forward only above 256 output pixels (N * OH * OW): below, its
 * weight re-layout and input copy are shared by at most 2 row tiles, and reading x where it is and the
 * weight as a plain texture copy was faster (ResNet stage 5, 98 pixels: 9.5-10.9 against 11.4-13.1 ms
 * in interleaved runs; 196 pixels level; stage 2, 6272 pixels: channels-last 1.37x as fast; `ab.js
 * fwd-nhwc`). At 8 lanes the channels-last forward stayed faster at 98 pixels (1.08x).
 */
export function setConvChannelsLast(mode: 'auto' | 'on' | 'off', products: 'both' | 'fwd' | 'dx' = 'both'): void {
  if (products !== 'dx') channelsLast.fwd = mode;
  if (products !== 'fwd') channelsLast.dx = mode;
}

function wantChannelsLast(kind: 'fwd' | 'dx', g: ConvGeometry): boolean {
  const mode = channelsLast[kind];
  const fewRows = kind === 'fwd' && g.N * g.OH * g.OW <= 256 && deviceContext().summary.subgroupSize >= 16;
  return mode === 'on' || (mode === 'auto' && g.KH * g.KW > 1 && !fewRows);
}

let nhwcKernel = true;

/** Benchmarks: the channels-last copy by its own 4 x 4 block kernel (true) or the generic strided copy. */
export function setConvNhwcKernel(on: boolean): void {
  nhwcKernel = on;
}

/** t [N, C, H, W] as a contiguous [N, H, W, C] tensor at offset 0 (shaders/nchw_to_nhwc.wgsl where it applies). */
function channelsLastCopy(t: Tensor): Tensor {
  const [N, C, H, W] = t.shape;
  const P = H * W;
  const dense = t.strides[3] === 1 && t.strides[2] === W && t.strides[1] === P && t.strides[0] === C * P;
  if (!nhwcKernel || !dense || P % 4 !== 0 || C % 4 !== 0 || t.offset % 4 !== 0) {
    const v = permute(t, [0, 2, 3, 1]);
    const c = copy(v);
    v.dispose();
    return c;
  }
  const op = 'conv2d';
  const out = empty([N, H, W, C], 'float32', op);
  const n = (N * P * C) / 16;
  const [gx, gy] = groups1d(Math.ceil(n / 64));
  const k = kernel('nchw_to_nhwc', () => shaderSource('nchw_to_nhwc'));
  dispatch(k, [out.buffer(op), t.buffer(op)], new Uint32Array([n, gx * 64, C / 4, P / 4, t.offset / 4, P, C, 0]), [gx, gy]);
  return out;
}

let padChannels: 'auto' | 'off' = 'auto';

/** Tests and benchmarks: 'off' keeps forwards whose channels are not a multiple of 4 (the stem) on NCHW gathers (see wantPaddedChannels). */
export function setConvPadChannels(mode: 'auto' | 'off'): void {
  padChannels = mode;
}

/**
 * Whether a forward whose channels are not a multiple of 4 (the RGB stem) runs channels-last with them
 * padded to the next multiple of 4 (zeros in x's copy and in the weight): 16-lane texture variants,
 * one group, kernels larger than 1x1, and a padded copy that a flat texture holds. The products of
 * the padding are zeros; in exchange each step of 4 k is one texel fetch per row instead of 4 gathers.
 */
function wantPaddedChannels(g: ConvGeometry, v: GemmVariant): boolean {
  if (padChannels === 'off' || g.G !== 1 || g.C % 4 === 0 || g.KH * g.KW === 1 || !readsTextures(v) || !wantChannelsLast('fwd', g)) return false;
  return flatTextureLayout(g.N * g.H * g.W * Math.ceil(g.C / 4) * 4) !== null;
}

/** The forward with channels padded to a multiple of 4 (see wantPaddedChannels). */
function paddedForward(x: Tensor, w: Tensor, b: Tensor | null, g: ConvGeometry, v: GemmVariant, y: Tensor): void {
  const op = 'conv2d';
  const Cp = Math.ceil(g.C / 4) * 4;
  const gp: ConvGeometry = { ...g, C: Cp, Cg: Cp };
  const xl = empty([g.N, g.H, g.W, Cp], 'float32', op);
  const n = g.N * g.H * g.W * (Cp / 4);
  const HW = g.H * g.W;
  const k = kernel(`nchw_to_nhwc_pad:${g.C}:${HW}`, () => renderTemplate(shaderSource('nchw_to_nhwc_pad'), { C: g.C, HW, C4: Cp / 4, ELEMENT_MAIN: elementMain() }));
  const [gx, gy] = groups1d(Math.ceil(n / elementTiling().BLOCK));
  dispatch(k, [xl.buffer(op), x.buffer(op)], new Uint32Array([n, gx, x.offset, 0]), [gx, gy]);
  const xf = flatTexture(xl, op);
  xl.dispose();
  // the weight tap-major with its channels padded: [O][T][Cp], read as B stored N x K
  const T = g.KH * g.KW;
  const wt = empty([g.O, T, Cp], 'float32', op);
  const nw = g.O * T * (Cp / 4);
  const kw = kernel(`conv_weight_taps_pad:${g.C}:${T}`, () => renderTemplate(shaderSource('conv_weight_taps_pad'), { C: g.C, T, C4: Cp / 4, ELEMENT_MAIN: elementMain() }));
  const [wx, wy] = groups1d(Math.ceil(nw / elementTiling().BLOCK));
  dispatch(kw, [wt.buffer(op), w.buffer(op)], new Uint32Array([nw, wx, w.offset, 0]), [wx, wy]);
  const dims: GemmDims = { M: g.N * g.OH * g.OW, N: g.Og, K: Cp * T, batch: 1, store4: (g.OH * g.OW) % 4 === 0 };
  const wB: BOperand = { binding: 2, offset: 0, layout: 'nk', batchRows: 0 };
  const params = convParams(gp, { hasBias: b ? 1 : 0, wo: 0, bo: b ? b.offset : 0, txShift: Math.log2(xf.width) });
  gemm(FWD_NHWC_TEXF_WT_SPEC, v, [y.buffer(op), textureView(xf), wt.buffer(op), b ? b.buffer(op) : wt.buffer(op)], dims, params, undefined, wB);
  wt.dispose();
  releaseTexture(xf);
}

function convForward(x: Tensor, w: Tensor, b: Tensor | null, g: ConvGeometry): Tensor {
  const op = 'conv2d';
  if (pointwise(g, 'fwd')) return pointwiseForward(x, w, b, g);
  const y = empty([g.N, g.O, g.OH, g.OW], 'float32', op);
  const M = g.N * g.OH * g.OW;
  const Kg = g.Cg * g.KH * g.KW;
  const v = variantFor('conv.fwd', M, g.Og, Kg);
  // 4 aligned output rows stay in one image when OH * OW % 4 == 0: the GEMM may store them as a vec4
  const dims = { M, N: g.Og, K: Kg, batch: g.G, store4: (g.OH * g.OW) % 4 === 0 };
  if (wantPaddedChannels(g, v)) {
    paddedForward(x, w, b, g, v, y);
    return y;
  }
  // channels-last pays for its transposing copy only when each input pixel feeds several taps
  const wantNhwc = wantChannelsLast('fwd', g);
  if (g.Cg % 4 === 0 && wantNhwc && v.family !== 'tiled') {
    const xl = channelsLastCopy(x);
    const params = convParams(g, { hasBias: b ? 1 : 0, wo: w.offset, bo: b ? b.offset : 0 });
    const bias = b ? b.buffer(op) : w.buffer(op);
    // texture variants (16-wide lavapipe) read x from a texture copy of its N*H*W x C rows where they fit one
    const xt = readsTextures(v) ? matrixTexture(xl.buffer(op), 0, g.N * g.H * g.W, g.C, 'x', op) : null;
    if (xt) {
      // the weight re-laid out tap-major is a plain N x K operand, copied straight into a texture too
      const wt = weightRelayout && w.offset % 4 === 0 ? weightTapsLast(w, g, 'otc') : null;
      if (wt) {
        const wB: BOperand = { binding: 2, offset: 0, layout: 'nk', batchRows: g.G > 1 ? g.Og : 0 };
        const pw = convParams(g, { hasBias: b ? 1 : 0, wo: 0, bo: b ? b.offset : 0 });
        gemm(FWD_NHWC_TEX_WT_SPEC, v, [y.buffer(op), textureView(xt), wt.buffer(op), bias], dims, pw, undefined, wB);
        wt.dispose();
      } else {
        gemm(FWD_NHWC_TEX_SPEC, v, [y.buffer(op), textureView(xt), w.buffer(op), bias], dims, params);
      }
      releaseTexture(xt);
    } else {
      gemm(FWD_NHWC_SPEC, v, [y.buffer(op), xl.buffer(op), w.buffer(op), bias], dims, params);
    }
    xl.dispose();
    return y;
  }
  const params = convParams(g, { hasBias: b ? 1 : 0, xo: x.offset, wo: w.offset, bo: b ? b.offset : 0 });
  // without a bias the kernel's (unused, select-masked) bias load reads the weight buffer
  const biasBuf = b ? b.buffer(op) : w.buffer(op);
  // the weight [O][Cg*KH*KW] is B stored N x K: a texture variant copies it as it is
  const wB: BOperand = { binding: 2, offset: w.offset, layout: 'nk', batchRows: g.G > 1 ? g.Og : 0 };
  gemm(FWD_SPEC, v, [y.buffer(op), x.buffer(op), w.buffer(op), biasBuf], dims, params, undefined, wB);
  return y;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Taps of one stride phase along one axis: first tap, step, count, and the output offset. */
function phaseTaps(a: number, s: number, p: number, d: number, K: number): { k0: number; step: number; T: number; off0: number; dO: number } {
  const step = s / gcd(s, d);
  let k0 = -1;
  for (let k = 0; k < step; k++) {
    if ((((k * d - a - p) % s) + s) % s === 0) {
      k0 = k;
      break;
    }
  }
  if (k0 < 0 || k0 >= K) return { k0: 0, step, T: 0, off0: 0, dO: 0 };
  const T = Math.ceil((K - k0) / step);
  return { k0, step, T, off0: (a + p - k0 * d) / s, dO: (step * d) / s };
}

/** The GEMM op whose tuned variants a conv product uses: 'matmul' where a 1x1 product runs as one. */
export function convTuneOp(kind: 'fwd' | 'dx' | 'dw', g: ConvGeometry): GemmOp {
  if (kind !== 'dw' && pointwise(g, kind)) return 'matmul';
  return kind === 'fwd' ? 'conv.fwd' : kind === 'dx' ? 'conv.dx' : 'conv.dw';
}

/** The (rows, columns, K) of the main GEMM each conv product runs (what tuning keys on). */
export function convGemmDims(kind: 'fwd' | 'dx' | 'dw', g: ConvGeometry): [number, number, number] {
  const Kg = g.Cg * g.KH * g.KW;
  if (kind === 'fwd' && pointwise(g, 'fwd')) return [g.Og, g.OH * g.OW, g.Cg];
  if (kind === 'dx' && pointwise(g, 'dx')) return [g.Cg, g.OH * g.OW, g.Og];
  if (kind === 'fwd') return [g.N * g.OH * g.OW, g.Og, Kg];
  if (kind === 'dw') return [Kg, g.Og, g.N * g.OH * g.OW];
  if (useCol2im(g)) return [g.N * g.OH * g.OW, Kg, g.Og];
  const th = phaseTaps(0, g.sh, g.ph, g.dh, g.KH);
  const tw = phaseTaps(0, g.sw, g.pw, g.dw, g.KW);
  return [g.N * Math.ceil(g.H / g.sh) * Math.ceil(g.W / g.sw), g.Cg, Math.max(1, g.Og * th.T * tw.T)];
}

/**
 * dx of the images [n0, n0 + nc) from their dcol rows (Kgp floats apart): at stride 1 without dilation
 * the unrolled-tap kernel over flat indices (shaders/conv_col2im_s1.wgsl), strided without dilation
 * the phase kernel (shaders/conv_col2im_phase.wgsl), else the general one (shaders/conv_col2im.wgsl),
 * whose grid z = (image, channel) is cut into dispatches of at most maxComputeWorkgroupsPerDimension.
 */
function col2im(dx: Tensor, dcol: Tensor, g: ConvGeometry, n0: number, nc: number, Kgp: number, op: string): void {
  const bufs = [dx.buffer(op), dcol.buffer(op)];
  if (g.sh === 1 && g.sw === 1 && g.dh === 1 && g.dw === 1) {
    const n = nc * g.C * g.H * g.W;
    const [gx, gy] = groups1d(Math.ceil(n / 256));
    dispatch(col2imUnitKernel(g.KH, g.KW), bufs, new Uint32Array([g.C, g.H, g.W, g.OH, g.OW, g.Cg, g.ph, g.pw, n0, nc, 0, Kgp, n, gx * 256, 0, 0]), [gx, gy]);
    return;
  }
  const phased = g.dh === 1 && g.dw === 1 && col2imPhased;
  const k = phased ? kernel('conv_col2im_phase', () => shaderSource('conv_col2im_phase')) : kernel('conv_col2im', () => shaderSource('conv_col2im'));
  // valid taps along an axis repeat every s / gcd(d, s); the output index drops by that * d / s
  const periodH = g.sh / gcd(g.sh, g.dh);
  const periodW = g.sw / gcd(g.sw, g.dw);
  // narrow inputs: whole rows per 64-lane workgroup (see the shader)
  const rowsPer = Math.max(1, Math.floor(64 / g.W));
  const blocksW = Math.ceil(Math.ceil(g.W / g.sw) / 64);
  const maxZ = deviceContext().limits.maxComputeWorkgroupsPerDimension;
  const imagesPerDispatch = Math.max(1, Math.floor(maxZ / g.C));
  for (let nl0 = 0; nl0 < nc; nl0 += imagesPerDispatch) {
    const count = Math.min(imagesPerDispatch, nc - nl0);
    if (phased) {
      dispatch(k, bufs, new Uint32Array([g.C, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.sh, g.sw, g.ph, g.pw, g.Cg, n0, nc, nl0, Kgp, blocksW, 0, 0, 0]), [g.sw * blocksW, g.H, count * g.C]);
    } else {
      const params = new Uint32Array([g.C, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.Cg, n0, nc, periodH, periodW, (periodH * g.dh) / g.sh, (periodW * g.dw) / g.sw, nl0, Kgp, rowsPer, 0]);
      dispatch(k, bufs, params, [Math.ceil(g.W / 64), Math.ceil(g.H / rowsPer), count * g.C]);
    }
  }
}

/** shaders/conv_col2im_s1.wgsl for a KH x KW kernel at stride 1 and dilation 1: its taps unrolled. */
function col2imUnitKernel(KH: number, KW: number) {
  return kernel(`conv_col2im_s1:${KH}:${KW}`, () => {
    const body: string[] = [];
    for (let kh = 0; kh < KH; kh++) {
      body.push(`  let oh${kh} = ohb - ${kh};`, `  let hok${kh} = u32(oh${kh}) < p.OH;`, `  let hr${kh} = u32(clamp(oh${kh}, 0, i32(p.OH) - 1)) * p.OW;`);
    }
    for (let kw = 0; kw < KW; kw++) {
      body.push(`  let ow${kw} = owb - ${kw};`, `  let wok${kw} = u32(ow${kw}) < p.OW;`, `  let wc${kw} = u32(clamp(ow${kw}, 0, i32(p.OW) - 1));`);
    }
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) body.push(`  s = s + select(0.0, dcol[base + (hr${kh} + wc${kw}) * p.Kgp + ${kh * KW + kw}u], hok${kh} && wok${kw});`);
    }
    return renderTemplate(shaderSource('conv_col2im_s1'), { KHW: String(KH * KW), BODY: body.join('\n') });
  });
}

/**
 * The input-grad as dcol = dy x weight, then col2im: where the input has few channels per group (the
 * stem: its columns (c, kh, kw) fill the GEMM's column tiles where the c columns alone would not), and
 * on CPU drivers' texture GEMMs for a stride-1 product of few pixels (N * OH * OW <= 256, e.g. ResNet
 * stage 5 at batch 2; one group, O a multiple of 64). There the phase GEMM's weight re-layout, shared by
 * at most 2 row tiles, cost about a third of the row (2.8-3.3 ms of 10-12 at stage 5), while dcol's B is
 * the weight as it is stored (copied into a texture) and dy is read from a channels-last texture:
 * interleaved at stage 5, 9.1 against 11.6 ms (`ab.js dx-col2im`); at stage 4 (392 pixels) the phase
 * GEMM stayed faster (8.5 against 9.5 ms), its col2im costing 1.1 ms.
 */
function useCol2im(g: ConvGeometry): boolean {
  if (dxPath !== 'auto') return dxPath === 'col2im';
  const Kg = g.Cg * g.KH * g.KW;
  const { cols } = gemmTile(variantFor('conv.dx', g.N * g.H * g.W, g.Cg, g.Og * g.KH * g.KW));
  if (2 * g.Cg < cols && Kg > g.Cg) return true;
  const M = g.N * g.OH * g.OW;
  return deviceContext().summary.isSoftware && g.G === 1 && g.sh === 1 && g.sw === 1 && g.KH * g.KW > 1 && M <= 256 && g.O % 64 === 0 && readsTextures(variantFor('conv.dx', M, Kg, g.Og));
}

/**
 * Gradient w.r.t. the input. Wide inputs: one dense GEMM per stride phase (sh * sw dispatches), columns
 * = input channels. Few channels per group (the stem): columns = (c, kh, kw) into a dcol buffer, then
 * col2im (shaders/conv_col2im.wgsl), in chunks of images so dcol stays within budget.
 */
export function convInputGrad(dy: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  const op = 'conv2d.backward';
  if (pointwise(g, 'dx')) return pointwiseInputGrad(dy, w, g);
  const dx = empty([g.N, g.C, g.H, g.W], 'float32', op);
  const Kg = g.Cg * g.KH * g.KW;
  if (useCol2im(g)) {
    dxPathCounts.col2im++;
    const Kgp = Math.ceil(Kg / 4) * 4;
    const perImage = g.G * g.OH * g.OW * Kgp;
    const nChunk = Math.max(1, Math.min(g.N, Math.floor((1 << 24) / perImage)));
    // dy channels-last in a texture and the weight copied as it is (DCOL_TEX_SPEC), where they apply
    // (the copy only where its texture can be made: the stem's 25088 dy rows exceed a texture's height)
    const vFirst = variantFor('conv.dx', Math.min(nChunk, g.N) * g.OH * g.OW, Kg, g.Og);
    const dyRows = g.N * g.OH * g.OW;
    const dyl = g.G === 1 && readsTextures(vFirst) && copiesAsTexture(0, dyRows, g.O) ? channelsLastCopy(dy) : null;
    const yt = dyl ? matrixTexture(dyl.buffer(op), 0, dyRows, g.O, 'x', op) : null;
    for (let n0 = 0; n0 < g.N; n0 += nChunk) {
      const nc = Math.min(nChunk, g.N - n0);
      const M = nc * g.OH * g.OW;
      const dcol = empty([g.G, M, Kgp], 'float32', op);
      const v = variantFor('conv.dx', M, Kg, g.Og);
      const dims = { M, N: Kg, K: g.Og, batch: g.G, store4: true };
      const params = convParams(g, { wo: w.offset, yo: dy.offset, pa: n0, HaWa: M, Kgp });
      if (yt && readsTextures(v)) {
        gemm(DCOL_TEX_SPEC, v, [dcol.buffer(op), textureView(yt), w.buffer(op)], dims, params, undefined, { binding: 2, offset: w.offset, layout: 'kn', batchRows: 0 });
      } else {
        gemm(DCOL_SPEC, v, [dcol.buffer(op), dy.buffer(op), w.buffer(op)], dims, params);
      }
      col2im(dx, dcol, g, n0, nc, Kgp, op);
      dcol.dispose();
    }
    dyl?.dispose();
    if (yt) releaseTexture(yt);
    return dx;
  }
  dxPathCounts.phase++;
  // channels-last dy for kernels larger than 1x1 (each dy pixel then feeds several taps), as the forward
  const vMain = variantFor('conv.dx', ...convGemmDims('dx', g));
  const wantNhwc = wantChannelsLast('dx', g);
  let dyl: Tensor | null = null;
  let yt: GPUTexture | null | undefined;
  let wtDx: Tensor | null | undefined;
  if (g.Og % 4 === 0 && wantNhwc && vMain.family !== 'tiled') {
    dyl = channelsLastCopy(dy);
  }
  for (let a = 0; a < Math.min(g.sh, g.H); a++) {
    for (let bb = 0; bb < Math.min(g.sw, g.W); bb++) {
      const Ha = Math.ceil((g.H - a) / g.sh);
      const Wa = Math.ceil((g.W - bb) / g.sw);
      const th = phaseTaps(a, g.sh, g.ph, g.dh, g.KH);
      const tw = phaseTaps(bb, g.sw, g.pw, g.dw, g.KW);
      const M = g.N * Ha * Wa;
      const K = g.Og * th.T * tw.T;
      const v = variantFor('conv.dx', M, g.Cg, Math.max(K, 1));
      const params = convParams(g, {
        wo: w.offset, yo: dy.offset, pa: a, pb: bb, Wa, HaWa: Ha * Wa,
        kh0: th.k0, kw0: tw.k0, stH: th.step, stW: tw.step, TW: tw.T, THW: th.T * tw.T,
        dOh: th.dO, dOw: tw.dO, offh0: i32bits(th.off0), offw0: i32bits(tw.off0),
        invTHW: f32bits(th.T * tw.T ? 1 / (th.T * tw.T) : 0), invTW: f32bits(tw.T ? 1 / tw.T : 0),
      });
      // at stride 1 the one phase's rows are the image's pixels in order: 4 aligned ones form a vec4
      const dims = { M, N: g.Cg, K, batch: g.G, store4: g.sh === 1 && g.sw === 1 && (g.H * g.W) % 4 === 0 };
      if (dyl && K > 0 && v.family !== 'tiled') {
        // texture variants read dy from one texture copy of its channels-last rows, shared by the phases
        if (readsTextures(v) && yt === undefined) yt = matrixTexture(dyl.buffer(op), 0, g.N * g.OH * g.OW, g.O, 'x', op);
        if (readsTextures(v) && yt) {
          // stride 1, one group: B is the weight re-laid out [T][O][Cg], copied straight into a texture
          if (wtDx === undefined) wtDx = weightRelayout && g.sh === 1 && g.sw === 1 && g.G === 1 && g.Cg % 4 === 0 && w.offset % 4 === 0 ? weightTapsLast(w, g, 'toc') : null;
          if (wtDx) {
            const wB: BOperand = { binding: 2, offset: 0, layout: 'kn', batchRows: 0 };
            gemm(DX_NHWC_TEX_WT_SPEC, v, [dx.buffer(op), textureView(yt), wtDx.buffer(op)], dims, params, undefined, wB);
          } else {
            gemm(DX_NHWC_TEX_SPEC, v, [dx.buffer(op), textureView(yt), w.buffer(op)], dims, params);
          }
        } else {
          gemm(DX_NHWC_SPEC, v, [dx.buffer(op), dyl.buffer(op), w.buffer(op)], dims, params);
        }
        continue;
      }
      // 1x1: the weight [O][Cg] is B row-major (k = o, n = c), which a texture variant copies as it is
      const wB: BOperand | undefined = g.KH * g.KW === 1 ? { binding: 2, offset: w.offset, layout: 'kn', batchRows: g.G > 1 ? K : 0 } : undefined;
      gemm(DX_SPEC, v, [dx.buffer(op), dy.buffer(op), w.buffer(op)], dims, params, undefined, wB);
    }
  }
  dyl?.dispose();
  wtDx?.dispose();
  if (yt) releaseTexture(yt);
  return dx;
}

/** Gradient w.r.t. the weight (split over N*OH*OW when the output alone cannot fill the machine). */
export function convWeightGrad(dy: Tensor, x: Tensor, g: ConvGeometry): Tensor {
  const op = 'conv2d.backward';
  const Kg = g.Cg * g.KH * g.KW;
  const K = g.N * g.OH * g.OW;
  const v = variantFor('conv.dw', Kg, g.Og, K);
  const xt = wantWeightGradTexture(v, x, g) ? weightGradTexture(x, op) : null;
  const yt = wantDyTexture(v, dy, g) ? flatTexture(dy, op) : null;
  // the texture form pads each image's pixels to a multiple of 4 (HWp)
  const HWp = Math.ceil((g.OH * g.OW) / 4) * 4;
  const Kt = xt ? g.N * HWp : K;
  const dims = { M: Kg, N: g.Og, K: Kt, batch: g.G, splits: chooseSplits(v, Kg, g.Og, Kt, g.G), store4: Kg % 4 === 0 };
  // B from dy's texture: no panel, so a direct plan (one K chunk) with the variant's splits
  const plan = planGemm(yt ? { ...v, pack: false } : v, dims, true);
  const part = empty([plan.totalSplits, g.O, g.Cg, g.KH, g.KW], 'float32', op);
  const B = yt ? textureView(yt) : dy.buffer(op);
  const bOperand: BOperand | undefined = yt ? { binding: 2, offset: 0, layout: 'spec', batchRows: 0 } : undefined;
  const ytShift = yt ? Math.log2(yt.width) : 0;
  if (xt) {
    const params = convParams(g, { yo: dy.offset, HWp, invHWp: f32bits(1 / HWp), txShift: Math.log2(xt.texture.width), txLast: xt.perCopy - 1, ytShift });
    gemm(yt ? DW_TEX_YT_SPEC : DW_TEX_SPEC, v, [part.buffer(op), textureView(xt.texture), B], dims, params, plan, bOperand);
    releaseTexture(xt.texture);
  } else {
    const params = convParams(g, { xo: x.offset, yo: dy.offset, ytShift });
    gemm(yt ? DW_YT_SPEC : DW_SPEC, v, [part.buffer(op), x.buffer(op), B], dims, params, plan, bOperand);
  }
  if (yt) releaseTexture(yt);
  return sumSplits(part, plan.totalSplits, [g.O, g.Cg, g.KH, g.KW]);
}

let dwTexture: 'auto' | 'off' = 'auto';

/** Benchmarks: the weight-grad's texture copies of x where they apply ('auto': see wantWeightGradTexture) or never ('off'). */
export function setConvWeightGradTexture(mode: 'auto' | 'off'): void {
  dwTexture = mode;
}

let dyTexture: 'auto' | 'off' = 'auto';

/** Tests and benchmarks: let the weight-grad read dy from a flat texture copy where it can ('auto'), or never. */
export function setConvWeightGradDyTexture(mode: 'auto' | 'off'): void {
  dyTexture = mode;
}

/**
 * Whether the weight-grad reads dy from a flat texture copy (dyTextureSpec): 16-lane subgroup-broadcast
 * variants (texture variants crash lavapipe at 8 lanes), output planes of a multiple of 4 pixels, and
 * a copy that fits a texture.
 */
function wantDyTexture(v: GemmVariant, dy: Tensor, g: ConvGeometry): boolean {
  return dyTexture === 'auto' && v.family === 'bcast' && v.subgroup >= 16 && (g.OH * g.OW) % 4 === 0 && flatTextureLayout(dy.size) !== null;
}

/**
 * The width of a texture that wraps a flat run of texels into rows: a power of 2 from 64 texels (1 KiB
 * rows, a multiple of the copy's 256-byte row pitch), doubled until `rowsAt(width)` rows fit the
 * device (or the width reaches its limit).
 */
function wrapWidth(rowsAt: (width: number) => number): number {
  const maxDim = deviceContext().limits.maxTextureDimension2D;
  let width = 64;
  while (rowsAt(width) > maxDim && width < maxDim) width *= 2;
  return width;
}

/** The texture of flatTexture for `size` elements: rows of `width` texels (wrapWidth), or null if it cannot fit. */
function flatTextureLayout(size: number): { width: number; rows: number } | null {
  const texels = Math.ceil(size / 4);
  const width = wrapWidth((w) => Math.ceil(texels / w));
  const rows = Math.ceil(texels / width);
  return rows <= deviceContext().limits.maxTextureDimension2D ? { width, rows } : null;
}

/**
 * t's elements (from its offset) in an rgba32uint texture, flat: texel i holds elements 4i .. 4i + 3,
 * in rows of a power-of-2 width (flatTextureLayout; 1 KiB rows or more, a multiple of the copy's
 * 256-byte row pitch). Copied straight from t's buffer where it holds the whole rows from a 16-byte
 * aligned start, else through a staging buffer; texels past t's end are never read.
 */
function flatTexture(t: Tensor, op: string): GPUTexture {
  const { width, rows } = flatTextureLayout(t.size)!;
  const texture = acquireTexture(width, rows, op);
  const buf = t.buffer(op);
  if (t.offset % 4 === 0 && buf.size >= t.offset * 4 + rows * width * 16) {
    copyBufferToTexture(buf, width * 16, texture, t.offset * 4);
  } else {
    const staging = empty([rows * width * 4], 'float32', op);
    copyBuffer(buf, t.offset * 4, staging.buffer(op), 0, t.size * 4);
    copyBufferToTexture(staging.buffer(op), width * 16, texture);
    staging.dispose();
  }
  return texture;
}

/**
 * Whether the weight-grad reads x from a texture copy (DW_TEX_SPEC): stride 1 with OH = H and OW = W
 * (so 4 consecutive output pixels of an image read 4 consecutive elements of each input plane), x's 4
 * copies within one storage binding (the staging buffer; 8.4M elements on lavapipe, e.g. not a batch of
 * 256 28x28x64 activations), and a subgroup-broadcast variant at 16 lanes and up (lavapipe crashes on
 * texture kernels at 8).
 */
function wantWeightGradTexture(v: GemmVariant, x: Tensor, g: ConvGeometry): boolean {
  if (dwTexture === 'off' || v.family !== 'bcast' || v.subgroup < 16) return false;
  const { perCopy } = shiftedCopiesLayout(x.size);
  return g.sh === 1 && g.sw === 1 && g.OH === g.H && g.OW === g.W && 64 * perCopy <= deviceContext().limits.maxStorageBufferBindingSize;
}

/**
 * The texture of weightGradTexture for `size` elements: rows of `width` texels (wrapWidth), and
 * perCopy texels a copy (the size plus 4 leading elements, in whole rows).
 */
function shiftedCopiesLayout(size: number): { width: number; perCopy: number } {
  const width = wrapWidth((w) => 4 * Math.ceil((size + 4) / (4 * w)));
  return { width, perCopy: Math.ceil((size + 4) / (4 * width)) * width };
}

/**
 * x's elements (from its offset) in an rgba32uint texture as 4 copies, each shifted so that any 4
 * consecutive elements are one texel of one copy: copy s (s = 0..3) holds x's element j - 4 + s at
 * element j, in perCopy texels (shiftedCopiesLayout). The copies are made by buffer copies into a
 * staging buffer (4-byte offsets, 64 * perCopy bytes), which one copy moves into the texture.
 */
function weightGradTexture(x: Tensor, op: string): { texture: GPUTexture; perCopy: number } {
  const { width, perCopy } = shiftedCopiesLayout(x.size);
  const staging = empty([4 * perCopy * 4], 'float32', op);
  const src = x.buffer(op);
  for (let sh = 0; sh < 4; sh++) copyBuffer(src, x.offset * 4, staging.buffer(op), (sh * perCopy * 4 + 4 - sh) * 4, x.size * 4);
  const texture = acquireTexture(width, (4 * perCopy) / width, op);
  copyBufferToTexture(staging.buffer(op), width * 16, texture);
  staging.dispose();
  return { texture, perCopy };
}

function asContiguous(t: Tensor): Tensor {
  return t.isContiguous ? t : contiguous(t);
}

/**
 * torch.nn.functional.conv2d(input, weight, bias, stride, padding, dilation, groups):
 * input [N, C, H, W], weight [O, C / groups, kH, kW], bias [O] or null; returns [N, O, OH, OW].
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  if (opts === null || typeof opts !== 'object') throw new Error(`${op}: options must be an object { stride, padding, dilation, groups }`);
  const g = convGeometry(op, x, weight, opts);
  if (bias !== undefined && bias !== null) {
    if (!(bias instanceof Tensor)) throw new Error(`${op}: bias must be a Tensor or null`);
    bias.storage(op);
    if (bias.rank !== 1 || bias.shape[0] !== g.O) throw new Error(`${op}: bias must be [${g.O}] (one per output channel), got ${fmtShape(bias.shape)}`);
    if (bias.dtype !== 'float32') throw new Error(`${op}: bias must be float32, got ${bias.dtype}`);
  }
  void deviceContext();
  const b = bias ?? null;
  const y = noGrad(() => {
    const xc = asContiguous(x);
    const wc = asContiguous(weight);
    const bc = b ? asContiguous(b) : null;
    const out = convForward(xc, wc, bc, g);
    if (xc !== x) xc.dispose();
    if (wc !== weight) wc.dispose();
    if (bc && bc !== b) bc.dispose();
    return out;
  });
  const inputs = b ? [x, weight, b] : [x, weight];
  return record(op, inputs, y, [x, weight], (gy, needs, [sx, sw]) => {
    const gc = asContiguous(gy);
    let dx: Tensor | null = null;
    let dw: Tensor | null = null;
    let db: Tensor | null = null;
    if (needs[0]) {
      const wcc = asContiguous(sw);
      dx = convInputGrad(gc, wcc, g);
      if (wcc !== sw) wcc.dispose();
    }
    if (needs[1]) {
      const xcc = asContiguous(sx);
      dw = convWeightGrad(gc, xcc, g);
      if (xcc !== sx) xcc.dispose();
    }
    if (b && needs[2]) db = sum(gc, [0, 2, 3]);
    if (gc !== gy) gc.dispose();
    return b ? [dx, dw, db] : [dx, dw];
  });
}

// ---- naive reference kernels (benchmarks) ---------------------------------------------------------

const NAIVE: Record<'fwd' | 'dx' | 'dw', { bindings: string; body: string }> = {
  fwd: {
    bindings: '@group(0) @binding(4) var<storage, read> bias: array<f32>;',
    body: `
  let ow = i % p.OW;
  let oh = (i / p.OW) % p.OH;
  let o = (i / (p.OW * p.OH)) % p.O;
  let n = i / (p.OW * p.OH * p.O);
  let g = o / Og;
  var s = select(0.0, bias[o], p.hasBias != 0u);
  for (var c = 0u; c < Cg; c = c + 1u) {
    for (var kh = 0u; kh < p.KH; kh = kh + 1u) {
      let ih = i32(oh * p.sh + kh * p.dh) - i32(p.ph);
      if (ih < 0 || ih >= i32(p.H)) { continue; }
      for (var kw = 0u; kw < p.KW; kw = kw + 1u) {
        let iw = i32(ow * p.sw + kw * p.dw) - i32(p.pw);
        if (iw < 0 || iw >= i32(p.W)) { continue; }
        s = s + a[((n * p.C + g * Cg + c) * p.H + u32(ih)) * p.W + u32(iw)] * b[((o * Cg + c) * p.KH + kh) * p.KW + kw];
      }
    }
  }
  out[i] = s;`,
  },
  dx: {
    bindings: '',
    body: `
  let iw = i % p.W;
  let ih = (i / p.W) % p.H;
  let c = (i / (p.W * p.H)) % p.C;
  let n = i / (p.W * p.H * p.C);
  let g = c / Cg;
  var s = 0.0;
  for (var o = g * Og; o < (g + 1u) * Og; o = o + 1u) {
    for (var kh = 0u; kh < p.KH; kh = kh + 1u) {
      let th = i32(ih + p.ph) - i32(kh * p.dh);
      if (th < 0 || th % i32(p.sh) != 0) { continue; }
      let oh = u32(th) / p.sh;
      if (oh >= p.OH) { continue; }
      for (var kw = 0u; kw < p.KW; kw = kw + 1u) {
        let tw = i32(iw + p.pw) - i32(kw * p.dw);
        if (tw < 0 || tw % i32(p.sw) != 0) { continue; }
        let ow = u32(tw) / p.sw;
        if (ow >= p.OW) { continue; }
        s = s + a[((n * p.O + o) * p.OH + oh) * p.OW + ow] * b[((o * Cg + c - g * Cg) * p.KH + kh) * p.KW + kw];
      }
    }
  }
  out[i] = s;`,
  },
  dw: {
    bindings: '',
    body: `
  let kw = i % p.KW;
  let kh = (i / p.KW) % p.KH;
  let c = (i / (p.KW * p.KH)) % Cg;
  let o = i / (p.KW * p.KH * Cg);
  let g = o / Og;
  var s = 0.0;
  for (var n = 0u; n < p.N; n = n + 1u) {
    for (var oh = 0u; oh < p.OH; oh = oh + 1u) {
      let ih = i32(oh * p.sh + kh * p.dh) - i32(p.ph);
      if (ih < 0 || ih >= i32(p.H)) { continue; }
      for (var ow = 0u; ow < p.OW; ow = ow + 1u) {
        let iw = i32(ow * p.sw + kw * p.dw) - i32(p.pw);
        if (iw < 0 || iw >= i32(p.W)) { continue; }
        s = s + a[((n * p.O + o) * p.OH + oh) * p.OW + ow] * b[((n * p.C + g * Cg + c) * p.H + u32(ih)) * p.W + u32(iw)];
      }
    }
  }
  out[i] = s;`,
  },
};

/**
 * The naive reference conv kernels (benchmarks): 'fwd' computes conv2d(x, w, b), 'dx' the input
 * gradient from (dy, w), 'dw' the weight gradient from (dy, x). Contiguous operands, no autograd.
 */
export function convNaive(kind: 'fwd' | 'dx' | 'dw', g: ConvGeometry, a: Tensor, b: Tensor, bias: Tensor | null = null): Tensor {
  const op = `conv2d.naive.${kind}`;
  for (const t of [a, b]) if (!t.isContiguous || t.offset !== 0) throw new Error(`${op}: operands must be contiguous`);
  const shape = kind === 'fwd' ? [g.N, g.O, g.OH, g.OW] : kind === 'dx' ? [g.N, g.C, g.H, g.W] : [g.O, g.Cg, g.KH, g.KW];
  const out = empty(shape, 'float32', op);
  const total = out.size;
  const k = kernel(`conv_naive:${kind}`, () => renderTemplate(shaderSource('conv_naive'), { BINDINGS: NAIVE[kind].bindings, BODY: NAIVE[kind].body }));
  const [gx, gy] = groups1d(Math.ceil(total / 64));
  const params = new Uint32Array([g.N, g.C, g.H, g.W, g.O, g.OH, g.OW, g.KH, g.KW, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.G, total, gx * 64, bias ? 1 : 0, 0]);
  const bufs = [out.buffer(op), a.buffer(op), b.buffer(op)];
  if (kind === 'fwd') bufs.push((bias ?? b).buffer(op));
  if (total > 0) dispatch(k, bufs, params, [gx, gy]);
  return out;
}
