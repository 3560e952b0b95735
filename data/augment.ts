// SimCLR augmentations on the GPU for a whole batch of views: shaders/augment_color.wgsl for every
// view, then, for the blurred views only, shaders/augment_blur.wgsl along x and along y. The host uploads the
// batch's source images once (RGBA8 packed, one u32 per pixel) and each view's parameters; no
// readback, so the work queues behind whatever the GPU is doing (prefetching).
import { dispatch, groups1d, writeBuffer } from '../engine/commands.js';
import { kernel, renderTemplate, shaderSource } from '../engine/kernels.js';
import { empty, type Tensor } from '../engine/tensor.js';
import type { Normalization } from './dataset.js';
import { blurRadius, gaussianKernel, type ResolvedAugment, type ViewParams } from './simclr.js';

export interface SourceBatch {
  /** [count, height, width] packed pixels (int32 dtype, read as u32 by the kernels). */
  tensor: Tensor;
  count: number;
  height: number;
  width: number;
  channels: 1 | 3;
}

/** Packs HWC byte images into one u32 per pixel (R | G << 8 | B << 16) and uploads them. */
export function uploadSources(images: Uint8Array[], height: number, width: number, channels: 1 | 3): SourceBatch {
  const op = 'augment';
  const n = images.length;
  if (n === 0) throw new Error(`${op}: no source images`);
  const hw = height * width;
  const packed = new Uint32Array(n * hw);
  for (let b = 0; b < n; b++) {
    const img = images[b];
    if (img.length !== hw * channels) throw new Error(`${op}: image ${b} has ${img.length} bytes, expected ${height}x${width}x${channels}`);
    const o = b * hw;
    if (channels === 1) {
      for (let i = 0; i < hw; i++) packed[o + i] = img[i];
    } else {
      for (let i = 0; i < hw; i++) packed[o + i] = img[3 * i] | (img[3 * i + 1] << 8) | (img[3 * i + 2] << 16);
    }
  }
  const t = empty([n, height, width], 'int32', op);
  writeBuffer(t.buffer(op), 0, packed);
  return { tensor: t, count: n, height, width, channels };
}

export interface AugmentOutput {
  height: number;
  width: number;
  normalization: Normalization;
  /** Blur kernel fraction (radius = floor(floor(side · f) / 2)). */
  blurKernelFraction: number;
  /** Overrides the radius from the fraction, on both axes. */
  blurRadius?: number;
}

function checkViews(views: ViewParams[], src: SourceBatch): void {
  views.forEach((v, i) => {
    if (!(Number.isInteger(v.source) && v.source >= 0 && v.source < src.count)) throw new Error(`augment: view ${i} reads source ${v.source}, batch has ${src.count}`);
    const [t, l, h, w] = v.crop;
    if (![t, l, h, w].every(Number.isInteger) || t < 0 || l < 0 || h < 1 || w < 1 || t + h > src.height || l + w > src.width) {
      throw new Error(`augment: view ${i} crop [${v.crop.join(', ')}] is not inside the ${src.height}x${src.width} source`);
    }
    if (v.jitter && (v.jitter.order.length !== 4 || [...v.jitter.order].sort().join() !== '0,1,2,3')) {
      throw new Error(`augment: view ${i} jitter order must be a permutation of 0..3, got [${v.jitter.order.join(', ')}]`);
    }
  });
}

function paramsBlock(words: number[], norm: Normalization, c: number): Uint32Array {
  const p = new Uint32Array(16);
  const f = new Float32Array(p.buffer);
  words.forEach((w, i) => (p[i] = w));
  for (let ch = 0; ch < 4; ch++) {
    f[8 + ch] = ch < c ? norm.mean[ch] : 0;
    f[12 + ch] = ch < c ? norm.std[ch] : 1;
  }
  return p;
}

/** Encodes the augmentation of `views` (all reading `src`) into a new [views, C, H, W] tensor. */
export function augmentViews(src: SourceBatch, views: ViewParams[], out: AugmentOutput): Tensor {
  const op = 'augment';
  const n = views.length;
  const c = src.channels;
  const { height: ho, width: wo, normalization: norm } = out;
  if (n === 0) throw new Error(`${op}: no views`);
  if (norm.mean.length !== c || norm.std.length !== c) throw new Error(`${op}: normalization needs ${c} means and stds, got ${norm.mean.length} and ${norm.std.length}`);
  if (norm.std.some((s) => !(s > 0))) throw new Error(`${op}: normalization std must be > 0, got [${norm.std.join(', ')}]`);
  checkViews(views, src);
  src.tensor.storage(op);

  const rx = out.blurRadius ?? blurRadius(wo, out.blurKernelFraction);
  const ry = out.blurRadius ?? blurRadius(ho, out.blurKernelFraction);
  if (!Number.isInteger(rx) || rx < 0) throw new Error(`${op}: blur radius must be a non-negative integer, got ${rx}`);
  if (rx >= wo || ry >= ho) throw new Error(`${op}: blur radius ${Math.max(rx, ry)} must be smaller than the side ${Math.min(ho, wo)}`);
  const blurredViews = rx > 0 || ry > 0 ? views.map((v, i) => (v.blurSigma > 0 ? i : -1)).filter((i) => i >= 0) : [];

  const vbuf = new ArrayBuffer(n * 64);
  const vu = new Uint32Array(vbuf);
  const vf = new Float32Array(vbuf);
  views.forEach((v, i) => {
    const o = i * 16;
    const blurred = v.blurSigma > 0 && blurredViews.length > 0;
    vu[o] = v.source;
    vu[o + 1] = (v.flip ? 1 : 0) | (v.jitter ? 2 : 0) | (v.grayscale ? 4 : 0) | (blurred ? 0 : 8);
    vu[o + 2] = v.jitter ? v.jitter.order.reduce((acc, opIdx, k) => acc | (opIdx << (2 * k)), 0) : 0;
    vf[o + 4] = v.crop[0];
    vf[o + 5] = v.crop[1];
    vf[o + 6] = v.crop[2];
    vf[o + 7] = v.crop[3];
    if (v.jitter) {
      vf[o + 8] = v.jitter.brightness;
      vf[o + 9] = v.jitter.contrast;
      vf[o + 10] = v.jitter.saturation;
      vf[o + 11] = v.jitter.hue;
    }
  });
  const viewT = empty([n, 16], 'int32', op);
  writeBuffer(viewT.buffer(op), 0, vu);

  // colour pass: every view, normalized unless it is blurred next (flag 8 = normalize)
  const result = empty([n, c, ho, wo], 'float32', op);
  const WG = ho * wo <= 4096 ? 64 : 256;
  const kc = kernel(`augment_color_wg${WG}`, () => renderTemplate(shaderSource('augment_color'), { WG }));
  const [gx, gy] = groups1d(n);
  dispatch(kc, [result.buffer(op), src.tensor.buffer(op), viewT.buffer(op)], paramsBlock([n, c, src.height, src.width, ho, wo, 0, gx], norm, c), [gx, gy]);
  viewT.dispose();

  const nb = blurredViews.length;
  if (nb > 0) {
    // blur passes over the blurred views only: result -> scratch (x), scratch -> result (y, normalized)
    const R = Math.max(rx, ry);
    const taps = 2 * R + 1;
    const w = new Float32Array(nb * 2 * taps);
    blurredViews.forEach((vi, s) => {
      const sigma = views[vi].blurSigma;
      // a radius below R (non-square outputs) is padded with zero weights around the centre
      w.set(gaussianKernel(rx, sigma), (2 * s) * taps + (R - rx));
      w.set(gaussianKernel(ry, sigma), (2 * s + 1) * taps + (R - ry));
    });
    const wT = empty([w.length], 'float32', op);
    writeBuffer(wT.buffer(op), 0, w);
    const idxT = empty([nb], 'int32', op);
    writeBuffer(idxT.buffer(op), 0, Uint32Array.from(blurredViews));
    const scratch = empty([nb, c, ho, wo], 'float32', op);
    const K = BLUR_RUN;
    const kb = kernel(`augment_blur_c${c}_r${R}_k${K}`, () => renderTemplate(shaderSource('augment_blur'), { C: c, R, K, BODY: blurBody(R, c, K) }));
    for (const axis of [0, 1]) {
      const total = nb * (axis === 0 ? ho * Math.ceil(wo / K) : wo * Math.ceil(ho / K));
      const [bx, by] = groups1d(Math.ceil(total / 64));
      const bufs = axis === 0 ? [scratch, result] : [result, scratch];
      dispatch(kb, [bufs[0].buffer(op), bufs[1].buffer(op), wT.buffer(op), idxT.buffer(op)], paramsBlock([total, ho, wo, axis, bx * 64, 0, 0, 0], norm, c), [bx, by]);
    }
    for (const t of [wT, idxT, scratch]) t.dispose();
  }
  return result;
}

const BLUR_RUN = 8;

/** Straight-line WGSL body of the blur template: load K + 2R pixels per channel, emit K outputs. */
function blurBody(R: number, c: number, K: number): string {
  const L: string[] = [];
  const taps = 2 * R + 1;
  for (let t = 0; t < taps; t++) L.push(`  let w${t} = weights[wb + ${t}u];`);
  for (let j = 0; j < K + 2 * R; j++) L.push(`  let o${j} = inFixed + refl(first + ${j - R}, ilen) * stride;`);
  for (let ch = 0; ch < c; ch++) {
    const off = ch === 0 ? '' : ` + ${ch}u * hw`;
    for (let j = 0; j < K + 2 * R; j++) L.push(`  let v${ch}_${j} = inp[o${j}${off}];`);
    const comp = ['x', 'y', 'z'][ch];
    for (let m = 0; m < K; m++) {
      const terms = Array.from({ length: taps }, (_, t) => `w${t} * v${ch}_${m + t}`).join(' + ');
      L.push(`  if (first + ${m} < ilen) {`);
      L.push(`    let a = ${terms};`);
      L.push(`    out[outFixed + u32(first + ${m}) * stride${off}] = select(a, (a - p.mean.${comp}) / p.stdev.${comp}, norm);`);
      L.push(`  }`);
    }
  }
  return L.join('\n');
}

/** Output geometry and normalization for a resolved policy. */
export function augmentOutput(cfg: ResolvedAugment, height: number, width: number, normalization: Normalization): AugmentOutput {
  return { height, width, normalization, blurKernelFraction: cfg.blurKernelFraction };
}
