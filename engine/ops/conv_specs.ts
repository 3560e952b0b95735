// The GEMM specs of conv2d's products (engine/ops/matmul.ts GemmSpec: how each product's A and B
// elements are loaded and C stored, inside the shared GEMM template shaders/matmul_gemm.wgsl):
//   FWD_*   forward        rows = output pixels (n, oh, ow), columns = output channels, K = (c, kh, kw)
//                          or (kh, kw, c) on channels-last copies of x
//   DX_*    input-grad     rows = input pixels of one stride phase, columns = input channels,
//                          K = (o, taps of that phase) or (taps, o) on channels-last copies of dy
//   DCOL_*  input-grad     dcol = dy x W (rows = output pixels, columns = (c, kh, kw)), then col2im
//   DW_*    weight-grad    rows = (c, kh, kw), columns = output channels, K = (n, oh, ow)
// Variants read operands from textures (16-lane lavapipe): *_TEX (x or dy channels-last), *_WT (the
// weight re-laid out tap-major), *_YT (dy from a flat texture), TEXF (x from a flat texture). All
// shape values are uniforms (PARAMS), so one compiled kernel per GEMM variant serves every shape.
import type { ConvGeometry } from './conv_geometry.js';
import type { GemmSpec } from './matmul.js';

const PARAMS = [
  'C', 'H', 'W', 'O', 'OH', 'OW', 'Cg', 'Og', 'KW', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw',
  'HW', 'OHW', 'KHW', 'Kg', 'invKHW', 'invKW', 'invOHW', 'invOW', 'hasBias', 'xo', 'wo', 'yo', 'bo',
  'pa', 'pb', 'Wa', 'HaWa', 'kh0', 'kw0', 'stH', 'stW', 'TW', 'THW', 'dOh', 'dOw', 'offh0', 'offw0', 'invTHW', 'invTW', 'invCg', 'invOg', 'Kgp',
  'HWp', 'invHWp', 'txShift', 'txLast', 'ytShift',
] as const;
type ParamName = (typeof PARAMS)[number];

export const f32bits = (v: number) => new Uint32Array(new Float32Array([v]).buffer)[0];
export const i32bits = (v: number) => v >>> 0;

export function convParams(g: ConvGeometry, extra: Partial<Record<ParamName, number>>): number[] {
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
 * (by default texel (channel / 4, pixel n*h*w + ih*w + iw), pix = n*h*w; `texel` addresses another
 * layout from `row` and `c`): 0 outside [0, h) x [0, w).
 */
const maskedTexel4 = (fn: string, tex: string, h: string, w: string, texel = 'vec2<u32>(c / 4u, row)') => `
fn ${fn}(pix: u32, c: u32, ih: i32, iw: i32) -> vec4<f32> {
  let ok = u32(ih) < ${h} && u32(iw) < ${w};
  let row = pix + u32(clamp(ih, 0, i32(${h}) - 1)) * ${w} + u32(clamp(iw, 0, i32(${w}) - 1));
  return select(vec4<f32>(0.0), bitcast<vec4<f32>>(${tex}_texel(${texel})), ok);
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

export const FWD_SPEC: GemmSpec = {
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
export const FWD_NHWC_SPEC: GemmSpec = {
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
export const FWD_NHWC_TEX_SPEC: GemmSpec = {
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
export const FWD_NHWC_TEX_WT_SPEC: GemmSpec = {
  ...FWD_NHWC_TEX_SPEC,
  key: 'conv.fwd.nhwc.tex.wt',
  colPrep: [0, 1, 2, 3].map((i) => `let u_wb${i} = (u_g * p.Og + nc${i}) * p.Kg;`).join('\n'),
  loadB: (_q, k) => `vec4<f32>(w[u_wb0 + ${k}], w[u_wb1 + ${k}], w[u_wb2 + ${k}], w[u_wb3 + ${k}])`,
};

/**
 * The texel holding element row * cols + c (c a multiple of 4) of a flat texture copy (flatTexture:
 * texel i = elements 4i .. 4i + 3, rows of 2^txShift texels): for channels-last operands that
 * matrixTexture cannot copy (more rows than a texture's height, or rows not 256 bytes apart).
 */
const flatTexel = (cols: string) =>
  `vec2<u32>(((row * ${cols} + c) >> 2u) & ((1u << p.txShift) - 1u), (row * ${cols} + c) >> (2u + p.txShift))`;

/** A channels-last texture spec reading its operand (`fn` from `tex`, h x w pixels, `cols` channels) from a flat copy. */
const flatTextureSpec = (spec: GemmSpec, fn: string, tex: string, h: string, w: string, cols: string): GemmSpec => ({
  ...spec,
  key: spec.key.replace('.tex', '.texf'),
  functions: maskedTexel4(fn, tex, h, w, flatTexel(cols)),
});

/** FWD_NHWC_TEX_SPEC reading x from a flat texture copy of its channels-last rows (large batches, channels not a multiple of 64). */
export const FWD_NHWC_TEXF_SPEC = flatTextureSpec(FWD_NHWC_TEX_SPEC, 'ldx4', 'xt', 'p.H', 'p.W', 'p.C');

/** FWD_NHWC_TEX_WT_SPEC on a flat copy of x, as FWD_NHWC_TEXF_SPEC; also the stem with its 3 channels padded to 4 (paddedForward). */
export const FWD_NHWC_TEXF_WT_SPEC = flatTextureSpec(FWD_NHWC_TEX_WT_SPEC, 'ldx4', 'xt', 'p.H', 'p.W', 'p.C');

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

export const DX_SPEC: GemmSpec = {
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
export const DX_NHWC_SPEC: GemmSpec = {
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
export const DX_NHWC_TEX_SPEC: GemmSpec = {
  ...DX_NHWC_SPEC,
  key: 'conv.dx.nhwc.tex',
  bindings: ['var<storage, read_write> dx: array<f32>', 'var yt: texture_2d<u32>', 'var<storage, read> w: array<f32>'],
  functions: maskedTexel4('ldy4', 'yt', 'p.OH', 'p.OW'),
};

/**
 * DX_NHWC_TEX_SPEC at stride 1 with one group, B read from the weight re-laid out as [T][O][Cg]
 * (weightTapsLast 'toc'): row k = (tap, o) of a plain K x N matrix, copied straight into a texture.
 */
export const DX_NHWC_TEX_WT_SPEC: GemmSpec = {
  ...DX_NHWC_TEX_SPEC,
  key: 'conv.dx.nhwc.tex.wt',
  colPrep: '',
  loadB: (_q, k) => `vec4<f32>(w[${k} * p.Cg + nc0], w[${k} * p.Cg + nc1], w[${k} * p.Cg + nc2], w[${k} * p.Cg + nc3])`,
};

/** DX_NHWC_TEX_SPEC and DX_NHWC_TEX_WT_SPEC reading dy from a flat texture copy of its channels-last rows. */
export const DX_NHWC_TEXF_SPEC = flatTextureSpec(DX_NHWC_TEX_SPEC, 'ldy4', 'yt', 'p.OH', 'p.OW', 'p.O');
export const DX_NHWC_TEXF_WT_SPEC = flatTextureSpec(DX_NHWC_TEX_WT_SPEC, 'ldy4', 'yt', 'p.OH', 'p.OW', 'p.O');

export const DW_SPEC: GemmSpec = {
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
export const DW_TEX_SPEC: GemmSpec = {
  ...DW_SPEC,
  key: 'conv.dw.tex',
  bindings: ['var<storage, read_write> dwp: array<f32>', 'var xt: texture_2d<u32>', 'var<storage, read> dy: array<f32>'],
  functions: `
fn xtexel(t: u32) -> vec4<f32> {
  return bitcast<vec4<f32>>(xt_texel(vec2<u32>(t & ((1u << p.txShift) - 1u), t >> p.txShift)));
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
export const DCOL_SPEC: GemmSpec = {
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
export function dyTextureSpec(spec: GemmSpec): GemmSpec {
  return {
    ...spec,
    key: `${spec.key}.yt`,
    bindings: [spec.bindings[0], spec.bindings[1], 'var yt: texture_2d<u32>'],
    functions: `${spec.functions ?? ''}
// dy[n][oc][pix .. pix + 3] (pix a multiple of 4)
fn dyt4(n: u32, oc: u32, pix: u32) -> vec4<f32> {
  let t = ((n * p.O + oc) * p.OHW + pix) >> 2u;
  return bitcast<vec4<f32>>(yt_texel(vec2<u32>(t & ((1u << p.ytShift) - 1u), t >> p.ytShift)));
}`,
    colPrep: '',
    loadB: (q) => `vec4<f32>(${[0, 1, 2, 3].map((i) => `dyt4(u_n${q}, u_g * p.Og + nc${i}, u_pix${q} & ~3u)[u_pix${q} & 3u]`).join(', ')})`,
    loadBk4: (col) => `dyt4(u_n0, u_g * p.Og + ${col}, u_pix0)`,
  };
}

export const DW_YT_SPEC = dyTextureSpec(DW_SPEC);
export const DW_TEX_YT_SPEC = dyTextureSpec(DW_TEX_SPEC);

/**
 * DCOL_SPEC reading dy from an rgba32uint texture copy of its channels-last rows (texel (o / 4, pixel
 * n*OH*OW + oh*OW + ow); one fetch per lane for 4 k) and the weight as it is stored: w[o][(c, kh, kw)]
 * is B row-major K x N (k = o), which a texture variant copies straight into a texture. No weight
 * re-layout at all; groups = 1, O a multiple of 64 (see useCol2im and convInputGrad).
 */
export const DCOL_TEX_SPEC: GemmSpec = {
  ...DCOL_SPEC,
  key: 'conv.dcol.tex',
  bindings: ['var<storage, read_write> dcol: array<f32>', 'var yt: texture_2d<u32>', 'var<storage, read> w: array<f32>'],
  rowPrep: (j, row) => `let u_yr${j} = p.pa * p.OHW + ${row};`,
  kPrep: (q, k) => `let u_wk${q} = p.wo + ${k} * p.Kg;`,
  loadA4: (j, k) => `bitcast<vec4<f32>>(yt_texel(vec2<u32>(${k} / 4u, u_yr${j})))`,
  loadA: (j, _q, k) => `bitcast<vec4<f32>>(yt_texel(vec2<u32>(${k} / 4u, u_yr${j})))[${k} % 4u]`,
};

/** DCOL_TEX_SPEC reading dy from a flat texture copy of its channels-last rows (flatTexel; k = o). */
export const DCOL_TEXF_SPEC: GemmSpec = {
  ...DCOL_TEX_SPEC,
  key: 'conv.dcol.texf',
  functions: `fn dyFlat(row: u32, c: u32) -> vec4<f32> { return bitcast<vec4<f32>>(yt_texel(${flatTexel('p.O')})); }`,
  loadA4: (j, k) => `dyFlat(u_yr${j}, ${k})`,
  loadA: (j, _q, k) => `dyFlat(u_yr${j}, ${k} - ${k} % 4u)[${k} % 4u]`,
};
