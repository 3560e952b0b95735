// Reductions over any set of axes, with keepdim: sum, mean, max (kernels: shaders/reduce.wgsl,
// shaders/reduce_cols.wgsl), and var composed from them. Leading axes of a contiguous tensor are
// reduced column by column in place; otherwise the reduced axes are moved last (a strided copy when
// needed) so the row kernel sees contiguous rows.
import { dispatch, groups1d } from '../commands.js';
import { kernel, renderTemplate, shaderSource, type Kernel } from '../kernels.js';
import { fmtShape, normAxes, numel, sameShape, type Shape } from '../shape.js';
import { empty, record, type Tensor } from '../tensor.js';
import { div, eq, mul, sub } from './elementwise.js';
import { contiguous, expand, permute, reshape } from './shape.js';

const CHUNK = 256;
const KINDS = {
  sum: { init: '0.0', combine: 'acc + v' },
  max: { init: '-3.4028234663852886e38', combine: 'max(acc, v)' },
};

/**
 * Reduces `len` terms into each of `outputs` results in passes of at most CHUNK terms: a pass leaves
 * ceil(len / CHUNK) partials per result and the next one reduces those, until one is left (so every
 * sequential sum has <= CHUNK terms). `pass(src)` gives the kernel reading src and the outputs an
 * invocation computes (vw); both reduction kernels take Params (outputs / vw, len, CHUNK, chunks,
 * offset / vw, invocations per grid row, scale) and write outputs * chunks partials.
 */
function reducePasses(x: Tensor, outputs: number, len: number, scale: number, op: string, pass: (src: Tensor) => { k: Kernel; vw: number }): Tensor {
  let src = x;
  let curLen = len;
  for (;;) {
    const { k, vw } = pass(src);
    const chunks = Math.ceil(curLen / CHUNK) || 1;
    const out = empty([outputs * chunks], 'float32', op);
    const params = new Uint32Array(8);
    const f = new Float32Array(params.buffer);
    const [gx, gy] = groups1d(Math.ceil(((outputs / vw) * chunks) / 64));
    params.set([outputs / vw, curLen, CHUNK, chunks, src.offset / vw, gx * 64]);
    f[6] = chunks === 1 ? scale : 1;
    if (outputs > 0) dispatch(k, [out.buffer(op), src.buffer(op)], params, [gx, gy]);
    if (src !== x) src.dispose();
    if (chunks === 1) return out;
    src = out;
    curLen = chunks;
  }
}

/** Reduces each of `rows` contiguous rows of length `len` of x (from x.offset) to one value (shaders/reduce.wgsl). */
function reduceRows(kind: keyof typeof KINDS, x: Tensor, rows: number, len: number, scale: number, op: string): Tensor {
  const k = kernel(`reduce:${kind}`, () => renderTemplate(shaderSource('reduce'), { INIT: KINDS[kind].init, COMBINE: KINDS[kind].combine }));
  return reducePasses(x, rows, len, scale, op, () => ({ k, vw: 1 }));
}

/**
 * Reduces the `len` leading rows of x viewed as [len, cols] (contiguous from x.offset) column by
 * column (shaders/reduce_cols.wgsl), to `cols` values; vec4 columns where cols and the offset allow.
 */
function reduceCols(kind: keyof typeof KINDS, x: Tensor, len: number, cols: number, scale: number, op: string): Tensor {
  return reducePasses(x, cols, len, scale, op, (src) => {
    const vw = cols % 4 === 0 && src.offset % 4 === 0 ? 4 : 1;
    const k = kernel(`reduce_cols:${kind}:${vw}`, () =>
      renderTemplate(shaderSource('reduce_cols'), { V: vw === 4 ? 'vec4<f32>' : 'f32', INIT: KINDS[kind].init, COMBINE: KINDS[kind].combine }),
    );
    return { k, vw };
  });
}

function reduceAxes(kind: keyof typeof KINDS, x: Tensor, axesArg: number | number[] | undefined, keepdim: boolean, mean: boolean, op: string) {
  x.storage(op);
  if (x.dtype !== 'float32') throw new Error(`${op}: expected a float32 tensor, got ${x.dtype}`);
  const axes = normAxes(axesArg, x.rank, op);
  const kept = [...Array(x.rank).keys()].filter((d) => !axes.includes(d));
  const rows = numel(kept.map((d) => x.shape[d]));
  const len = numel(axes.map((d) => x.shape[d]));
  if (len === 0 && kind === 'max') throw new Error(`${op}: cannot take the max over an empty axis of ${fmtShape(x.shape)}`);
  // leading axes of a contiguous tensor: reduce its columns in place
  if (x.isContiguous && axes.every((d, i) => d === i) && rows > 1) {
    const flat = reduceCols(kind, x, len, rows, mean ? 1 / len : 1, op);
    const keepShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const out = reshape(flat, keepdim ? keepShape : kept.map((d) => x.shape[d]));
    if (out !== flat) flat.dispose();
    return { out, axes, keepShape, len };
  }
  const perm = [...kept, ...axes];
  const identity = perm.every((d, i) => d === i);
  let src = x;
  if (!identity || !x.isContiguous) {
    const moved = permute(x, perm);
    src = contiguous(moved);
    moved.dispose();
  }
  const flat = reduceRows(kind, src, rows, len, mean ? 1 / len : 1, op);
  if (src !== x) src.dispose();
  const keepShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const outShape = keepdim ? keepShape : kept.map((d) => x.shape[d]);
  const out = reshape(flat, outShape);
  if (out !== flat) flat.dispose();
  return { out, axes, keepShape, len };
}

/** Broadcasts a reduced gradient back over the reduced axes (a stride-0 view). */
function expandBack(g: Tensor, keepShape: Shape, full: Shape): Tensor {
  const r = reshape(g, keepShape);
  const e = expand(r, full);
  if (r !== g && r !== e) r.dispose();
  return e;
}

export function sum(x: Tensor, axes?: number | number[], keepdim = false): Tensor {
  const { out, keepShape } = reduceAxes('sum', x, axes, keepdim, false, 'sum');
  return record('sum', [x], out, [], (g) => [expandBack(g, keepShape, x.shape)]);
}

export function mean(x: Tensor, axes?: number | number[], keepdim = false): Tensor {
  const { out, keepShape, len } = reduceAxes('sum', x, axes, keepdim, true, 'mean');
  return record('mean', [x], out, [], (g) => {
    const e = expandBack(g, keepShape, x.shape);
    const r = mul(e, 1 / len);
    e.dispose();
    return [r];
  });
}

/** Max over axes; the gradient is shared equally among tied maxima (as torch.amax). */
export function max(x: Tensor, axes?: number | number[], keepdim = false): Tensor {
  const { out, axes: ax, keepShape } = reduceAxes('max', x, axes, keepdim, false, 'max');
  return record('max', [x], out, [x, out], (g, _n, [sx, sout]) => {
    const m = expandBack(sout, keepShape, x.shape);
    const mask = eq(sx, m);
    m.dispose();
    const count = sum(mask, ax, true);
    const gk = reshape(g, keepShape);
    const share = div(gk, count);
    const r = mul(mask, share);
    for (const t of [mask, count, share]) t.dispose();
    if (gk !== g) gk.dispose();
    return [r];
  });
}

/** Variance over axes with Bessel's correction by default (torch.var's `correction`). */
export function variance(x: Tensor, axes?: number | number[], keepdim = false, correction = 1): Tensor {
  const ax = normAxes(axes, x.rank, 'var');
  const n = numel(ax.map((d) => x.shape[d]));
  if (n - correction <= 0) throw new Error(`var: ${n} elements with correction ${correction} leave no degrees of freedom`);
  const mu = mean(x, ax, true);
  const d = sub(x, mu);
  const d2 = mul(d, d);
  const s = sum(d2, ax, keepdim);
  const v = div(s, n - correction);
  for (const t of [mu, d, d2, s]) t.dispose();
  return v;
}

/** Sums a broadcast gradient back to `shape` (the inverse of broadcasting). Returns g itself when equal. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const extra = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < extra || (shape[i - extra] === 1 && g.shape[i] !== 1)) axes.push(i);
  const s = sum(g, axes, true);
  const r = reshape(s, shape);
  if (r !== s) s.dispose();
  return r;
}
