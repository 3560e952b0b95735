// Naive reference kernels for conv2d's three products (benchmarks' "naive" column and their result
// check): one invocation per output element, loops over the reduction, no tiling.
import { dispatch, groups1d } from '../commands.js';
import { kernel, renderTemplate, shaderSource } from '../kernels.js';
import { empty, type Tensor } from '../tensor.js';
import type { ConvGeometry } from './conv_geometry.js';

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
