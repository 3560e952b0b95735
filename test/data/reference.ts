// Float64 reference of the SimCLR augmentation of one view, written from the definitions
// (torch's bilinear interpolate with align_corners=False, torchvision's colour functions on float
// tensors, reflect-padded Gaussian blur), independent of the WGSL kernels. Images are planar [C, H, W].
import type { ViewParams } from '../../data/simclr.js';

export interface Planar {
  c: number;
  h: number;
  w: number;
  data: Float64Array;
}

export function fromHWC(pixels: ArrayLike<number>, h: number, w: number, c: number): Planar {
  const data = new Float64Array(c * h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) data[(ch * h + y) * w + x] = pixels[(y * w + x) * c + ch] / 255;
  return { c, h, w, data };
}

export function cropResize(img: Planar, box: number[], oh: number, ow: number, flip: boolean): Planar {
  const [top, left, bh, bw] = box;
  const out = new Float64Array(img.c * oh * ow);
  const idx = (src: number, size: number, outSize: number) => {
    const s = Math.max((size / outSize) * (src + 0.5) - 0.5, 0);
    const i0 = Math.min(Math.floor(s), size - 1);
    const i1 = Math.min(i0 + 1, size - 1);
    const l = Math.min(Math.max(s - i0, 0), 1);
    return [i0, i1, l];
  };
  for (let y = 0; y < oh; y++) {
    const [y0, y1, ly] = idx(y, bh, oh);
    for (let x = 0; x < ow; x++) {
      const xs = flip ? ow - 1 - x : x;
      const [x0, x1, lx] = idx(xs, bw, ow);
      for (let ch = 0; ch < img.c; ch++) {
        const at = (yy: number, xx: number) => img.data[(ch * img.h + top + yy) * img.w + left + xx];
        const v = (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
        out[(ch * oh + y) * ow + x] = v;
      }
    }
  }
  return { c: img.c, h: oh, w: ow, data: out };
}

const clamp01 = (v: number) => Math.min(Math.max(v, 0), 1);

export function grayOf(img: Planar): Float64Array {
  const n = img.h * img.w;
  if (img.c === 1) return img.data.slice();
  const g = new Float64Array(n);
  for (let i = 0; i < n; i++) g[i] = 0.299 * img.data[i] + 0.587 * img.data[n + i] + 0.114 * img.data[2 * n + i];
  return g;
}

function rgb2hsv(r: number, g: number, b: number): [number, number, number] {
  const maxc = Math.max(r, g, b);
  const minc = Math.min(r, g, b);
  const eq = maxc === minc;
  const cr = maxc - minc;
  const s = cr / (eq ? 1 : maxc);
  const d = eq ? 1 : cr;
  const rc = (maxc - r) / d;
  const gc = (maxc - g) / d;
  const bc = (maxc - b) / d;
  let h: number;
  if (maxc === r) h = bc - gc;
  else if (maxc === g) h = 2 + rc - bc;
  else h = 4 + gc - rc;
  h = (h / 6 + 1) % 1;
  return [h, s, maxc];
}

function hsv2rgb(h: number, s: number, v: number): [number, number, number] {
  const fi = Math.floor(h * 6);
  const f = h * 6 - fi;
  const i = ((fi % 6) + 6) % 6;
  const p = clamp01(v * (1 - s));
  const q = clamp01(v * (1 - s * f));
  const t = clamp01(v * (1 - s * (1 - f)));
  return ([[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]] as [number, number, number][])[i];
}

export function adjust(img: Planar, op: number, f: number): Planar {
  const n = img.h * img.w;
  const d = img.data.slice();
  if (op === 0) for (let i = 0; i < d.length; i++) d[i] = clamp01(f * d[i]);
  else if (op === 1) {
    const g = grayOf(img);
    const m = g.reduce((a, b) => a + b, 0) / n;
    for (let i = 0; i < d.length; i++) d[i] = clamp01(f * d[i] + (1 - f) * m);
  } else if (op === 2) {
    if (img.c === 3) {
      const g = grayOf(img);
      for (let ch = 0; ch < 3; ch++) for (let i = 0; i < n; i++) d[ch * n + i] = clamp01(f * d[ch * n + i] + (1 - f) * g[i]);
    }
  } else if (img.c === 3) {
    for (let i = 0; i < n; i++) {
      const [h, s, v] = rgb2hsv(d[i], d[n + i], d[2 * n + i]);
      let hh = (h + f) % 1;
      if (hh < 0) hh += 1;
      const [r, g, b] = hsv2rgb(hh, s, v);
      d[i] = r;
      d[n + i] = g;
      d[2 * n + i] = b;
    }
  }
  return { ...img, data: d };
}

export function grayscale(img: Planar): Planar {
  if (img.c === 1) return img;
  const g = grayOf(img);
  const n = g.length;
  const d = new Float64Array(3 * n);
  for (let ch = 0; ch < 3; ch++) d.set(g, ch * n);
  return { ...img, data: d };
}

export function gaussian(radius: number, sigma: number): Float64Array {
  const k = new Float64Array(2 * radius + 1);
  let s = 0;
  for (let i = 0; i < k.length; i++) {
    k[i] = Math.exp(-0.5 * ((i - radius) / sigma) ** 2);
    s += k[i];
  }
  return k.map((v) => v / s);
}

export function blur(img: Planar, rx: number, ry: number, sigma: number): Planar {
  const { c, h, w } = img;
  const refl = (i: number, len: number) => (i < 0 ? -i : i >= len ? 2 * (len - 1) - i : i);
  const kx = gaussian(rx, sigma);
  const ky = gaussian(ry, sigma);
  const out = new Float64Array(c * h * w);
  for (let ch = 0; ch < c; ch++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let acc = 0;
        for (let a = -ry; a <= ry; a++)
          for (let b = -rx; b <= rx; b++) acc += ky[a + ry] * kx[b + rx] * img.data[(ch * h + refl(y + a, h)) * w + refl(x + b, w)];
        out[(ch * h + y) * w + x] = acc;
      }
  return { c, h, w, data: out };
}

export function normalize(img: Planar, mean: number[], std: number[]): Float64Array {
  const n = img.h * img.w;
  return img.data.map((v, i) => (v - mean[Math.floor(i / n)]) / std[Math.floor(i / n)]);
}

/** The whole view: crop/resize/flip, jitter in order, grayscale, blur, normalize. */
export function referenceView(src: Planar, p: ViewParams, oh: number, ow: number, mean: number[], std: number[], blurFraction = 0.1): Float64Array {
  let img = cropResize(src, p.crop, oh, ow, p.flip);
  if (p.jitter) {
    const f = [p.jitter.brightness, p.jitter.contrast, p.jitter.saturation, p.jitter.hue];
    for (const op of p.jitter.order) img = adjust(img, op, f[op]);
  }
  if (p.grayscale) img = grayscale(img);
  if (p.blurSigma > 0) {
    const r = (side: number) => Math.floor(Math.floor(side * blurFraction) / 2);
    img = blur(img, r(ow), r(oh), p.blurSigma);
  }
  return normalize(img, mean, std);
}
