// Pooling on NCHW input with torch.nn.functional's names and argument order: maxPool2d, avgPool2d,
// adaptiveAvgPool2d (any output size; 1x1 is the global average of ResNet heads), each with backward.
// Kernels: shaders/pool.wgsl (forward one output per invocation; backward gathers per input element).
import { noGrad } from '../autograd.js';
import { dispatch } from '../commands.js';
import { kernel, renderTemplate, shaderSource, type Kernel } from '../kernels.js';
import { fmtShape } from '../shape.js';
import { empty, record, Tensor } from '../tensor.js';
import { contiguous } from './shape.js';

type Pair = number | readonly [number, number];

export interface MaxPool2dOptions {
  stride?: Pair | null;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
}

export interface AvgPool2dOptions {
  stride?: Pair | null;
  padding?: Pair;
  ceilMode?: boolean;
  countIncludePad?: boolean;
  divisorOverride?: number | null;
}

type Mode = 'max.fwd' | 'max.bwd' | 'avg.fwd' | 'avg.bwd' | 'ada.fwd' | 'ada.bwd';

const WINDOW = `
  let h0 = i32(oh * p.sh) - i32(p.ph);
  let w0 = i32(ow * p.sw) - i32(p.pw);`;

const BODIES: Record<Mode, { bindings: string[]; body: string }> = {
  'max.fwd': {
    bindings: ['var<storage, read_write> y: array<f32>', 'var<storage, read_write> idx: array<i32>', 'var<storage, read> x: array<f32>'],
    body: `
  if (i >= p.OH * p.OW) { return; }
  let oh = i / p.OW;
  let ow = i - oh * p.OW;${WINDOW}
  let base = p.xo + plane * p.H * p.W;
  var best = bitcast<f32>(0xff800000u | p._a); // -inf (p._a = 0 keeps it a runtime value)
  var bi = -1;
  for (var a = 0u; a < p.kh; a = a + 1u) {
    let ih = h0 + i32(a * p.dh);
    if (ih < 0 || ih >= i32(p.H)) { continue; }
    for (var b = 0u; b < p.kw; b = b + 1u) {
      let iw = w0 + i32(b * p.dw);
      if (iw < 0 || iw >= i32(p.W)) { continue; }
      let v = x[base + u32(ih) * p.W + u32(iw)];
      if (bi < 0 || v > best || isNan(v)) {
        best = v;
        bi = ih * i32(p.W) + iw;
      }
    }
  }
  y[plane * p.OH * p.OW + i] = best;
  idx[plane * p.OH * p.OW + i] = bi;`,
  },
  'max.bwd': {
    bindings: ['var<storage, read_write> dx: array<f32>', 'var<storage, read> g: array<f32>', 'var<storage, read> idx: array<i32>'],
    body: `
  if (i >= p.H * p.W) { return; }
  let ih = i / p.W;
  let iw = i - ih * p.W;
  let oh0 = firstWin(ih, p.kh, p.sh, p.ph, p.dh);
  let oh1 = min(i32(p.OH) - 1, i32((ih + p.ph) / p.sh));
  let ow0 = firstWin(iw, p.kw, p.sw, p.pw, p.dw);
  let ow1 = min(i32(p.OW) - 1, i32((iw + p.pw) / p.sw));
  var acc = 0.0;
  for (var oh = oh0; oh <= oh1; oh = oh + 1) {
    for (var ow = ow0; ow <= ow1; ow = ow + 1) {
      let o = (plane * p.OH + u32(oh)) * p.OW + u32(ow);
      if (idx[o] == i32(i)) { acc = acc + g[p.go + o]; }
    }
  }
  dx[plane * p.H * p.W + i] = acc;`,
  },
  'avg.fwd': {
    bindings: ['var<storage, read_write> y: array<f32>', 'var<storage, read> x: array<f32>'],
    body: `
  if (i >= p.OH * p.OW) { return; }
  let oh = i / p.OW;
  let ow = i - oh * p.OW;${WINDOW}
  let base = p.xo + plane * p.H * p.W;
  var s = 0.0;
  for (var a = 0u; a < p.kh; a = a + 1u) {
    let ih = h0 + i32(a);
    if (ih < 0 || ih >= i32(p.H)) { continue; }
    for (var b = 0u; b < p.kw; b = b + 1u) {
      let iw = w0 + i32(b);
      if (iw < 0 || iw >= i32(p.W)) { continue; }
      s = s + x[base + u32(ih) * p.W + u32(iw)];
    }
  }
  y[plane * p.OH * p.OW + i] = s / avgDivisor(oh, ow);`,
  },
  'avg.bwd': {
    bindings: ['var<storage, read_write> dx: array<f32>', 'var<storage, read> g: array<f32>'],
    body: `
  if (i >= p.H * p.W) { return; }
  let ih = i / p.W;
  let iw = i - ih * p.W;
  let oh0 = firstWin(ih, p.kh, p.sh, p.ph, 1u);
  let oh1 = min(i32(p.OH) - 1, i32((ih + p.ph) / p.sh));
  let ow0 = firstWin(iw, p.kw, p.sw, p.pw, 1u);
  let ow1 = min(i32(p.OW) - 1, i32((iw + p.pw) / p.sw));
  var acc = 0.0;
  for (var oh = oh0; oh <= oh1; oh = oh + 1) {
    for (var ow = ow0; ow <= ow1; ow = ow + 1) {
      let o = (plane * p.OH + u32(oh)) * p.OW + u32(ow);
      acc = acc + g[p.go + o] / avgDivisor(u32(oh), u32(ow));
    }
  }
  dx[plane * p.H * p.W + i] = acc;`,
  },
  'ada.fwd': {
    bindings: ['var<storage, read_write> y: array<f32>', 'var<storage, read> x: array<f32>'],
    body: `
  if (i >= p.OH * p.OW) { return; }
  let oh = i / p.OW;
  let ow = i - oh * p.OW;
  let h0 = (oh * p.H) / p.OH;
  let h1 = ((oh + 1u) * p.H + p.OH - 1u) / p.OH;
  let w0 = (ow * p.W) / p.OW;
  let w1 = ((ow + 1u) * p.W + p.OW - 1u) / p.OW;
  let base = p.xo + plane * p.H * p.W;
  var s = 0.0;
  for (var a = h0; a < h1; a = a + 1u) {
    for (var b = w0; b < w1; b = b + 1u) { s = s + x[base + a * p.W + b]; }
  }
  y[plane * p.OH * p.OW + i] = s / f32((h1 - h0) * (w1 - w0));`,
  },
  'ada.bwd': {
    bindings: ['var<storage, read_write> dx: array<f32>', 'var<storage, read> g: array<f32>'],
    body: `
  if (i >= p.H * p.W) { return; }
  let ih = i / p.W;
  let iw = i - ih * p.W;
  let oh0 = (ih * p.OH) / p.H;
  let oh1 = ((ih + 1u) * p.OH + p.H - 1u) / p.H;
  let ow0 = (iw * p.OW) / p.W;
  let ow1 = ((iw + 1u) * p.OW + p.W - 1u) / p.W;
  var acc = 0.0;
  for (var oh = oh0; oh < oh1; oh = oh + 1u) {
    let h0 = (oh * p.H) / p.OH;
    let h1 = ((oh + 1u) * p.H + p.OH - 1u) / p.OH;
    for (var ow = ow0; ow < ow1; ow = ow + 1u) {
      let w0 = (ow * p.W) / p.OW;
      let w1 = ((ow + 1u) * p.W + p.OW - 1u) / p.OW;
      acc = acc + g[p.go + (plane * p.OH + oh) * p.OW + ow] / f32((h1 - h0) * (w1 - w0));
    }
  }
  dx[plane * p.H * p.W + i] = acc;`,
  },
};

function poolKernel(mode: Mode): Kernel {
  const { bindings, body } = BODIES[mode];
  const decl = bindings.map((b, i) => `@group(0) @binding(${i + 1}) ${b};`).join('\n');
  return kernel(`pool:${mode}`, () => renderTemplate(shaderSource('pool'), { BINDINGS: decl, BODY: body }));
}

interface PoolGeo {
  N: number; C: number; H: number; W: number; OH: number; OW: number;
  kh: number; kw: number; sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
  countPad: boolean; divisor: number;
}

function pair(op: string, name: string, v: unknown, min: number): [number, number] {
  const arr = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? v : null;
  if (!arr || !arr.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= min)) {
    throw new Error(`${op}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return [arr[0], arr[1]];
}

function check4d(op: string, x: Tensor): void {
  if (!(x instanceof Tensor)) throw new Error(`${op}: input must be a Tensor`);
  x.storage(op);
  if (x.dtype !== 'float32') throw new Error(`${op}: expected a float32 input, got ${x.dtype}`);
  if (x.rank !== 4) throw new Error(`${op}: input must be 4-D [N, C, H, W], got ${fmtShape(x.shape)}`);
}

/** PyTorch's pooling output size, including its ceil_mode rule (the last window starts inside). */
function outSize(H: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const num = H + 2 * p - d * (k - 1) - 1;
  let o = (ceil ? Math.ceil(num / s) : Math.floor(num / s)) + 1;
  if (ceil && (o - 1) * s >= H + p) o--;
  return o;
}

function windowGeo(op: string, x: Tensor, kernelSize: Pair, stride: Pair | null | undefined, padding: Pair, dilation: Pair, ceil: boolean): PoolGeo {
  check4d(op, x);
  const [N, C, H, W] = x.shape;
  const [kh, kw] = pair(op, 'kernel_size', kernelSize, 1);
  const [sh, sw] = stride === undefined || stride === null ? [kh, kw] : pair(op, 'stride', stride, 1);
  const [ph, pw] = pair(op, 'padding', padding, 0);
  const [dh, dw] = pair(op, 'dilation', dilation, 1);
  if (typeof ceil !== 'boolean') throw new Error(`${op}: ceil_mode must be a boolean, got ${ceil}`);
  if (2 * ph > kh || 2 * pw > kw) throw new Error(`${op}: padding ${ph}x${pw} should be at most half of the kernel size ${kh}x${kw}`);
  const OH = outSize(H, kh, sh, ph, dh, ceil);
  const OW = outSize(W, kw, sw, pw, dw, ceil);
  if (OH < 1 || OW < 1) throw new Error(`${op}: input ${fmtShape(x.shape)} is too small for a ${kh}x${kw} window (dilation ${dh}x${dw}, padding ${ph}x${pw}): output would be ${OH}x${OW}`);
  return { N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, countPad: true, divisor: 0 };
}

function params(g: PoolGeo, xo: number, go: number): Uint32Array {
  return new Uint32Array([g.N, g.C, g.H, g.W, g.OH, g.OW, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.countPad ? 1 : 0, g.divisor, xo, go, 0, 0]);
}

function run(mode: Mode, g: PoolGeo, out: Tensor[], inputs: Tensor[], plane: number, xo: number, go: number, op: string): void {
  if (g.N * g.C * plane === 0) return;
  dispatch(poolKernel(mode), [...out.map((t) => t.buffer(op)), ...inputs.map((t) => t.buffer(op))], params(g, xo, go), [Math.ceil(plane / 64), g.C, g.N]);
}

function pooled(op: string, kind: 'max' | 'avg' | 'ada', x: Tensor, g: PoolGeo): Tensor {
  const { y, idx } = noGrad(() => {
    const xc = x.isContiguous ? x : contiguous(x);
    const out = empty([g.N, g.C, g.OH, g.OW], 'float32', op);
    const ix = kind === 'max' ? empty([g.N, g.C, g.OH, g.OW], 'int32', op) : null;
    run(`${kind}.fwd`, g, ix ? [out, ix] : [out], [xc], g.OH * g.OW, xc.offset, 0, op);
    if (xc !== x) xc.dispose();
    return { y: out, idx: ix };
  });
  const result = record(op, [x], y, idx ? [idx] : [], (gy, _needs, saved) => {
    const gc = gy.isContiguous ? gy : contiguous(gy);
    const dx = empty([g.N, g.C, g.H, g.W], 'float32', op);
    run(`${kind}.bwd`, g, [dx], idx ? [gc, saved[0]] : [gc], g.H * g.W, 0, gc.offset, op);
    if (gc !== gy) gc.dispose();
    return [dx];
  });
  idx?.dispose(); // when recorded, the graph keeps its own alias of the indices
  return result;
}

/**
 * torch.nn.functional.max_pool2d(input, kernel_size, stride=kernel_size, padding=0, dilation=1,
 * ceil_mode=False); the options may also be passed as one object after kernel_size.
 */
export function maxPool2d(x: Tensor, kernelSize: Pair, stride?: Pair | null | MaxPool2dOptions, padding: Pair = 0, dilation: Pair = 1, ceilMode = false): Tensor {
  const op = 'maxPool2d';
  let o: MaxPool2dOptions = { stride: stride as Pair | null | undefined, padding, dilation, ceilMode };
  if (stride !== null && typeof stride === 'object' && !Array.isArray(stride)) o = stride as MaxPool2dOptions;
  const g = windowGeo(op, x, kernelSize, o.stride, o.padding ?? 0, o.dilation ?? 1, o.ceilMode ?? false);
  return pooled(op, 'max', x, g);
}

/**
 * torch.nn.functional.avg_pool2d(input, kernel_size, stride=kernel_size, padding=0, ceil_mode=False,
 * count_include_pad=True, divisor_override=None); the options may also be one object after kernel_size.
 */
export function avgPool2d(x: Tensor, kernelSize: Pair, stride?: Pair | null | AvgPool2dOptions, padding: Pair = 0, ceilMode = false, countIncludePad = true, divisorOverride: number | null = null): Tensor {
  const op = 'avgPool2d';
  let o: AvgPool2dOptions = { stride: stride as Pair | null | undefined, padding, ceilMode, countIncludePad, divisorOverride };
  if (stride !== null && typeof stride === 'object' && !Array.isArray(stride)) o = stride as AvgPool2dOptions;
  const g = windowGeo(op, x, kernelSize, o.stride, o.padding ?? 0, 1, o.ceilMode ?? false);
  const div = o.divisorOverride ?? null;
  if (div !== null && (!Number.isInteger(div) || div < 1)) throw new Error(`${op}: divisor_override must be a positive integer, got ${div}`);
  if (typeof (o.countIncludePad ?? true) !== 'boolean') throw new Error(`${op}: count_include_pad must be a boolean`);
  g.countPad = o.countIncludePad ?? true;
  g.divisor = div ?? 0;
  return pooled(op, 'avg', x, g);
}

/** torch.nn.functional.adaptive_avg_pool2d(input, output_size); an entry of null keeps that input size. */
export function adaptiveAvgPool2d(x: Tensor, outputSize: number | readonly [number | null, number | null]): Tensor {
  const op = 'adaptiveAvgPool2d';
  check4d(op, x);
  const [N, C, H, W] = x.shape;
  const pairv = typeof outputSize === 'number' ? [outputSize, outputSize] : Array.isArray(outputSize) && outputSize.length === 2 ? outputSize : null;
  if (!pairv) throw new Error(`${op}: output_size must be an integer or a pair, got ${JSON.stringify(outputSize)}`);
  const OH = pairv[0] ?? H;
  const OW = pairv[1] ?? W;
  for (const v of [OH, OW]) if (!Number.isInteger(v) || v < 1) throw new Error(`${op}: output_size entries must be positive integers, got ${JSON.stringify(outputSize)}`);
  if (H === 0 || W === 0) throw new Error(`${op}: input ${fmtShape(x.shape)} has an empty spatial dimension`);
  const g: PoolGeo = { N, C, H, W, OH, OW, kh: 1, kw: 1, sh: 1, sw: 1, ph: 0, pw: 0, dh: 1, dw: 1, countPad: true, divisor: 0 };
  return pooled(op, 'ada', x, g);
}
