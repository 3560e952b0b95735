// batchNorm2d (torch.nn.functional.batch_norm's names and argument order) on NCHW input, and the
// fused BN+ReLU that ResNet-style blocks use. Training mode normalizes with the batch statistics
// (biased variance), updates the running statistics in place as PyTorch does (unbiased variance),
// and backpropagates through the batch statistics; eval mode uses the running statistics.
// Kernels: shaders/batchnorm_stats.wgsl (per-plane partial sums), batchnorm_finalize.wgsl
// (per-channel merge into coefficients), batchnorm_apply.wgsl (the elementwise pass).
import { noGrad } from '../autograd.js';
import { dispatch } from '../commands.js';
import { deviceContext } from '../device.js';
import { kernel, renderTemplate, shaderSource, type Kernel } from '../kernels.js';
import { checkOptions, optionKeys } from '../options.js';
import { fmtShape } from '../shape.js';
import { empty, record, Tensor } from '../tensor.js';
import { contiguous } from './shape.js';

export interface BatchNormOptions {
  /** Batch statistics (and running-statistics update) when true; running statistics when false. */
  training?: boolean;
  momentum?: number;
  eps?: number;
}

type Mode = 'fwd' | 'bwd' | 'eval';

/** f32 or vec4<f32> storage (vec4: HW and the offsets of x and g are multiples of 4). */
const arr = (v: boolean) => (v ? 'array<vec4<f32>>' : 'array<f32>');

function statsKernel(mode: 'fwd' | 'bwd', v: boolean): Kernel {
  const bindings = [`@group(0) @binding(2) var<storage, read> x: ${arr(v)};`];
  if (mode === 'bwd') bindings.push(`@group(0) @binding(3) var<storage, read> g: ${arr(v)};`, '@group(0) @binding(4) var<storage, read> coef: array<vec4<f32>>;');
  const hsum = (e: string) => `(${e}.x + ${e}.y + ${e}.z + ${e}.w)`;
  let body: string;
  if (mode === 'fwd' && !v) {
    body = `  var s = 0.0;
  for (var i = 0u; i < p.HW; i = i + 1u) { s = s + x[p.xo + base + i]; }
  let mean = s / f32(p.HW);
  var m2 = 0.0;
  for (var i = 0u; i < p.HW; i = i + 1u) { let d = x[p.xo + base + i] - mean; m2 = m2 + d * d; }`;
  } else if (mode === 'fwd') {
    body = `  let b4 = (p.xo + base) / 4u;
  let n4 = p.HW / 4u;
  var s = vec4<f32>(0.0);
  for (var i = 0u; i < n4; i = i + 1u) { s = s + x[b4 + i]; }
  let mean = ${hsum('s')} / f32(p.HW);
  var q = vec4<f32>(0.0);
  for (var i = 0u; i < n4; i = i + 1u) { let d = x[b4 + i] - vec4<f32>(mean); q = q + d * d; }
  let m2 = ${hsum('q')};`;
  } else if (!v) {
    body = `  let k = coef[c];
  var sg = 0.0;
  var sgx = 0.0;
  for (var i = 0u; i < p.HW; i = i + 1u) {
    let xv = x[p.xo + base + i];
    let gv = select(g[p.go + base + i], 0.0, p.relu != 0u && xv * k.x + k.y <= 0.0);
    sg = sg + gv;
    sgx = sgx + gv * (xv - k.z);
  }`;
  } else {
    body = `  let k = coef[c];
  let xb = (p.xo + base) / 4u;
  let gb = (p.go + base) / 4u;
  let n4 = p.HW / 4u;
  let masked = vec4<bool>(p.relu != 0u);
  var sg4 = vec4<f32>(0.0);
  var sgx4 = vec4<f32>(0.0);
  for (var i = 0u; i < n4; i = i + 1u) {
    let xv = x[xb + i];
    let gv = select(g[gb + i], vec4<f32>(0.0), masked & (xv * k.x + k.y <= vec4<f32>(0.0)));
    sg4 = sg4 + gv;
    sgx4 = sgx4 + gv * (xv - vec4<f32>(k.z));
  }
  let sg = ${hsum('sg4')};
  let sgx = ${hsum('sgx4')};`;
  }
  body += mode === 'fwd' ? `
  out[(c * p.N + n) * 2u] = mean;
  out[(c * p.N + n) * 2u + 1u] = m2;` : `
  out[(c * p.N + n) * 2u] = sg;
  out[(c * p.N + n) * 2u + 1u] = sgx;`;
  return kernel(`batchnorm_stats:${mode}:${v ? 'vec4' : 'f32'}`, () => renderTemplate(shaderSource('batchnorm_stats'), { BINDINGS: bindings.join('\n'), BODY: body }));
}

function finalizeKernel(mode: Mode): Kernel {
  const bindings = [
    '@group(0) @binding(1) var<storage, read_write> coef: array<vec4<f32>>;',
    '@group(0) @binding(2) var<storage, read> part: array<f32>;',
    '@group(0) @binding(3) var<storage, read> w: array<f32>;',
    '@group(0) @binding(4) var<storage, read> b: array<f32>;',
    mode === 'bwd'
      ? '@group(0) @binding(5) var<storage, read_write> dwb: array<f32>;\n@group(0) @binding(6) var<storage, read> fcoef: array<vec4<f32>>;'
      : '@group(0) @binding(5) var<storage, read_write> rm: array<f32>;\n@group(0) @binding(6) var<storage, read_write> rv: array<f32>;',
  ].join('\n');
  const affine = `  let wv = select(1.0, w[p.wo + c], p.hasW != 0u);\n  let bv = select(0.0, b[p.bo + c], p.hasB != 0u);`;
  let body: string;
  if (mode === 'fwd') {
    body = `${affine}
  var cnt = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  let nb = f32(p.HW);
  for (var n = 0u; n < p.N; n = n + 1u) {
    let pm = part[(c * p.N + n) * 2u];
    let pm2 = part[(c * p.N + n) * 2u + 1u];
    let tot = cnt + nb;
    let d = pm - mean;
    mean = mean + d * (nb / tot);
    m2 = m2 + pm2 + d * d * (cnt * nb / tot);
    cnt = tot;
  }
  let invstd = inverseSqrt(m2 / cnt + p.eps);
  let scale = wv * invstd;
  coef[c] = vec4<f32>(scale, bv - mean * scale, mean, invstd);
  if (p.training != 0u) {
    rm[p.rmo + c] = (1.0 - p.momentum) * rm[p.rmo + c] + p.momentum * mean;
    rv[p.rvo + c] = (1.0 - p.momentum) * rv[p.rvo + c] + p.momentum * (m2 / (cnt - 1.0));
  }
  _ = part[0];`;
  } else if (mode === 'eval') {
    body = `${affine}
  let mean = rm[p.rmo + c];
  let invstd = inverseSqrt(rv[p.rvo + c] + p.eps);
  let scale = wv * invstd;
  coef[c] = vec4<f32>(scale, bv - mean * scale, mean, invstd);
  _ = part[0];`;
  } else {
    body = `${affine}
  _ = bv;
  let f = fcoef[c];
  var sg = 0.0;
  var sgx = 0.0;
  for (var n = 0u; n < p.N; n = n + 1u) {
    sg = sg + part[(c * p.N + n) * 2u];
    sgx = sgx + part[(c * p.N + n) * 2u + 1u];
  }
  let m = f32(p.N * p.HW);
  let a = wv * f.w;
  var bb = 0.0;
  var cc = 0.0;
  if (p.training != 0u) {
    bb = -wv * f.w * f.w * f.w * sgx / m;
    cc = -a * sg / m - bb * f.z;
  }
  coef[c] = vec4<f32>(a, bb, cc, 0.0);
  dwb[c] = sgx * f.w;
  dwb[p.C + c] = sg;`;
  }
  return kernel(`batchnorm_finalize:${mode}`, () => renderTemplate(shaderSource('batchnorm_finalize'), { BINDINGS: bindings, BODY: body }));
}

function applyKernel(mode: 'fwd' | 'bwd', v: boolean): Kernel {
  const bindings = [`@group(0) @binding(1) var<storage, read_write> out: ${arr(v)};`, `@group(0) @binding(2) var<storage, read> x: ${arr(v)};`];
  // the backward pass also needs the forward coefficients (for the ReLU mask)
  if (mode === 'bwd') bindings.push(`@group(0) @binding(4) var<storage, read> g: ${arr(v)};`, '@group(0) @binding(5) var<storage, read> fcoef: array<vec4<f32>>;');
  let body: string;
  if (!v) {
    const inner =
      mode === 'fwd'
        ? `    let v = x[p.xo + base + i] * k.x + k.y;
    out[base + i] = select(v, max(v, 0.0), p.relu != 0u);`
        : `    let xv = x[p.xo + base + i];
    let gv = select(g[p.go + base + i], 0.0, p.relu != 0u && xv * fk.x + fk.y <= 0.0);
    out[base + i] = k.x * gv + k.y * xv + k.z;`;
    body = `${mode === 'bwd' ? '  let fk = fcoef[c];\n' : ''}  let end = min(i0 + 4u, p.HW);
  for (var i = i0; i < end; i = i + 1u) {
${inner}
  }`;
  } else {
    body =
      mode === 'fwd'
        ? `  let v = x[(p.xo + base + i0) / 4u] * k.x + k.y;
  out[(base + i0) / 4u] = select(v, max(v, vec4<f32>(0.0)), p.relu != 0u);`
        : `  let fk = fcoef[c];
  let xv = x[(p.xo + base + i0) / 4u];
  let gv = select(g[(p.go + base + i0) / 4u], vec4<f32>(0.0), vec4<bool>(p.relu != 0u) & (xv * fk.x + fk.y <= vec4<f32>(0.0)));
  out[(base + i0) / 4u] = k.x * gv + k.y * xv + vec4<f32>(k.z);`;
  }
  const { WG, PER } = applyTiling();
  return kernel(`batchnorm_apply:${mode}:${v ? 'vec4' : 'f32'}`, () => renderTemplate(shaderSource('batchnorm_apply'), { WG, PER, BLOCK: WG * PER, BINDINGS: bindings.join('\n'), BODY: body }));
}

/** Invocations per apply workgroup and groups of 4 elements each visits: CPU drivers start every workgroup separately. */
function applyTiling(): { WG: number; PER: number } {
  return deviceContext().summary.isSoftware ? { WG: 16, PER: 16 } : { WG: 64, PER: 1 };
}

/** The apply pass's grid for N planes of C channels and HW elements. */
function applyGrid(N: number, C: number, HW: number): [number, number, number] {
  const { WG, PER } = applyTiling();
  return [Math.ceil(HW / (4 * WG * PER)), C, N];
}

function checkChannelVector(op: string, t: Tensor | null | undefined, C: number, what: string): void {
  if (t === null || t === undefined) return;
  if (!(t instanceof Tensor)) throw new Error(`${op}: ${what} must be a Tensor or null`);
  t.storage(op);
  if (t.dtype !== 'float32') throw new Error(`${op}: ${what} must be float32, got ${t.dtype}`);
  if (t.rank !== 1 || t.shape[0] !== C) throw new Error(`${op}: ${what} must have shape [${C}] (one per channel), got ${fmtShape(t.shape)}`);
}

const BATCHNORM_OPTIONS = optionKeys<BatchNormOptions>({ training: 1, momentum: 1, eps: 1 });

function batchNormImpl(op: string, relu: boolean, x: Tensor, runningMean: Tensor | null | undefined, runningVar: Tensor | null | undefined, weight: Tensor | null | undefined, bias: Tensor | null | undefined, opts: BatchNormOptions): Tensor {
  if (!(x instanceof Tensor)) throw new Error(`${op}: input must be a Tensor`);
  x.storage(op);
  if (x.dtype !== 'float32') throw new Error(`${op}: expected a float32 input, got ${x.dtype}`);
  if (x.rank !== 4) throw new Error(`${op}: input must be 4-D [N, C, H, W], got ${fmtShape(x.shape)}`);
  if (opts === null || typeof opts !== 'object') throw new Error(`${op}: options must be an object { training, momentum, eps }`);
  checkOptions(op, opts, BATCHNORM_OPTIONS);
  const [N, C, H, W] = x.shape;
  const HW = H * W;
  const training = opts.training ?? false;
  const momentum = opts.momentum ?? 0.1;
  const eps = opts.eps ?? 1e-5;
  if (typeof training !== 'boolean') throw new Error(`${op}: training must be a boolean, got ${training}`);
  if (typeof momentum !== 'number' || !Number.isFinite(momentum)) throw new Error(`${op}: momentum must be a finite number, got ${momentum}`);
  if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) throw new Error(`${op}: eps must be a positive number, got ${eps}`);
  checkChannelVector(op, runningMean, C, 'running_mean');
  checkChannelVector(op, runningVar, C, 'running_var');
  checkChannelVector(op, weight, C, 'weight');
  checkChannelVector(op, bias, C, 'bias');
  if (!training && (!runningMean || !runningVar)) throw new Error(`${op}: running_mean and running_var must be given in eval mode (training = false)`);
  if ((runningMean == null) !== (runningVar == null)) throw new Error(`${op}: give both running_mean and running_var, or neither`);
  for (const [t, what] of [[runningMean, 'running_mean'], [runningVar, 'running_var']] as const) {
    if (t && !t.isContiguous) throw new Error(`${op}: ${what} must be contiguous (it is updated in place)`);
  }
  if (training && N * HW <= 1) throw new Error(`${op}: expected more than 1 value per channel when training, got input of shape ${fmtShape(x.shape)}`);
  const w = weight ?? null;
  const b = bias ?? null;
  const mode: Mode = training ? 'fwd' : 'eval';
  const { y, coef } = noGrad(() => {
    const xc = x.isContiguous ? x : contiguous(x);
    const vecX = HW % 4 === 0 && xc.offset % 4 === 0;
    const coefT = empty([C, 4], 'float32', op);
    const out = empty([N, C, H, W], 'float32', op);
    if (C > 0) {
      let part: Tensor | null = null;
      if (training && N * HW > 0) {
        part = empty([C, N, 2], 'float32', op);
        dispatch(statsKernel('fwd', vecX), [part.buffer(op), xc.buffer(op)], new Uint32Array([N, C, HW, 0, xc.offset, 0, 0, 0]), [Math.ceil(C / 64), N]);
      }
      const dummies: Tensor[] = [];
      const dummy = () => {
        const t = empty([1], 'float32', op);
        dummies.push(t);
        return t.buffer(op);
      };
      const readDummy = xc.buffer(op); // bound read-only where an optional input is absent
      const params = new Uint32Array(12);
      const f = new Float32Array(params.buffer);
      params.set([N, C, HW, w ? 1 : 0, b ? 1 : 0, training && runningMean ? 1 : 0]);
      f[6] = momentum;
      f[7] = eps;
      params.set([w?.offset ?? 0, b?.offset ?? 0, runningMean?.offset ?? 0, runningVar?.offset ?? 0], 8);
      dispatch(
        finalizeKernel(mode),
        [coefT.buffer(op), part ? part.buffer(op) : readDummy, w ? w.buffer(op) : readDummy, b ? b.buffer(op) : readDummy, runningMean ? runningMean.buffer(op) : dummy(), runningVar ? runningVar.buffer(op) : dummy()],
        params,
        [Math.ceil(C / 64)],
      );
      if (N * C * HW > 0) {
        dispatch(applyKernel('fwd', vecX), [out.buffer(op), xc.buffer(op), coefT.buffer(op)], new Uint32Array([N, C, HW, relu ? 1 : 0, xc.offset, 0, 0, 0]), applyGrid(N, C, HW));
      }
      part?.dispose();
      for (const d of dummies) d.dispose();
    }
    if (xc !== x) xc.dispose();
    return { y: out, coef: coefT };
  });
  const inputs = [x, ...(w ? [w] : []), ...(b ? [b] : [])];
  const result = record(op, inputs, y, [x, coef, ...(w ? [w] : [])], (g, needs, saved) => {
    const [sx, scoef, sw] = saved;
    const xc = sx.isContiguous ? sx : contiguous(sx);
    const gc = g.isContiguous ? g : contiguous(g);
    const part = empty([C, N, 2], 'float32', op);
    const dcoef = empty([C, 4], 'float32', op);
    const dwb = empty([2, C], 'float32', op);
    const dx = empty([N, C, H, W], 'float32', op);
    const shape = new Uint32Array([N, C, HW, relu ? 1 : 0, xc.offset, gc.offset, 0, 0]);
    const vec = HW % 4 === 0 && xc.offset % 4 === 0 && gc.offset % 4 === 0;
    if (N * C * HW > 0) dispatch(statsKernel('bwd', vec), [part.buffer(op), xc.buffer(op), gc.buffer(op), scoef.buffer(op)], shape, [Math.ceil(C / 64), N]);
    const params = new Uint32Array(12);
    params.set([N, C, HW, sw ? 1 : 0, 0, training ? 1 : 0, 0, 0, sw?.offset ?? 0, 0, 0, 0]);
    if (C > 0) {
      dispatch(finalizeKernel('bwd'), [dcoef.buffer(op), part.buffer(op), sw ? sw.buffer(op) : part.buffer(op), part.buffer(op), dwb.buffer(op), scoef.buffer(op)], params, [Math.ceil(C / 64)]);
    }
    if (N * C * HW > 0) dispatch(applyKernel('bwd', vec), [dx.buffer(op), xc.buffer(op), dcoef.buffer(op), gc.buffer(op), scoef.buffer(op)], shape, applyGrid(N, C, HW));
    part.dispose();
    dcoef.dispose();
    if (xc !== sx) xc.dispose();
    if (gc !== g) gc.dispose();
    const grads: (Tensor | null)[] = [needs[0] ? dx : null];
    if (!needs[0]) dx.dispose();
    let i = 1;
    if (w) grads.push(needs[i++] ? dwb.view([C], [1], 0) : null);
    if (b) grads.push(needs[i++] ? dwb.view([C], [1], C) : null);
    dwb.dispose();
    return grads;
  });
  coef.dispose(); // when recorded, the graph holds its own alias of the coefficients
  return result;
}

/**
 * torch.nn.functional.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
 * on NCHW input; running statistics (or null, in training mode only) are updated in place when training.
 */
export function batchNorm2d(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight?: Tensor | null, bias?: Tensor | null, opts: BatchNormOptions = {}): Tensor {
  return batchNormImpl('batchNorm2d', false, x, runningMean, runningVar, weight, bias, opts);
}

/** relu(batchNorm2d(...)) in one elementwise pass forward and backward (the common conv-BN-ReLU case). */
export function batchNorm2dRelu(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight?: Tensor | null, bias?: Tensor | null, opts: BatchNormOptions = {}): Tensor {
  return batchNormImpl('batchNorm2dRelu', true, x, runningMean, runningVar, weight, bias, opts);
}
