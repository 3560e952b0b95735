// Pooling on NCHW input with torch.nn.functional's names and argument order: maxPool2d, avgPool2d,
// adaptiveAvgPool2d (any output size; 1x1 is the global average of ResNet heads), each with backward.
// Kernels: shaders/pool.wgsl (forward one output per invocation; backward gathers per input element,
// except max pooling's, which adds each output's gradient to its recorded input element, in phases of
// outputs whose windows cannot overlap).
import { noGrad } from '../autograd.js';
import { clearBuffer, dispatch, groups1d } from '../commands.js';
import { deviceContext } from '../device.js';
import { elementMain, elementTiling, kernel, renderTemplate, shaderSource, type Kernel } from '../kernels.js';
import { checkOptions, optionKeys } from '../options.js';
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

type Mode = 'max.fwd' | 'max.bwd' | 'avg.fwd' | 'avg.bwd' | 'ada.fwd' | 'ada.bwd' | 'gap.fwd';

/**
 * Window loops are generated straight-line for the pooling geometry (kernel size, stride, dilation are
 * baked in): out-of-range taps are masked with select on clamped loads, so no lane branches.
 */
function windowBodies(g: PoolGeo): Record<'max.fwd' | 'max.bwd' | 'avg.fwd' | 'avg.bwd', { bindings: string[]; body: string }> {
  const taps: string[] = [];
  const avgTaps: string[] = [];
  for (let a = 0; a < g.kh; a++) {
    for (let b = 0; b < g.kw; b++) {
      const t = `${a}_${b}`;
      const tap = [
        `let ih${t} = h0 + ${a * g.dh};`,
        `let iw${t} = w0 + ${b * g.dw};`,
        `let ok${t} = u32(ih${t}) < p.H && u32(iw${t}) < p.W;`,
        `let ix${t} = u32(clamp(ih${t}, 0, hMax)) * p.W + u32(clamp(iw${t}, 0, wMax));`,
        `let v${t} = x[base + ix${t}];`,
      ];
      taps.push(...tap, `let take${t} = ok${t} && (bi < 0 || v${t} > best || isNan(v${t}));`, `best = select(best, v${t}, take${t});`, `bi = select(bi, i32(ix${t}), take${t});`);
      avgTaps.push(...tap, `s = s + select(0.0, v${t}, ok${t});`);
    }
  }
  const winH = Math.ceil(((g.kh - 1) * g.dh + 1) / g.sh);
  const winW = Math.ceil(((g.kw - 1) * g.dw + 1) / g.sw);
  const gather = (maxMode: boolean): string[] => {
    const out: string[] = [];
    for (let a = 0; a < winH; a++) {
      for (let b = 0; b < winW; b++) {
        const t = `${a}_${b}`;
        out.push(
          `let oh${t} = oh0 + ${a};`,
          `let ow${t} = ow0 + ${b};`,
          `let ok${t} = oh${t} <= oh1 && ow${t} <= ow1;`,
          `let o${t} = (plane * p.OH + u32(min(oh${t}, i32(p.OH) - 1))) * p.OW + u32(min(ow${t}, i32(p.OW) - 1));`,
        );
        if (maxMode) out.push(`acc = acc + select(0.0, g[p.go + o${t}], ok${t} && idx[o${t}] == i32(i));`);
        else out.push(`acc = acc + select(0.0, g[p.go + o${t}] / avgDivisor(u32(max(oh${t}, 0)), u32(max(ow${t}, 0))), ok${t});`);
      }
    }
    return out;
  };
  const head = `
  let ow = gid.x;
  let oh = gid.y;
  let plane = gid.z + p._b;
  if (ow >= p.OW) { return; }
  let i = oh * p.OW + ow;
  let h0 = i32(oh * ${g.sh}u) - ${g.ph};
  let w0 = i32(ow * ${g.sw}u) - ${g.pw};
  let hMax = i32(p.H) - 1;
  let wMax = i32(p.W) - 1;
  let base = p.xo + plane * p.H * p.W;`;
  // first window whose last tap reaches the pixel, last window whose first tap is not past it
  const first = (i: string, k: number, s: number, pad: number, d: number) => `max(0, (i32(${i}) + ${pad - (k - 1) * d + s - 1}) / ${s})`;
  const bwdHead = (d: [number, number]) => `
  let iw = gid.x;
  let ih = gid.y;
  let plane = gid.z + p._b;
  if (iw >= p.W) { return; }
  let i = ih * p.W + iw;
  let oh0 = ${first('ih', g.kh, g.sh, g.ph, d[0])};
  let oh1 = min(i32(p.OH) - 1, i32((ih + ${g.ph}u) / ${g.sh}u));
  let ow0 = ${first('iw', g.kw, g.sw, g.pw, d[1])};
  let ow1 = min(i32(p.OW) - 1, i32((iw + ${g.pw}u) / ${g.sw}u));
  var acc = 0.0;`;
  const ind = (xs: string[]) => xs.map((l) => `  ${l}`).join('\n');
  return {
    'max.fwd': {
      bindings: ['var<storage, read_write> y: array<f32>', 'var<storage, read_write> idx: array<i32>', 'var<storage, read> x: array<f32>'],
      body: `${head}
  var best = bitcast<f32>(0xff800000u | p._a); // -inf (p._a = 0 keeps it a runtime value)
  var bi = -1;
${ind(taps)}
  y[plane * p.OH * p.OW + i] = best;
  idx[plane * p.OH * p.OW + i] = bi;`,
    },
    'max.bwd': {
      bindings: ['var<storage, read_write> dx: array<f32>', 'var<storage, read> g: array<f32>', 'var<storage, read> idx: array<i32>'],
      body: `${bwdHead([g.dh, g.dw])}
${ind(gather(true))}
  dx[plane * p.H * p.W + i] = acc;`,
    },
    'avg.fwd': {
      bindings: ['var<storage, read_write> y: array<f32>', 'var<storage, read> x: array<f32>'],
      body: `${head}
  var s = 0.0;
${ind(avgTaps)}
  y[plane * p.OH * p.OW + i] = s / avgDivisor(oh, ow);`,
    },
    'avg.bwd': {
      bindings: ['var<storage, read_write> dx: array<f32>', 'var<storage, read> g: array<f32>'],
      body: `${bwdHead([1, 1])}
${ind(gather(false))}
  dx[plane * p.H * p.W + i] = acc;`,
    },
  };
}

const ADAPTIVE: Record<'ada.fwd' | 'ada.bwd' | 'gap.fwd', { bindings: string[]; body: string }> = {
  // global average (output 1x1): one invocation per plane (the backward is globalAverageGrad)
  'gap.fwd': {
    bindings: ['var<storage, read_write> y: array<f32>', 'var<storage, read> x: array<f32>'],
    body: `
  let plane = gid.x;
  if (plane >= p.N * p.C) { return; }
  let base = p.xo + plane * p.H * p.W;
  var s = 0.0;
  for (var k = 0u; k < p.H * p.W; k = k + 1u) { s = s + x[base + k]; }
  y[plane] = s / f32(p.H * p.W);`,
  },
  'ada.fwd': {
    bindings: ['var<storage, read_write> y: array<f32>', 'var<storage, read> x: array<f32>'],
    body: `
  let i = gid.x;
  let plane = gid.z * p.C + gid.y;
  if (i >= p.OH * p.OW) { return; }
  let oh = i / p.OW;
  let ow = i - oh * p.OW;
  let h0 = adaStart(oh, p.H, p.OH);
  let h1 = adaEnd(oh, p.H, p.OH);
  let w0 = adaStart(ow, p.W, p.OW);
  let w1 = adaEnd(ow, p.W, p.OW);
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
  let i = gid.x;
  let plane = gid.z * p.C + gid.y;
  if (i >= p.H * p.W) { return; }
  let ih = i / p.W;
  let iw = i - ih * p.W;
  let oh0 = adaStart(ih, p.OH, p.H);
  let oh1 = adaEnd(ih, p.OH, p.H);
  let ow0 = adaStart(iw, p.OW, p.W);
  let ow1 = adaEnd(iw, p.OW, p.W);
  var acc = 0.0;
  for (var oh = oh0; oh < oh1; oh = oh + 1u) {
    let h0 = adaStart(oh, p.H, p.OH);
    let h1 = adaEnd(oh, p.H, p.OH);
    for (var ow = ow0; ow < ow1; ow = ow + 1u) {
      let w0 = adaStart(ow, p.W, p.OW);
      let w1 = adaEnd(ow, p.W, p.OW);
      acc = acc + g[p.go + (plane * p.OH + oh) * p.OW + ow] / f32((h1 - h0) * (w1 - w0));
    }
  }
  dx[plane * p.H * p.W + i] = acc;`,
  },
};

/**
 * max/avg kernels: invocations along a row and rows each visits. On CPU drivers, which start every
 * workgroup separately, avg kernels loop over 8 rows (avgpool 2x2 fwd+bwd [8,256,56,56]: 30-32 ->
 * 17-18 ms); max kernels do not, as the loop made them 10-25% slower (their running maximum and index
 * are blended with the loop's mask at every tap).
 */
function windowTiling(mode: Mode): { WG: number; ROWS: number } {
  return deviceContext().summary.isSoftware && mode.startsWith('avg') ? { WG: 16, ROWS: 8 } : { WG: 64, ROWS: 1 };
}

/**
 * The global average's backward, dx = g / (H * W) over each plane (shaders/pool_gap_grad.wgsl): the
 * flat output in elementTiling() blocks, with H * W baked in. One workgroup per plane ran
 * [8,2048,7,7] in 3.6-4.0 ms with 49 of 64 invocations busy in each of 16384 workgroups.
 */
function globalAverageGrad(g: PoolGeo, dx: Tensor, gy: Tensor, op: string): void {
  const HW = g.H * g.W;
  const n = g.N * g.C * HW;
  const k = kernel(`pool:gap.bwd:${HW}`, () => renderTemplate(shaderSource('pool_gap_grad'), { HW, ELEMENT_MAIN: elementMain() }));
  const [gx, gyGroups] = groups1d(Math.ceil(n / elementTiling().BLOCK));
  dispatch(k, [dx.buffer(op), gy.buffer(op)], new Uint32Array([n, gx, gy.offset, 0]), [gx, gyGroups]);
}

/** Declarations of a pool kernel's storage bindings, from binding 1 (0 is the Params). */
function bindingDecls(bindings: string[]): string {
  return bindings.map((b, i) => `@group(0) @binding(${i + 1}) ${b};`).join('\n');
}

function poolKernel(mode: Mode, g: PoolGeo): Kernel {
  const adaptive = mode.startsWith('ada') || mode.startsWith('gap');
  const geo = adaptive ? '' : `:${g.kh}x${g.kw}:s${g.sh}x${g.sw}:d${g.dh}x${g.dw}:p${g.ph}x${g.pw}`;
  return kernel(`pool:${mode}${geo}`, () => {
    const { bindings, body } = adaptive ? ADAPTIVE[mode as 'ada.fwd'] : windowBodies(g)[mode as 'max.fwd'];
    const decl = bindingDecls(bindings);
    if (adaptive) return renderTemplate(shaderSource('pool'), { WG: 64, BINDINGS: decl, BODY: `  let gid = gid0;\n${body}` });
    const { WG, ROWS } = windowTiling(mode);
    const height = mode.endsWith('fwd') ? 'p.OH' : 'p.H';
    const rows = `  for (var j = 0u; j < ${ROWS}u; j = j + 1u) {
  let gid = vec3<u32>(gid0.x, wid.y * ${ROWS}u + j, wid.z);
  if (gid.y >= ${height}) { return; }
${body}
  }`;
    return renderTemplate(shaderSource('pool'), { WG, BINDINGS: decl, BODY: rows });
  });
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

let maxScatter = true;

/** Tests and benchmarks: max pooling's backward by phases of outputs (true) or by gathering per input (false). */
export function setMaxPoolScatter(on: boolean): void {
  maxScatter = on;
}

/**
 * Max pooling's backward as a scatter: dx starts at zero and each output adds its gradient to the input
 * element its forward recorded (idx). Windows of outputs PH rows (or PW columns) apart, with PH = the
 * window's height over the stride rounded up, do not overlap, so the outputs are visited in PH x PW
 * phases, one dispatch each, and within a phase no two invocations touch the same element (no atomics;
 * the sums' order is fixed, so results are deterministic). Per output: 3 loads and a store, where the
 * gather reads the gradient and index of every window that could contain each input element (3x3
 * stride 2: 4 windows x 2 loads per input element, 4 inputs per output).
 */
function maxBackwardScatter(g: PoolGeo, dx: Tensor, gy: Tensor, idx: Tensor, op: string): void {
  const PH = Math.ceil(((g.kh - 1) * g.dh + 1) / g.sh);
  const PW = Math.ceil(((g.kw - 1) * g.dw + 1) / g.sw);
  clearBuffer(dx.buffer(op), dx.offset * 4, dx.size * 4);
  const WG = 16;
  const ROWS = 4; // rows of a phase a workgroup visits: 4 timed faster than 1, 2 and 8
  const planes = g.N * g.C;
  const maxG = 65535;
  for (let a = 0; a < PH && a < g.OH; a++) {
    for (let b = 0; b < PW && b < g.OW; b++) {
      const k = kernel(`pool:max.bwd.scatter:${PH}x${PW}:${a}x${b}`, () => {
        const decl = bindingDecls(['var<storage, read_write> dx: array<f32>', 'var<storage, read> g: array<f32>', 'var<storage, read> idx: array<i32>']);
        const body = `  let ow = ${b}u + ${PW}u * gid0.x;
  let plane = gid0.z + p._b;
  if (ow >= p.OW) { return; }
  for (var j = 0u; j < ${ROWS}u; j = j + 1u) {
    let oh = ${a}u + ${PH}u * (wid.y * ${ROWS}u + j);
    if (oh >= p.OH) { return; }
    let o = (plane * p.OH + oh) * p.OW + ow;
    let t = plane * p.H * p.W + u32(idx[o]);
    dx[t] = dx[t] + g[p.go + o];
  }`;
        return renderTemplate(shaderSource('pool'), { WG, BINDINGS: decl, BODY: body });
      });
      const cols = Math.ceil((g.OW - b) / PW);
      const rows = Math.ceil((g.OH - a) / PH);
      for (let p0 = 0; p0 < planes; p0 += maxG) {
        dispatch(k, [dx.buffer(op), gy.buffer(op), idx.buffer(op)], params(g, 0, gy.offset, p0), [Math.ceil(cols / WG), Math.ceil(rows / ROWS), Math.min(maxG, planes - p0)]);
      }
    }
  }
}

function params(g: PoolGeo, xo: number, go: number, planeOff: number): Uint32Array {
  return new Uint32Array([g.N, g.C, g.H, g.W, g.OH, g.OW, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.countPad ? 1 : 0, g.divisor, xo, go, 0, planeOff]);
}

function run(mode: Mode, g: PoolGeo, out: Tensor[], inputs: Tensor[], plane: number, xo: number, go: number, op: string): void {
  if (g.N * g.C * plane === 0) return;
  const bufs = [...out.map((t) => t.buffer(op)), ...inputs.map((t) => t.buffer(op))];
  const k = poolKernel(mode, g);
  if (mode.startsWith('ada')) {
    dispatch(k, bufs, params(g, xo, go, 0), [Math.ceil(plane / 64), g.C, g.N]);
    return;
  }
  if (mode === 'gap.fwd') {
    dispatch(k, bufs, params(g, xo, go, 0), [Math.ceil((g.N * g.C) / 64)]);
    return;
  }
  const [width, height] = mode.endsWith('fwd') ? [g.OW, g.OH] : [g.W, g.H];
  const planes = g.N * g.C;
  const maxG = 65535;
  const { WG, ROWS } = windowTiling(mode);
  for (let p0 = 0; p0 < planes; p0 += maxG) dispatch(k, bufs, params(g, xo, go, p0), [Math.ceil(width / WG), Math.ceil(height / ROWS), Math.min(maxG, planes - p0)]);
}

function pooled(op: string, kind: 'max' | 'avg' | 'ada' | 'gap', x: Tensor, g: PoolGeo): Tensor {
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
    if (kind === 'max' && maxScatter) maxBackwardScatter(g, dx, gc, saved[0], op);
    else if (kind === 'gap') globalAverageGrad(g, dx, gc, op);
    else run(`${kind}.bwd`, g, [dx], idx ? [gc, saved[0]] : [gc], g.H * g.W, 0, gc.offset, op);
    if (gc !== gy) gc.dispose();
    return [dx];
  });
  idx?.dispose(); // when recorded, the graph keeps its own alias of the indices
  return result;
}

const MAXPOOL_OPTIONS = optionKeys<MaxPool2dOptions>({ stride: 1, padding: 1, dilation: 1, ceilMode: 1 });
const AVGPOOL_OPTIONS = optionKeys<AvgPool2dOptions>({ stride: 1, padding: 1, ceilMode: 1, countIncludePad: 1, divisorOverride: 1 });

/**
 * torch.nn.functional.max_pool2d(input, kernel_size, stride=kernel_size, padding=0, dilation=1,
 * ceil_mode=False); the options may also be passed as one object after kernel_size.
 */
export function maxPool2d(x: Tensor, kernelSize: Pair, stride?: Pair | null | MaxPool2dOptions, padding: Pair = 0, dilation: Pair = 1, ceilMode = false): Tensor {
  const op = 'maxPool2d';
  let o: MaxPool2dOptions = { stride: stride as Pair | null | undefined, padding, dilation, ceilMode };
  if (stride !== null && typeof stride === 'object' && !Array.isArray(stride)) {
    checkOptions(op, stride, MAXPOOL_OPTIONS);
    o = stride as MaxPool2dOptions;
  }
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
  if (stride !== null && typeof stride === 'object' && !Array.isArray(stride)) {
    checkOptions(op, stride, AVGPOOL_OPTIONS);
    o = stride as AvgPool2dOptions;
  }
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
  return pooled(op, OH === 1 && OW === 1 ? 'gap' : 'ada', x, g);
}
