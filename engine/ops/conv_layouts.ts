// Operand layouts for conv2d's GEMMs (engine/ops/conv2d.ts): channels-last copies of x and dy, the
// weight re-laid out tap-major, and the texture copies the lavapipe texture variants read (flat
// textures, x's 4 shifted copies).
import { copyBuffer, copyBufferToTexture, dispatch, groups1d } from '../commands.js';
import { deviceContext } from '../device.js';
import { acquireTexture } from '../memory.js';
import { elementMain, elementTiling, kernel, renderTemplate, shaderSource } from '../kernels.js';
import { empty, type Tensor } from '../tensor.js';
import type { ConvGeometry } from './conv_geometry.js';
import { flatBufferTexture, wrapWidth } from './flat_texture.js';
import { copy } from './elementwise.js';
import { permute } from './shape.js';

let weightRelayoutMode: 'auto' | 'on' | 'off' = 'auto';

/**
 * Tests and benchmarks: 'off' packs the weight inside the channels-last texture GEMMs instead of
 * re-laying it out first, 'on' re-lays it out, 'auto' only on 16-lane adapters: at 8 lanes (storage
 * texture panels) the re-layout lost in every 3x3 row of an interleaved `ab.js relayout` (0.75-1.01x;
 * stage 5's 9.4 MB weight took 8.4 of its forward's 37 ms), at 16 it was within noise (0.89-1.22x).
 */
export function setConvWeightRelayout(mode: 'auto' | 'on' | 'off'): void {
  weightRelayoutMode = mode;
}

/** Whether the channels-last texture GEMMs read the weight re-laid out tap-major (weightTapsLast). */
export function weightRelayout(): boolean {
  return weightRelayoutMode === 'on' || (weightRelayoutMode === 'auto' && deviceContext().summary.subgroupSize >= 16);
}

/**
 * The weight with its taps before its channels (shaders/conv_weight_taps.wgsl): 'otc' = [O][T][Cg]
 * (the channels-last forward's B stored N x K) or 'toc' = [T][O][Cg] (the stride-1 input-grad's B
 * stored K x N, groups = 1). Both need Cg % 4 == 0 and a weight offset that is a multiple of 4.
 */
export function weightTapsLast(w: Tensor, g: ConvGeometry, order: 'otc' | 'toc'): Tensor {
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

let nhwcKernel = true;

/** Benchmarks: the channels-last copy by its own 4 x 4 block kernel (true) or the generic strided copy. */
export function setConvNhwcKernel(on: boolean): void {
  nhwcKernel = on;
}

/** t [N, C, H, W] as a contiguous [N, H, W, C] tensor at offset 0 (shaders/nchw_to_nhwc.wgsl where it applies). */
export function channelsLastCopy(t: Tensor): Tensor {
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

/**
 * t's elements (from its offset) in an rgba32uint texture, flat: texel i holds elements 4i .. 4i + 3,
 * in rows of a power-of-2 width (flatBufferTexture); texels past t's end are never read.
 */
export function flatTexture(t: Tensor, op: string): GPUTexture {
  return flatBufferTexture(t.buffer(op), t.offset, t.size, op);
}
/**
 * The texture of weightGradTexture for `size` elements: rows of `width` texels (wrapWidth), and
 * perCopy texels a copy (the size plus 4 leading elements, in whole rows).
 */
export function shiftedCopiesLayout(size: number): { width: number; perCopy: number } {
  const width = wrapWidth((w) => 4 * Math.ceil((size + 4) / (4 * w)));
  return { width, perCopy: Math.ceil((size + 4) / (4 * width)) * width };
}
/**
 * x's elements (from its offset) in an rgba32uint texture as 4 copies, each shifted so that any 4
 * consecutive elements are one texel of one copy: copy s (s = 0..3) holds x's element j - 4 + s at
 * element j, in perCopy texels (shiftedCopiesLayout). Each copy is a buffer copy into a staging buffer
 * (at a 4-byte offset, which a texture copy cannot start from) that a texture copy then moves into the
 * copy's rows; one staging buffer of one copy serves the four in turn, so x may be as large as a
 * storage binding.
 */
export function weightGradTexture(x: Tensor, op: string): { texture: GPUTexture; perCopy: number } {
  const { width, perCopy } = shiftedCopiesLayout(x.size);
  const staging = empty([perCopy * 4], 'float32', op);
  const src = x.buffer(op);
  const texture = acquireTexture(width, (4 * perCopy) / width, op);
  const rows = perCopy / width;
  for (let sh = 0; sh < 4; sh++) {
    copyBuffer(src, x.offset * 4, staging.buffer(op), (4 - sh) * 4, x.size * 4);
    copyBufferToTexture(staging.buffer(op), width * 16, texture, 0, sh * rows, rows);
  }
  staging.dispose();
  return { texture, perCopy };
}

/**
 * t [N, C, H, W] (contiguous) as a contiguous [N, H, W, Cp] tensor with channels C .. Cp - 1 zero
 * (Cp a multiple of 4; shaders/nchw_to_nhwc_pad.wgsl): the stem's padded channels-last input.
 */
export function channelsLastPadded(t: Tensor, Cp: number): Tensor {
  const op = 'conv2d';
  const [N, C, H, W] = t.shape;
  const HW = H * W;
  const out = empty([N, H, W, Cp], 'float32', op);
  const n = N * HW * (Cp / 4);
  const k = kernel(`nchw_to_nhwc_pad:${C}:${HW}`, () => renderTemplate(shaderSource('nchw_to_nhwc_pad'), { C, HW, C4: Cp / 4, ELEMENT_MAIN: elementMain() }));
  const [gx, gy] = groups1d(Math.ceil(n / elementTiling().BLOCK));
  dispatch(k, [out.buffer(op), t.buffer(op)], new Uint32Array([n, gx, t.offset, 0]), [gx, gy]);
  return out;
}

/**
 * The weight [O][C][KH][KW] (one group, contiguous) re-laid out tap-major with its channels padded to
 * Cp: [O][T][Cp], channels C .. Cp - 1 zero (shaders/conv_weight_taps_pad.wgsl; weightTapsLast is the
 * vec4 kernel for C % 4 == 0).
 */
export function weightTapsLastPadded(w: Tensor, g: ConvGeometry, Cp: number): Tensor {
  const op = 'conv2d';
  const T = g.KH * g.KW;
  const out = empty([g.O, T, Cp], 'float32', op);
  const n = g.O * T * (Cp / 4);
  const k = kernel(`conv_weight_taps_pad:${g.C}:${T}`, () => renderTemplate(shaderSource('conv_weight_taps_pad'), { C: g.C, T, C4: Cp / 4, ELEMENT_MAIN: elementMain() }));
  const [gx, gy] = groups1d(Math.ceil(n / elementTiling().BLOCK));
  dispatch(k, [out.buffer(op), w.buffer(op)], new Uint32Array([n, gx, w.offset, 0]), [gx, gy]);
  return out;
}
