// softmax, logSoftmax and logsumexp along one axis (kernel: shaders/softmax.wgsl); backward composed
// from pointwise ops and sums.
import { dispatch, groups1d } from '../commands.js';
import { kernel, renderTemplate, shaderSource } from '../kernels.js';
import { normAxis } from '../shape.js';
import { empty, record, type Tensor } from '../tensor.js';
import { exp, mul, sub } from './elementwise.js';
import { sum } from './reduce.js';
import { contiguous, permute, reshape } from './shape.js';
import { copy } from './elementwise.js';

const WRITES = {
  softmax: '  let inv = 1.0 / s;\n  for (var k = 0u; k < p.len; k = k + 1u) { out[obase + k] = exp(x[base + k] - m) * inv; }',
  logSoftmax: '  let ls = m + log(s);\n  for (var k = 0u; k < p.len; k = k + 1u) { out[obase + k] = x[base + k] - ls; }',
  logsumexp: '  out[r] = m + log(s);',
};
type Mode = keyof typeof WRITES;

function rowKernel(mode: Mode, x: Tensor, axisArg: number, op: string): { out: Tensor; shapeLast: number[]; perm: number[] } {
  x.storage(op);
  if (x.dtype !== 'float32') throw new Error(`${op}: expected a float32 tensor, got ${x.dtype}`);
  if (x.rank === 0) throw new Error(`${op}: needs a tensor with at least one dim`);
  const axis = normAxis(axisArg, x.rank, op);
  const perm = [...Array(x.rank).keys()].filter((d) => d !== axis).concat(axis);
  const moved = axis === x.rank - 1 ? x : permute(x, perm);
  const src = moved.isContiguous ? moved : copy(moved);
  const len = x.shape[axis];
  const rows = len ? x.size / len : 0;
  const out = empty(mode === 'logsumexp' ? [rows] : src.shape, 'float32', op);
  if (rows > 0) {
    const k = kernel(`softmax:${mode}`, () => renderTemplate(shaderSource('softmax'), { WRITE: WRITES[mode] }));
    const [gx, gy] = groups1d(Math.ceil(rows / 64));
    dispatch(k, [out.buffer(op), src.buffer(op)], new Uint32Array([rows, len, src.offset, gx * 64]), [gx, gy]);
  }
  if (src !== moved) src.dispose();
  if (moved !== x) moved.dispose();
  return { out, shapeLast: [...src.shape], perm };
}

/** Puts a last-axis result back in the original axis order (a contiguous copy when it moved). */
function restore(t: Tensor, perm: number[], axisIsLast: boolean): Tensor {
  if (axisIsLast) return t;
  const inv = new Array<number>(perm.length);
  perm.forEach((src, i) => (inv[src] = i));
  const p = permute(t, inv);
  const c = contiguous(p);
  p.dispose();
  t.dispose();
  return c;
}

export function softmax(x: Tensor, axis = -1): Tensor {
  const ax = normAxis(axis, Math.max(x.rank, 1), 'softmax');
  const { out, perm } = rowKernel('softmax', x, ax, 'softmax');
  const y = restore(out, perm, ax === x.rank - 1);
  return record('softmax', [x], y, [y], (g, _n, [sy]) => {
    const gy = mul(g, sy);
    const s = sum(gy, ax, true);
    const d = sub(g, s);
    const r = mul(sy, d);
    for (const t of [gy, s, d]) t.dispose();
    return [r];
  });
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const ax = normAxis(axis, Math.max(x.rank, 1), 'logSoftmax');
  const { out, perm } = rowKernel('logSoftmax', x, ax, 'logSoftmax');
  const y = restore(out, perm, ax === x.rank - 1);
  return record('logSoftmax', [x], y, [y], (g, _n, [sy]) => {
    const p = exp(sy);
    const s = sum(g, ax, true);
    const ps = mul(p, s);
    const r = sub(g, ps);
    for (const t of [p, s, ps]) t.dispose();
    return [r];
  });
}

export function logsumexp(x: Tensor, axis = -1, keepdim = false): Tensor {
  const ax = normAxis(axis, Math.max(x.rank, 1), 'logsumexp');
  const { out } = rowKernel('logsumexp', x, ax, 'logsumexp');
  const keepShape = x.shape.map((d, i) => (i === ax ? 1 : d));
  const y = reshape(out, keepdim ? keepShape : x.shape.filter((_, i) => i !== ax));
  out.dispose();
  return record('logsumexp', [x], y, [x, y], (g, _n, [sx, sy]) => {
    const yk = reshape(sy, keepShape);
    const gk = reshape(g, keepShape);
    const d = sub(sx, yk);
    const e = exp(d);
    const r = mul(e, gk);
    for (const t of [yk, gk, d, e]) t.dispose();
    return [r];
  });
}
