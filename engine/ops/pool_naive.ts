// Naive reference pooling kernels (the benchmark's "naive" column for pooling and its result check):
// one element per invocation, every window recomputed, no phases or vectorization. Max and average
// pooling with dilation 1 and no ceil mode, forward and input gradient; the global average is the
// average with a window the size of the input.
import { dispatch, groups1d } from '../commands.js';
import { kernel, renderTemplate, shaderSource } from '../kernels.js';
import { empty, type Tensor } from '../tensor.js';

export interface NaivePoolConfig {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  /** Average: divide by the window clipped to the padded input (true, PyTorch's default) or by its in-bounds taps. */
  countIncludePad?: boolean;
}

const BODY = {
  maxFwd: `
  let ow = i % p.OW;
  let oh = (i / p.OW) % p.OH;
  let nc = i / (p.OW * p.OH);
  out[i] = x[nc * p.H * p.W + window(nc, oh, ow).argmax];`,
  avgFwd: `
  let ow = i % p.OW;
  let oh = (i / p.OW) % p.OH;
  let nc = i / (p.OW * p.OH);
  out[i] = window(nc, oh, ow).sum / avgDivisor(oh, ow);`,
  // the windows that can hold (ih, iw): oh in [ceil((ih + PH - KH + 1) / SH), floor((ih + PH) / SH)]
  bwd: (max: boolean) => `
  let iw = i % p.W;
  let ih = (i / p.W) % p.H;
  let nc = i / (p.W * p.H);
  let th = i32(ih + p.PH) - i32(p.KH) + 1;
  let tw = i32(iw + p.PW) - i32(p.KW) + 1;
  let oh0 = select(0u, (u32(th) + p.SH - 1u) / p.SH, th > 0);
  let ow0 = select(0u, (u32(tw) + p.SW - 1u) / p.SW, tw > 0);
  let oh1 = min((ih + p.PH) / p.SH + 1u, p.OH);
  let ow1 = min((iw + p.PW) / p.SW + 1u, p.OW);
  var s = 0.0;
  for (var oh = oh0; oh < oh1; oh = oh + 1u) {
    for (var ow = ow0; ow < ow1; ow = ow + 1u) {
      let g = dy[(nc * p.OH + oh) * p.OW + ow];
      ${max ? 'if (window(nc, oh, ow).argmax == ih * p.W + iw) { s = s + g; }' : 's = s + g / avgDivisor(oh, ow);'}
    }
  }
  out[i] = s;`,
};

function check(op: string, x: Tensor, cfg: NaivePoolConfig): { N: number; C: number; H: number; W: number; OH: number; OW: number } {
  if (x.shape.length !== 4) throw new Error(`${op}: input must be 4-D, got [${x.shape.join(', ')}]`);
  if (!x.isContiguous || x.offset !== 0) throw new Error(`${op}: input must be contiguous`);
  const [N, C, H, W] = x.shape;
  const [kh, kw] = cfg.kernel;
  const [sh, sw] = cfg.stride;
  const [ph, pw] = cfg.padding;
  const OH = Math.floor((H + 2 * ph - kh) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - kw) / sw) + 1;
  if (OH < 1 || OW < 1 || 2 * ph > kh || 2 * pw > kw) throw new Error(`${op}: bad window ${JSON.stringify(cfg)} for input [${x.shape.join(', ')}]`);
  return { N, C, H, W, OH, OW };
}

function run(op: string, body: string, withDy: boolean, out: Tensor, x: Tensor, dy: Tensor | null, d: ReturnType<typeof check>, cfg: NaivePoolConfig): Tensor {
  const k = kernel(`pool_naive:${op}`, () =>
    renderTemplate(shaderSource('pool_naive'), { BINDINGS: withDy ? '@group(0) @binding(3) var<storage, read> dy: array<f32>;' : '', BODY: body }),
  );
  const total = out.size;
  const [gx, gy] = groups1d(Math.ceil(total / 64));
  const params = new Uint32Array([d.N * d.C, d.H, d.W, d.OH, d.OW, ...cfg.kernel, ...cfg.stride, ...cfg.padding, cfg.countIncludePad === false ? 0 : 1, total, gx * 64, 0, 0]);
  const bufs = [out.buffer(op), x.buffer(op)];
  if (dy) bufs.push(dy.buffer(op));
  if (total > 0) dispatch(k, bufs, params, [gx, gy]);
  return out;
}

/** The naive pooled output of x (no autograd). */
export function poolNaive(kind: 'max' | 'avg', x: Tensor, cfg: NaivePoolConfig): Tensor {
  const op = `pool.naive.${kind}`;
  const d = check(op, x, cfg);
  return run(`${kind}Fwd`, kind === 'max' ? BODY.maxFwd : BODY.avgFwd, false, empty([d.N, d.C, d.OH, d.OW], 'float32', op), x, null, d, cfg);
}

/** The naive input gradient of pooling x, given the output gradient dy (no autograd). */
export function poolNaiveGrad(kind: 'max' | 'avg', x: Tensor, dy: Tensor, cfg: NaivePoolConfig): Tensor {
  const op = `pool.naive.${kind}.grad`;
  const d = check(op, x, cfg);
  const want = [d.N, d.C, d.OH, d.OW];
  if (dy.shape.join() !== want.join() || !dy.isContiguous || dy.offset !== 0) throw new Error(`${op}: dy must be a contiguous [${want.join(', ')}], got [${dy.shape.join(', ')}]`);
  return run(`${kind}Bwd`, BODY.bwd(kind === 'max'), true, empty(x.shape, 'float32', op), x, dy, d, cfg);
}
