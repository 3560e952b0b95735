// SimCLR's augmentation policy (Chen et al. 2020, appendix A) and the sampling of its random
// parameters. Order: RandomResizedCrop (area 0.08-1, aspect 3/4-4/3, bilinear) -> horizontal flip
// (p 0.5) -> colour jitter (brightness, contrast, saturation 0.8·s, hue 0.2·s, in random order) with
// p 0.8 -> grayscale (p 0.2) -> Gaussian blur (kernel 10% of the side, sigma in [0.1, 2], p 0.5; off
// by default below 64 px) -> normalization. The operations follow torchvision's definitions
// (transforms.RandomResizedCrop.get_params, ColorJitter, functional adjust_* on float tensors,
// GaussianBlur with reflect padding), except grayscale, which uses 0.299/0.587/0.114.
// Parameters are drawn on the host from a seeded generator, in a fixed order per view; the pixels
// are computed on the GPU (data/augment.ts).
import { checkOptions, optionKeys } from '../engine/options.js';
import type { Rng } from '../engine/random.js';

export interface SimCLRAugmentOptions {
  /** RandomResizedCrop; false keeps the whole image (resized to the output size). */
  crop?: boolean;
  cropScale?: [number, number];
  cropRatio?: [number, number];
  flipP?: number;
  jitterP?: number;
  /** SimCLR's colour-distortion strength s (1 for ImageNet, 0.5 for CIFAR). */
  jitterStrength?: number;
  /** Jitter amounts; defaults 0.8·s, 0.8·s, 0.8·s, 0.2·s. 0 disables one. */
  brightness?: number;
  contrast?: number;
  saturation?: number;
  hue?: number;
  grayscaleP?: number;
  /** Default 0.5 when the output is at least 64 px on its shorter side, else 0. */
  blurP?: number;
  blurSigma?: [number, number];
  /** Kernel size as a fraction of the side: radius = floor(floor(side · f) / 2). */
  blurKernelFraction?: number;
}

export interface ResolvedAugment {
  crop: boolean;
  cropScale: [number, number];
  cropRatio: [number, number];
  flipP: number;
  jitterP: number;
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
  grayscaleP: number;
  blurP: number;
  blurSigma: [number, number];
  blurKernelFraction: number;
}

export const BLUR_MIN_SIDE = 64;

function prob(v: number, name: string): number {
  if (!(v >= 0 && v <= 1)) throw new Error(`SimCLR augment: ${name} must be a probability in [0, 1], got ${v}`);
  return v;
}

function range(v: [number, number], name: string, lo: number, hi: number): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !(v[0] >= lo && v[1] <= hi && v[0] <= v[1])) {
    throw new Error(`SimCLR augment: ${name} must be [min, max] with ${lo} <= min <= max <= ${hi}, got ${JSON.stringify(v)}`);
  }
  return [v[0], v[1]];
}

function nonNeg(v: number, name: string): number {
  if (!(v >= 0 && Number.isFinite(v))) throw new Error(`SimCLR augment: ${name} must be a finite number >= 0, got ${v}`);
  return v;
}

const AUGMENT_OPTIONS = optionKeys<SimCLRAugmentOptions>({
  crop: 1, cropScale: 1, cropRatio: 1, flipP: 1, jitterP: 1, jitterStrength: 1, brightness: 1, contrast: 1,
  saturation: 1, hue: 1, grayscaleP: 1, blurP: 1, blurSigma: 1, blurKernelFraction: 1,
});

/** Fills in the paper's defaults for an output of outH × outW and validates every value. */
export function resolveAugment(o: SimCLRAugmentOptions, outH: number, outW: number): ResolvedAugment {
  checkOptions('SimCLR augment', o, AUGMENT_OPTIONS);
  const s = nonNeg(o.jitterStrength ?? 1, 'jitterStrength');
  const hue = nonNeg(o.hue ?? 0.2 * s, 'hue');
  if (hue > 0.5) throw new Error(`SimCLR augment: hue must be in [0, 0.5], got ${hue}`);
  return {
    crop: o.crop ?? true,
    cropScale: range(o.cropScale ?? [0.08, 1], 'cropScale', 0, 1),
    cropRatio: range(o.cropRatio ?? [3 / 4, 4 / 3], 'cropRatio', 1e-6, Infinity),
    flipP: prob(o.flipP ?? 0.5, 'flipP'),
    jitterP: prob(o.jitterP ?? 0.8, 'jitterP'),
    brightness: nonNeg(o.brightness ?? 0.8 * s, 'brightness'),
    contrast: nonNeg(o.contrast ?? 0.8 * s, 'contrast'),
    saturation: nonNeg(o.saturation ?? 0.8 * s, 'saturation'),
    hue,
    grayscaleP: prob(o.grayscaleP ?? 0.2, 'grayscaleP'),
    blurP: prob(o.blurP ?? (Math.min(outH, outW) >= BLUR_MIN_SIDE ? 0.5 : 0), 'blurP'),
    blurSigma: range(o.blurSigma ?? [0.1, 2], 'blurSigma', 1e-6, Infinity),
    blurKernelFraction: nonNeg(o.blurKernelFraction ?? 0.1, 'blurKernelFraction'),
  };
}

/** No randomness: the whole image, resized and normalized (evaluation). */
export const NO_AUGMENT: SimCLRAugmentOptions = { crop: false, flipP: 0, jitterP: 0, grayscaleP: 0, blurP: 0 };

export const OP_BRIGHTNESS = 0;
export const OP_CONTRAST = 1;
export const OP_SATURATION = 2;
export const OP_HUE = 3;

export interface ViewParams {
  /** Which image of the batch (slot in the uploaded sources). */
  source: number;
  /** Crop box in source pixels: top, left, height, width. */
  crop: [number, number, number, number];
  flip: boolean;
  /** null when colour jitter was not applied to this view. */
  jitter: { order: number[]; brightness: number; contrast: number; saturation: number; hue: number } | null;
  grayscale: boolean;
  /** Blur sigma, 0 when not blurred. */
  blurSigma: number;
}

/** torchvision's RandomResizedCrop.get_params: ten tries, then a central crop. */
export function sampleCrop(rng: Rng, h: number, w: number, scale: [number, number], ratio: [number, number]): [number, number, number, number] {
  const area = h * w;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let t = 0; t < 10; t++) {
    const target = area * rng.range(scale[0], scale[1]);
    const aspect = Math.exp(rng.range(logLo, logHi));
    const cw = Math.round(Math.sqrt(target * aspect));
    const ch = Math.round(Math.sqrt(target / aspect));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
      const i = rng.int(h - ch + 1);
      const j = rng.int(w - cw + 1);
      return [i, j, ch, cw];
    }
  }
  const inRatio = w / h;
  let cw: number;
  let ch: number;
  if (inRatio < ratio[0]) {
    cw = w;
    ch = Math.round(cw / ratio[0]);
  } else if (inRatio > ratio[1]) {
    ch = h;
    cw = Math.round(ch * ratio[1]);
  } else {
    cw = w;
    ch = h;
  }
  return [Math.floor((h - ch) / 2), Math.floor((w - cw) / 2), ch, cw];
}

function factor(rng: Rng, amount: number): number {
  // torchvision: uniform in [max(0, 1 - a), 1 + a]
  return amount > 0 ? rng.range(Math.max(0, 1 - amount), 1 + amount) : 1;
}

/** Draws one view's parameters; the order of draws is fixed (crop, flip, jitter, grayscale, blur). */
export function sampleView(rng: Rng, cfg: ResolvedAugment, source: number, h: number, w: number): ViewParams {
  const crop: [number, number, number, number] = cfg.crop ? sampleCrop(rng, h, w, cfg.cropScale, cfg.cropRatio) : [0, 0, h, w];
  const flip = rng.uniform() < cfg.flipP;
  let jitter: ViewParams['jitter'] = null;
  if (rng.uniform() < cfg.jitterP) {
    const order = [0, 1, 2, 3];
    rng.shuffle(order);
    const brightness = factor(rng, cfg.brightness);
    const contrast = factor(rng, cfg.contrast);
    const saturation = factor(rng, cfg.saturation);
    const hue = cfg.hue > 0 ? rng.range(-cfg.hue, cfg.hue) : 0;
    jitter = { order, brightness, contrast, saturation, hue };
  }
  const grayscale = rng.uniform() < cfg.grayscaleP;
  let blurSigma = 0;
  if (rng.uniform() < cfg.blurP) blurSigma = rng.range(cfg.blurSigma[0], cfg.blurSigma[1]);
  return { source, crop, flip, jitter, grayscale, blurSigma };
}

/** Blur radius along a side of `side` pixels. */
export function blurRadius(side: number, fraction: number): number {
  return Math.floor(Math.floor(side * fraction) / 2);
}

/** torchvision's Gaussian kernel: exp(-x²/2σ²) at x = -r..r, normalized to sum 1 (float64). */
export function gaussianKernel(radius: number, sigma: number): Float64Array {
  const k = new Float64Array(2 * radius + 1);
  let s = 0;
  for (let i = 0; i <= 2 * radius; i++) {
    const x = (i - radius) / sigma;
    k[i] = Math.exp(-0.5 * x * x);
    s += k[i];
  }
  for (let i = 0; i < k.length; i++) k[i] /= s;
  return k;
}
