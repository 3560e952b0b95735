// Host-side resizing of decoded images to the dataset's configured size: separable bilinear
// (triangle) filtering whose support widens with the downscale factor, i.e. antialiased bilinear as
// in PIL's resize and torch.nn.functional.interpolate(mode='bilinear', antialias=True,
// align_corners=False); for upscaling it is exactly half-pixel bilinear with clamped edges.
// Also the channel conversions: gray -> RGB replicates, RGB -> gray is ITU-R 601 luma
// (0.299 R + 0.587 G + 0.114 B, as PIL's convert('L')).

export const LUMA = [0.299, 0.587, 0.114] as const;

interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float64Array;
  maxTaps: number;
}

function taps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle filter's support is 1
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * maxTaps);
  const inv = 1 / filterScale;
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    const n = hi - lo;
    for (let k = 0; k < n; k++) {
      const t = Math.abs((k + lo - center + 0.5) * inv);
      const wgt = t < 1 ? 1 - t : 0;
      weights[o * maxTaps + k] = wgt;
      total += wgt;
    }
    for (let k = 0; k < n; k++) weights[o * maxTaps + k] = total > 0 ? weights[o * maxTaps + k] / total : 0;
    start[o] = lo;
    count[o] = n;
  }
  return { start, count, weights, maxTaps };
}

/** Resizes float HWC data (any range). */
export function resizeFloat(src: ArrayLike<number>, h: number, w: number, c: number, oh: number, ow: number): Float32Array {
  if (src.length !== h * w * c) throw new Error(`resize: ${src.length} values for a ${h}x${w}x${c} image`);
  if (!(oh > 0 && ow > 0 && Number.isInteger(oh) && Number.isInteger(ow))) throw new Error(`resize: bad output size ${oh}x${ow}`);
  // horizontal pass: [h, ow, c]
  let tmp: Float64Array;
  if (ow === w) {
    tmp = Float64Array.from(src);
  } else {
    const tx = taps(w, ow);
    tmp = new Float64Array(h * ow * c);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < ow; x++) {
        const s = tx.start[x];
        const n = tx.count[x];
        const wo = x * tx.maxTaps;
        for (let ch = 0; ch < c; ch++) {
          let acc = 0;
          for (let k = 0; k < n; k++) acc += tx.weights[wo + k] * src[(y * w + s + k) * c + ch];
          tmp[(y * ow + x) * c + ch] = acc;
        }
      }
    }
  }
  if (oh === h) return Float32Array.from(tmp);
  const ty = taps(h, oh);
  const out = new Float32Array(oh * ow * c);
  for (let y = 0; y < oh; y++) {
    const s = ty.start[y];
    const n = ty.count[y];
    const wo = y * ty.maxTaps;
    for (let i = 0; i < ow * c; i++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += ty.weights[wo + k] * tmp[(s + k) * ow * c + i];
      out[y * ow * c + i] = acc;
    }
  }
  return out;
}

/** Converts HWC bytes between 1 and 3 channels (float result, not rounded). */
export function convertChannels(src: Uint8Array, cin: number, cout: number): Float32Array | Uint8Array {
  if (cin === cout) return src;
  const n = src.length / cin;
  if (cin === 1 && cout === 3) {
    const out = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = src[i];
    return out;
  }
  if (cin === 3 && cout === 1) {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = LUMA[0] * src[3 * i] + LUMA[1] * src[3 * i + 1] + LUMA[2] * src[3 * i + 2];
    return out;
  }
  throw new Error(`convertChannels: cannot convert ${cin} to ${cout} channels`);
}

function toBytes(a: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = Math.round(a[i]);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}

/** Bytes HWC (cin channels) -> bytes HWC at oh×ow with cout channels, rounded to nearest. */
export function resizeImage(src: Uint8Array, h: number, w: number, cin: number, oh: number, ow: number, cout: number): Uint8Array {
  if (src.length !== h * w * cin) throw new Error(`resizeImage: ${src.length} bytes for a ${h}x${w}x${cin} image`);
  const conv = convertChannels(src, cin, cout);
  if (oh === h && ow === w) return conv instanceof Uint8Array ? conv : toBytes(conv);
  return toBytes(resizeFloat(conv, h, w, cout, oh, ow));
}
