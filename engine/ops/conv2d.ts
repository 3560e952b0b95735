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
//                (partials summed) to fill a GPU, or on a CPU driver to spread the tiles evenly
//                over its threads and keep each f32 sum short (chooseSplits); at 16 lanes and
//                stride 1 with OH = H, OW = W it reads x from 4 shifted texture copies (DW_TEX_SPEC)
// Groups are the GEMM's batch dimension. All shape values are uniforms, so one compiled kernel per
// GEMM variant serves every conv shape. Kernels larger than 1x1 read channels-last copies of x (forward)
// and dy (input-grad) when channels per group are multiples of 4, texture variants from a texture copy
// of them (channelsLastTexture; the stem's 3 channels are padded to 4 for it: paddedForward); on CPU
// drivers some unpadded 1x1 products run as batched matmuls instead (see pointwise()).
// This file holds the op, its gradient and the choice of route and variant for each product; beside
// it: conv_geometry.ts (argument checks, output size), conv_specs.ts (the GEMM specs: how each
// product loads and stores), conv_layouts.ts (channels-last and texture copies of the operands),
// conv_col2im.ts (the dcol input-grad's second half) and conv_naive.ts (the benchmarks' reference).
import { noGrad } from '../autograd.js';
import { clearBuffer } from '../commands.js';
import { deviceContext } from '../device.js';
import { narrowCpuSubgroups, texturePanelsAt } from '../kernels.js';
import { releaseTexture, textureView } from '../memory.js';
import { checkOptions, optionKeys } from '../options.js';
import { fmtShape } from '../shape.js';
import { empty, record, Tensor } from '../tensor.js';
import { chooseGemmVariant, fitVariant, isTuned, laneColumns16, useBcast, type GemmOp, type GemmVariant } from '../tune.js';
import { col2im } from './conv_col2im.js';
import { convGeometry, gcd, type Conv2dOptions, type ConvGeometry } from './conv_geometry.js';
import { flatTextureLayout } from './flat_texture.js';
import { channelsLastCopy, channelsLastPadded, flatTexture, shiftedCopiesLayout, weightGradTexture, weightRelayout, weightTapsLast, weightTapsLastPadded } from './conv_layouts.js';
import {
  convParams, DCOL_SPEC, DCOL_TEX_SPEC, DCOL_TEXF_SPEC, DW_SPEC, DW_TEX_SPEC, DW_TEX_YT_SPEC, DW_YT_SPEC, DX_NHWC_SPEC, DX_NHWC_TEX_SPEC, DX_NHWC_TEX_WT_SPEC, DX_NHWC_TEXF_SPEC, DX_NHWC_TEXF_WT_SPEC, DX_SPEC,
  f32bits, FWD_NHWC_SPEC, FWD_NHWC_TEX_SPEC, FWD_NHWC_TEX_WT_SPEC, FWD_NHWC_TEXF_SPEC, FWD_NHWC_TEXF_WT_SPEC, FWD_SPEC, i32bits,
} from './conv_specs.js';
import { copiesAsTexture, gemm, gemmTile, matmulProduct, matrixTexture, planGemm, readsTextures, sumSplits, type BOperand, type GemmDims } from './matmul.js';
import { sum } from './reduce.js';
import { add, copy } from './elementwise.js';
import { contiguous, reshape } from './shape.js';

export { convGeometry, type Conv2dOptions, type ConvGeometry } from './conv_geometry.js';
export { setConvCol2imPhased } from './conv_col2im.js';
export { setConvNhwcKernel, setConvWeightRelayout } from './conv_layouts.js';
export { convNaive } from './conv_naive.js';

// ---- variants ------------------------------------------------------------------------------------

let forced: Partial<Record<GemmOp, GemmVariant>> = {};
let dxPath: 'auto' | 'phase' | 'col2im' = 'auto';

/** Tests and benchmarks: force the input-gradient formulation ('auto' picks by channels per group). */
export function setConvInputGradPath(path: 'auto' | 'phase' | 'col2im'): void {
  dxPath = path;
}

const dxPathCounts = { phase: 0, col2im: 0 };

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
 * Tests and benchmarks: 'on' runs every unpadded 1x1 forward and weight-grad and every unstrided 1x1
 * input-grad as batched matmuls, 'off' none (implicit GEMMs, like every other kernel size), 'auto' where
 * it measured faster.
 */
export function setConvPointwise(mode: 'auto' | 'on' | 'off'): void {
  pointwiseRoute = mode;
}

/**
 * Unpadded 1x1 convolutions can run as batched matmuls over NCHW's channel-major pixel rows: forward
 * y[n][g] = W[g] (Og x Cg) @ x[n][g] (Cg x OH*OW), subsampling a strided x first; input-grad
 * dx[n][g] = W[g]^T @ dy[n][g] when unstrided (a strided one would scatter into zeros), with W^T a small
 * plain copy. The pixel rows are then B, a plain K x N matrix that texture variants copy straight into
 * a texture (a texture row per pixel row when a row is a multiple of 64 pixels, else flat when it is
 * one of 4, else pack), where the implicit GEMM gathers one pixel per lane from channels H*W apart.
 * 'auto' takes the route where interleaved A/Bs measured it faster:
 * - 16-lane lavapipe, OH*OW % 64 == 0: the 1x1 expand forward 1.5-1.7x, the expand and reduce
 *   input-grads 1.15x and 1.4x; 28x28 and smaller outputs (no texture copy) up to 1.2x slower;
 * - 8-lane lavapipe (storage-texture panels): forwards from 128 output pixels, input-grads from 256.
 *   Over ResNet-50's 1x1 shapes at batch 2 (the A/B of `node dist/bench/ab_shapes.js pointwise`, 3 runs
 *   of 5 rounds, Zen 3, after the flat copies and the channels-last implicit GEMMs): forwards at 56x56 1.32-1.56x, 28x28 1.07-1.64x, 14x14
 *   1.08-1.28x, 7x7 0.67-0.76x; input-grads at 56x56 1.16-1.62x, 28x28 1.10-1.45x (128 -> 512, dy copied
 *   flat, 1.29-1.45x), 14x14 0.92-1.04x, 7x7 0.55-0.66x.
 * The weight-grad (pointwiseWeightGrad) at 8 lanes from 196 output pixels, a multiple of 4.
 */
function pointwise(g: ConvGeometry, kind: 'fwd' | 'dx' | 'dw'): boolean {
  if (pointwiseRoute === 'off' || g.KH !== 1 || g.KW !== 1 || g.ph !== 0 || g.pw !== 0 || g.N * g.G > 65535 || !useBcast()) return false;
  if (kind === 'dx' && (g.sh !== 1 || g.sw !== 1)) return false;
  if (pointwiseRoute === 'on') return true;
  const P = g.OH * g.OW;
  if (deviceContext().summary.subgroupSize >= 16) return kind !== 'dw' && P % 64 === 0;
  if (kind === 'dw') return narrowCpuSubgroups() && P % 4 === 0 && P >= 196;
  return narrowCpuSubgroups() && P >= (kind === 'fwd' ? 128 : 256);
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
    return { family: 'bcast', tm: 64, ...(laneColumns16() === 8 ? { tn: 8 } : {}), wg: 1, subgroup: S, pack: true, tex: true };
  };
}

/**
 * x[:, :, ::sh, ::sw] copied into new memory (x itself when unstrided), each channel's OH*OW pixels
 * following the previous channel's: a plain [C][OH*OW] matrix per image that the matmul copies into a
 * texture (a row per channel where planes are a multiple of 64 pixels, else flat where they are one of
 * 4) or packs. x is contiguous NCHW, as conv2d makes it.
 */
function subsample(x: Tensor, g: ConvGeometry): Tensor {
  if (g.sh === 1 && g.sw === 1) return x;
  const v = x.view([g.N, g.C, g.OH, g.OW], [g.C * g.H * g.W, g.H * g.W, g.sh * g.W, g.sw], x.offset);
  const c = copy(v);
  v.dispose();
  return c;
}

function pointwiseForward(x: Tensor, w: Tensor, b: Tensor | null, g: ConvGeometry): Tensor {
  const xs = subsample(x, g);
  const P = g.OH * g.OW;
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
 * The 1x1 weight-grad as batched matmuls: dW[g] = sum over n of dy[n][g] (Og x P) @ x[n][g]^T (P x Cg),
 * x subsampled first when strided. Both operands are plain (dy's pixel rows, and x's read transposed),
 * so texture variants copy them as they are (a texture row each, or flat) where the implicit GEMM packs
 * dy; the N products are then summed (N * O * Cg floats, small). At 8 lanes over ResNet-50's ten 1x1
 * shapes at batch 2 (`node dist/bench/ab_shapes.js pointwise 5`, Zen 3) 1.15-1.76x as fast from 14x14
 * outputs up, the strided ones included (1.57x / 1.46x), 0.70-0.73x at 7x7 (49 pixels a row: packed);
 * at batch 8 (a scratch A/B) 1.13-1.81x at 28x28 and 14x14.
 */
function pointwiseWeightGrad(dy: Tensor, x: Tensor, g: ConvGeometry): Tensor {
  const xs = subsample(x, g);
  const P = g.OH * g.OW;
  const a = dy.view([g.N, g.G, g.Og, P], [g.O * P, g.Og * P, P, 1], dy.offset);
  const bt = xs.view([g.N, g.G, P, g.Cg], [g.C * P, g.Cg * P, 1, P], xs.offset);
  const prod = matmulProduct(a, bt, pointwiseVariant('conv.dw')); // [N, G, Og, Cg]
  a.dispose();
  bt.dispose();
  if (xs !== x) xs.dispose();
  const total = g.N > 1 ? sum(prod, 0) : prod;
  const dw = reshape(total, [g.O, g.Cg, 1, 1]);
  if (total !== prod) total.dispose();
  prod.dispose();
  return dw;
}

/** The longest K a split sums on a CPU driver: longer f32 sums lose accuracy (2.2M terms: 1.6e-5 of the largest). */
const CPU_K_PER_SPLIT = 8192;

/**
 * K-splits so that the grid keeps the machine busy, with at least 256 k per split. On GPUs about 256
 * workgroups (2 per multiprocessor): on the H200 that made the weight-grad rows with few output tiles
 * 1.4-2.1x faster (bench/gpu/h200-bench-gemm*.txt). A CPU driver gains nothing from more workgroups:
 * lavapipe hands each of its T threads one contiguous T-th of a dispatch's workgroups (lp_cs_tpool.c),
 * and a split costs its partial outputs' stores and their sum. There K is split into pieces of at most
 * CPU_K_PER_SPLIT, and further only to spread the tiles evenly over the threads (see cpuSplits);
 * against the previous target of 32 workgroups (setConvWeightGradSplits('fill')) that ran the bench's
 * 1x1 expand, stage-3 and downsample weight-grads 1.05-1.13x as fast, stage 2 and the stem level
 * (`ab.js dw-splits`; bench/NOTES.md, "How lavapipe spreads a dispatch").
 */
function chooseSplits(v: GemmVariant, M: number, N: number, K: number, batch: number): number {
  const { rows, cols } = gemmTile(fitVariant(v, M));
  const tiles = Math.ceil(M / rows) * Math.ceil(N / cols) * batch;
  const most = Math.max(1, Math.min(Math.floor(K / 256), 64));
  const threads = deviceContext().summary.driverThreads;
  if (threads > 0 && cpuSplitRule === 'even') return cpuSplits(tiles, threads, Math.min(Math.ceil(K / CPU_K_PER_SPLIT), most), most);
  const want = threads > 0 ? 32 : 256;
  if (tiles >= want) return 1;
  return Math.min(Math.ceil(want / tiles), most);
}

/**
 * Splits for `tiles` output tiles on `threads` threads that each take an equal share of the workgroups:
 * `least` (what accuracy needs) when that spreads them evenly or gives each thread 4 or more, else the
 * fewest in least .. least + threads - 1 (at most `most`) that spread them best.
 */
export function cpuSplits(tiles: number, threads: number, least: number, most: number): number {
  const n = tiles * least;
  if (n % threads === 0 || n >= 4 * threads) return least;
  const use = (s: number) => (tiles * s) / (threads * Math.ceil((tiles * s) / threads));
  let best = least;
  for (let s = least + 1; s <= Math.min(least + threads - 1, most); s++) if (use(s) > use(best) + 1e-9) best = s;
  return best;
}

let cpuSplitRule: 'even' | 'fill' = 'even';

/**
 * Tests and benchmarks: on a CPU driver, split the weight-grad's K only to spread its tiles evenly over
 * the driver's threads ('even'), or until the grid has 32 workgroups ('fill', the previous rule).
 */
export function setConvWeightGradSplits(rule: 'even' | 'fill'): void {
  cpuSplitRule = rule;
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
 * fwd-nhwc`). At 8 lanes the channels-last forward stayed faster at 98 pixels (1.08x), and 1x1 convs
 * that are not matmuls (pointwise) take it too: profiled at batch 2, the 1x1/2 downsample's input-grad
 * 24.5 / 25.3 ms against 35.4 / 37.9 (dy's copy 3.8 ms included), 1x1 input-grads at 28x28 (128 <- 512)
 * and 14x14 (256 <- 1024) 13.0-14.4 against 14.8-21.4, the 512 -> 2048 forward at 7x7 15.2-15.3
 * against 19.8-20.1 and its input-grad 15.4-19.2 against 23.8-30.9.
 */
export function setConvChannelsLast(mode: 'auto' | 'on' | 'off', products: 'both' | 'fwd' | 'dx' = 'both'): void {
  if (products !== 'dx') channelsLast.fwd = mode;
  if (products !== 'fwd') channelsLast.dx = mode;
}

function wantChannelsLast(kind: 'fwd' | 'dx', g: ConvGeometry): boolean {
  const mode = channelsLast[kind];
  const fewRows = kind === 'fwd' && g.N * g.OH * g.OW <= 256 && deviceContext().summary.subgroupSize >= 16;
  return mode === 'on' || (mode === 'auto' && (g.KH * g.KW > 1 || narrowCpuSubgroups()) && !fewRows);
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
  const xl = channelsLastPadded(x, Cp);
  const xf = flatTexture(xl, op);
  xl.dispose();
  // the weight tap-major with its channels padded: [O][T][Cp], read as B stored N x K
  const T = g.KH * g.KW;
  const wt = weightTapsLastPadded(w, g, Cp);
  const dims: GemmDims = { M: g.N * g.OH * g.OW, N: g.Og, K: Cp * T, batch: 1, store4: (g.OH * g.OW) % 4 === 0 };
  const wB: BOperand = { binding: 2, offset: 0, layout: 'nk', batchRows: 0 };
  const params = convParams(gp, { hasBias: b ? 1 : 0, wo: 0, bo: b ? b.offset : 0, txShift: Math.log2(xf.width) });
  gemm(FWD_NHWC_TEXF_WT_SPEC, v, [y.buffer(op), textureView(xf), wt.buffer(op), b ? b.buffer(op) : wt.buffer(op)], dims, params, undefined, wB);
  wt.dispose();
  releaseTexture(xf);
}

let flatOperands: 'auto' | 'off' = 'auto';
let flatOperandCopies = 0;

/**
 * Tests and benchmarks: 'off' leaves channels-last operands that matrixTexture cannot copy (more
 * pixels than a texture's height, or channels not a multiple of 64) in their buffers, as before flat
 * copies; 'auto' copies them flat into a texture (channelsLastTexture). Measured at 8 lanes, batch 32,
 * 64 channels at 28x28 (25088 pixels): see bench/NOTES.md, "8 lanes, late night" (Channels-last operands copied flat).
 */
export function setConvFlatOperands(mode: 'auto' | 'off'): void {
  flatOperands = mode;
}

/** How many channels-last operands were copied flat into textures since the process started. */
export function convFlatOperandCopies(): number {
  return flatOperandCopies;
}

/** Whether channelsLastTexture can copy a contiguous channels-last operand of rows x cols. */
function channelsLastTextureFits(rows: number, cols: number): boolean {
  return copiesAsTexture(0, rows, cols) || (flatOperands === 'auto' && cols % 4 === 0 && flatTextureLayout(rows * cols) !== null);
}

/**
 * A texture copy of a channels-last operand (rows x cols, contiguous): as a matrix (texel (c / 4,
 * row)) where matrixTexture can copy it, else flat (texel (row * cols + c) / 4, rows of 2^shift
 * texels; the TEXF specs), or null where neither fits (channelsLastTextureFits).
 */
function channelsLastTexture(t: Tensor, rows: number, cols: number, op: string): { texture: GPUTexture; flatShift: number | null } | null {
  const matrix = matrixTexture(t.buffer(op), t.offset, rows, cols, 'x', op);
  if (matrix) return { texture: matrix, flatShift: null };
  if (!channelsLastTextureFits(rows, cols)) return null;
  flatOperandCopies++;
  const texture = flatTexture(t, op);
  return { texture, flatShift: Math.log2(texture.width) };
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
    const bias = b ? b.buffer(op) : w.buffer(op);
    // texture variants read x from a texture copy of its N*H*W x C rows (a matrix, else flat) where one fits
    const xt = readsTextures(v) ? channelsLastTexture(xl, g.N * g.H * g.W, g.C, op) : null;
    const flat = xt !== null && xt.flatShift !== null;
    const params = convParams(g, { hasBias: b ? 1 : 0, wo: w.offset, bo: b ? b.offset : 0, txShift: xt?.flatShift ?? 0 });
    if (xt) {
      // the weight re-laid out tap-major is a plain N x K operand, copied straight into a texture too
      const wt = weightRelayout() && w.offset % 4 === 0 ? weightTapsLast(w, g, 'otc') : null;
      if (wt) {
        const wB: BOperand = { binding: 2, offset: 0, layout: 'nk', batchRows: g.G > 1 ? g.Og : 0 };
        const pw = convParams(g, { hasBias: b ? 1 : 0, wo: 0, bo: b ? b.offset : 0, txShift: xt.flatShift ?? 0 });
        gemm(flat ? FWD_NHWC_TEXF_WT_SPEC : FWD_NHWC_TEX_WT_SPEC, v, [y.buffer(op), textureView(xt.texture), wt.buffer(op), bias], dims, pw, undefined, wB);
        wt.dispose();
      } else {
        gemm(flat ? FWD_NHWC_TEXF_SPEC : FWD_NHWC_TEX_SPEC, v, [y.buffer(op), textureView(xt.texture), w.buffer(op), bias], dims, params);
      }
      releaseTexture(xt.texture);
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

/** Taps of one stride phase along one axis: first tap, step, count, and the output offset. */
interface PhaseTaps {
  k0: number;
  step: number;
  T: number;
  off0: number;
  dO: number;
}

function phaseTaps(a: number, s: number, p: number, d: number, K: number): PhaseTaps {
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
  if (pointwise(g, kind)) return 'matmul';
  return kind === 'fwd' ? 'conv.fwd' : kind === 'dx' ? 'conv.dx' : 'conv.dw';
}

/** The (rows, columns, K) of the main GEMM each conv product runs (what tuning keys on). */
export function convGemmDims(kind: 'fwd' | 'dx' | 'dw', g: ConvGeometry): [number, number, number] {
  const Kg = g.Cg * g.KH * g.KW;
  if (kind === 'fwd' && pointwise(g, 'fwd')) return [g.Og, g.OH * g.OW, g.Cg];
  if (kind === 'dx' && pointwise(g, 'dx')) return [g.Cg, g.OH * g.OW, g.Og];
  if (kind === 'dw' && pointwise(g, 'dw')) return [g.Og, g.Cg, g.OH * g.OW];
  if (kind === 'fwd') return [g.N * g.OH * g.OW, g.Og, Kg];
  if (kind === 'dw') return [Kg, g.Og, g.N * g.OH * g.OW];
  if (useCol2im(g)) return [g.N * g.OH * g.OW, Kg, g.Og];
  const th = phaseTaps(0, g.sh, g.ph, g.dh, g.KH);
  const tw = phaseTaps(0, g.sw, g.pw, g.dw, g.KW);
  return [g.N * Math.ceil(g.H / g.sh) * Math.ceil(g.W / g.sw), g.Cg, Math.max(1, g.Og * th.T * tw.T)];
}

/**
 * The input-grad as dcol = dy x weight, then col2im: where the input has few channels per group (the
 * stem: its columns (c, kh, kw) fill the GEMM's column tiles where the c columns alone would not), and
 * on CPU drivers' texture GEMMs for a stride-1 product of few pixels (N * OH * OW <= 128, or <= 256 with
 * a weight of 8 MB or more, e.g. ResNet stage 5 at batch 1-5; one group, O a multiple of 64). There the
 * phase GEMM's weight re-layout, shared by at most 2 row tiles, cost about a third of the row (2.8-3.3 ms
 * of 10-12 at stage 5), while dcol's B is the weight as it is stored (copied into a texture) and dy is
 * read from a channels-last texture: interleaved at stage 5, 9.1 against 11.6 ms (`ab.js dx-col2im`); at
 * stage 4 (392 pixels) the phase GEMM stayed faster (8.5 against 9.5 ms), its col2im costing 1.1 ms.
 * At 8 lanes, with dcol's row tiles first (tune.ts rowTilesFirst), `ab_shapes.js dx-col2im-few` ran
 * dcol + col2im 1.09-1.32x as fast as the phase GEMM for 512 channels at 7x7, batches 1-5 (49-245
 * pixels), 1.07x for 256 channels at 7x7, batch 2 (98), but 0.85x for 256 at 14x14, batch 1 (196) and
 * 0.89x for 128 channels (196).
 */
function useCol2im(g: ConvGeometry): boolean {
  if (dxPath !== 'auto') return dxPath === 'col2im';
  const Kg = g.Cg * g.KH * g.KW;
  const { cols } = gemmTile(variantFor('conv.dx', g.N * g.H * g.W, g.Cg, g.Og * g.KH * g.KW));
  if (2 * g.Cg < cols && Kg > g.Cg) return true;
  const M = g.N * g.OH * g.OW;
  const few = M <= 128 || (M <= 256 && g.Og * Kg >= 1 << 21);
  return deviceContext().summary.isSoftware && g.G === 1 && g.sh === 1 && g.sw === 1 && g.KH * g.KW > 1 && few && g.O % 64 === 0 && readsTextures(variantFor('conv.dx', M, Kg, g.Og));
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
    // dy channels-last in a texture (a matrix, else flat) and the weight copied as it is (DCOL_TEX_SPEC), where they apply
    const vFirst = variantFor('conv.dx', Math.min(nChunk, g.N) * g.OH * g.OW, Kg, g.Og);
    const dyRows = g.N * g.OH * g.OW;
    const dyl = g.G === 1 && readsTextures(vFirst) && channelsLastTextureFits(dyRows, g.O) ? channelsLastCopy(dy) : null;
    const yt = dyl ? channelsLastTexture(dyl, dyRows, g.O, op) : null;
    for (let n0 = 0; n0 < g.N; n0 += nChunk) {
      const nc = Math.min(nChunk, g.N - n0);
      const M = nc * g.OH * g.OW;
      const dcol = empty([g.G, M, Kgp], 'float32', op);
      const v = variantFor('conv.dx', M, Kg, g.Og);
      const dims = { M, N: Kg, K: g.Og, batch: g.G, store4: true };
      const params = convParams(g, { wo: w.offset, yo: dy.offset, pa: n0, HaWa: M, Kgp, txShift: yt?.flatShift ?? 0 });
      if (yt && readsTextures(v)) {
        const spec = yt.flatShift !== null ? DCOL_TEXF_SPEC : DCOL_TEX_SPEC;
        gemm(spec, v, [dcol.buffer(op), textureView(yt.texture), w.buffer(op)], dims, params, undefined, { binding: 2, offset: w.offset, layout: 'kn', batchRows: 0 });
      } else {
        gemm(DCOL_SPEC, v, [dcol.buffer(op), dy.buffer(op), w.buffer(op)], dims, params);
      }
      col2im(dx, dcol, g, n0, nc, Kgp, op);
      dcol.dispose();
    }
    dyl?.dispose();
    if (yt) releaseTexture(yt.texture);
    return dx;
  }
  dxPathCounts.phase++;
  // channels-last dy for kernels larger than 1x1 (each dy pixel then feeds several taps), as the forward
  const vMain = variantFor('conv.dx', ...convGemmDims('dx', g));
  const wantNhwc = wantChannelsLast('dx', g);
  let dyl: Tensor | null = null;
  let yt: ReturnType<typeof channelsLastTexture> | undefined;
  let wtDx: Tensor | null | undefined;
  if (g.Og % 4 === 0 && wantNhwc && vMain.family !== 'tiled') {
    dyl = channelsLastCopy(dy);
  }
  const phases: { a: number; bb: number; th: PhaseTaps; tw: PhaseTaps }[] = [];
  for (let a = 0; a < Math.min(g.sh, g.H); a++) {
    for (let bb = 0; bb < Math.min(g.sw, g.W); bb++) phases.push({ a, bb, th: phaseTaps(a, g.sh, g.ph, g.dh, g.KH), tw: phaseTaps(bb, g.sw, g.pw, g.dw, g.KW) });
  }
  // phases no tap reaches (a strided 1x1's all but one) are zeros: one clear, instead of a GEMM each
  // storing zeros pixel by pixel (3 of them took 6.4 of the 1x1/2 downsample's 38 ms at 8 lanes)
  if (phases.some(({ th, tw }) => th.T * tw.T === 0)) clearBuffer(dx.buffer(op), dx.offset * 4, dx.size * 4);
  for (const { a, bb, th, tw } of phases) {
    const K = g.Og * th.T * tw.T;
    if (K === 0) continue;
    const Ha = Math.ceil((g.H - a) / g.sh);
    const Wa = Math.ceil((g.W - bb) / g.sw);
    const M = g.N * Ha * Wa;
    const v = variantFor('conv.dx', M, g.Cg, K);
    // texture variants read dy from one texture copy of its channels-last rows (a matrix, else flat), shared by the phases
    if (dyl && v.family !== 'tiled' && readsTextures(v) && yt === undefined) yt = channelsLastTexture(dyl, g.N * g.OH * g.OW, g.O, op);
    const params = convParams(g, {
      wo: w.offset, yo: dy.offset, pa: a, pb: bb, Wa, HaWa: Ha * Wa,
      kh0: th.k0, kw0: tw.k0, stH: th.step, stW: tw.step, TW: tw.T, THW: th.T * tw.T,
      dOh: th.dO, dOw: tw.dO, offh0: i32bits(th.off0), offw0: i32bits(tw.off0),
      invTHW: f32bits(1 / (th.T * tw.T)), invTW: f32bits(1 / tw.T), txShift: yt?.flatShift ?? 0,
    });
    // at stride 1 the one phase's rows are the image's pixels in order: 4 aligned ones form a vec4
    const dims = { M, N: g.Cg, K, batch: g.G, store4: g.sh === 1 && g.sw === 1 && (g.H * g.W) % 4 === 0 };
    if (dyl && v.family !== 'tiled') {
      if (readsTextures(v) && yt) {
        const flat = yt.flatShift !== null;
        // stride 1, one group: B is the weight re-laid out [T][O][Cg], copied straight into a texture
        if (wtDx === undefined) wtDx = weightRelayout() && g.sh === 1 && g.sw === 1 && g.G === 1 && g.Cg % 4 === 0 && w.offset % 4 === 0 ? weightTapsLast(w, g, 'toc') : null;
        if (wtDx) {
          const wB: BOperand = { binding: 2, offset: 0, layout: 'kn', batchRows: 0 };
          gemm(flat ? DX_NHWC_TEXF_WT_SPEC : DX_NHWC_TEX_WT_SPEC, v, [dx.buffer(op), textureView(yt.texture), wtDx.buffer(op)], dims, params, undefined, wB);
        } else {
          gemm(flat ? DX_NHWC_TEXF_SPEC : DX_NHWC_TEX_SPEC, v, [dx.buffer(op), textureView(yt.texture), w.buffer(op)], dims, params);
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
  dyl?.dispose();
  wtDx?.dispose();
  if (yt) releaseTexture(yt.texture);
  return dx;
}

/** Gradient w.r.t. the weight; K = N*OH*OW may be split, partials summed afterwards (chooseSplits). */
export function convWeightGrad(dy: Tensor, x: Tensor, g: ConvGeometry): Tensor {
  if (pointwise(g, 'dw')) return pointwiseWeightGrad(dy, x, g);
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
  lastWeightGradSplits = plan.totalSplits;
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

let lastWeightGradSplits = 0;

/** Tests: how many K-splits (partial outputs summed afterwards) the last weight-grad ran with. */
export function weightGradSplitCount(): number {
  return lastWeightGradSplits;
}

let dwTexture: 'auto' | 'off' = 'auto';

/** Benchmarks: the weight-grad's texture copies of x where they apply ('auto': see wantWeightGradTexture) or never ('off'). */
export function setConvWeightGradTexture(mode: 'auto' | 'off'): void {
  dwTexture = mode;
}

let dyTexture: 'auto' | 'on' | 'off' = 'auto';

/**
 * Tests and benchmarks: let the weight-grad read dy from a flat texture copy where 'auto' takes it
 * (wantDyTexture), wherever it can at any subgroup width ('on'), or never ('off').
 */
export function setConvWeightGradDyTexture(mode: 'auto' | 'on' | 'off'): void {
  dyTexture = mode;
}

/**
 * Whether the weight-grad reads dy from a flat texture copy (dyTextureSpec): 16-lane subgroup-broadcast
 * variants (where it was measured; at 8 lanes, as a storage texture, `ab.js dw-dy-texture` read 0.86-1.15x,
 * stage 2 slowest, so 8-lane variants keep dy in its buffer), output planes of a multiple of 4 pixels,
 * and a copy that fits a texture.
 */
function wantDyTexture(v: GemmVariant, dy: Tensor, g: ConvGeometry): boolean {
  if (dyTexture === 'off' || v.family !== 'bcast' || (dyTexture === 'auto' && v.subgroup < 16)) return false;
  return (g.OH * g.OW) % 4 === 0 && flatTextureLayout(dy.size) !== null;
}

/**
 * Whether the weight-grad reads x from a texture copy (DW_TEX_SPEC): stride 1 with OH = H and OW = W
 * (so 4 consecutive output pixels of an image read 4 consecutive elements of each input plane), x's 4
 * copies within a texture (one copy at a time staged in a buffer, which a tensor-sized copy fits), and a
 * subgroup-broadcast variant that reads textures (16 lanes and up, and 8 on lavapipe, as storage
 * textures: there `ab.js dw-texture` ran the weight-grads 1.08-1.39x as fast at stages 2-5 and the 1x1
 * expand, Zen 3, 2026-11-29). Not 1x1 kernels at 16 lanes: one tap reuses nothing of the 4 copies, and
 * the 1x1 expand's weight-grad ran 0.77 / 0.91 / 0.88x as fast with them as with gathers (`ab.js
 * dw-texture`, 5-7 rounds each, Zen 4, 2026-11-30), the 3x3 ones 0.92-1.13x (median 1.06x).
 */
function wantWeightGradTexture(v: GemmVariant, x: Tensor, g: ConvGeometry): boolean {
  if (dwTexture === 'off' || v.family !== 'bcast' || !texturePanelsAt(v.subgroup)) return false;
  if (v.subgroup >= 16 && g.KH * g.KW === 1) return false;
  const { width, perCopy } = shiftedCopiesLayout(x.size);
  const limits = deviceContext().limits;
  return g.sh === 1 && g.sw === 1 && g.OH === g.H && g.OW === g.W && 16 * perCopy <= limits.maxStorageBufferBindingSize && (4 * perCopy) / width <= limits.maxTextureDimension2D;
}

function asContiguous(t: Tensor): Tensor {
  return t.isContiguous ? t : contiguous(t);
}

const CONV2D_OPTIONS = optionKeys<Conv2dOptions>({ stride: 1, padding: 1, dilation: 1, groups: 1 });

/**
 * torch.nn.functional.conv2d(input, weight, bias, stride, padding, dilation, groups):
 * input [N, C, H, W], weight [O, C / groups, kH, kW], bias [O] or null; returns [N, O, OH, OW].
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  if (opts === null || typeof opts !== 'object') throw new Error(`${op}: options must be an object { stride, padding, dilation, groups }`);
  checkOptions(op, opts, CONV2D_OPTIONS);
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

