// crossEntropy(logits [N, C], labels [N]) with a fused, numerically stable kernel for the loss and
// one for its gradient (shaders/cross_entropy.wgsl, shaders/cross_entropy_backward.wgsl).
import { dispatch, groups1d } from '../commands.js';
import { kernel, shaderSource } from '../kernels.js';
import { checkOptions } from '../options.js';
import { fmtShape } from '../shape.js';
import { empty, record, Tensor } from '../tensor.js';
import { tensor } from './creation.js';
import { copy } from './elementwise.js';
import { mean, sum } from './reduce.js';
import { checkIndexRange } from './shape.js';

export interface CrossEntropyOptions {
  reduction?: 'mean' | 'sum' | 'none';
}

export function crossEntropy(logits: Tensor, labels: Tensor | ArrayLike<number>, options: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  checkOptions(op, options, ['reduction']);
  const reduction = options?.reduction ?? 'mean';
  if (!['mean', 'sum', 'none'].includes(reduction)) throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got '${reduction}'`);
  logits.storage(op);
  if (logits.rank !== 2) throw new Error(`${op}: logits must be [N, C], got ${fmtShape(logits.shape)}`);
  if (logits.dtype !== 'float32') throw new Error(`${op}: logits must be float32`);
  const [N, C] = logits.shape;
  if (C === 0) throw new Error(`${op}: logits ${fmtShape(logits.shape)} have no classes`);
  let lab: Tensor;
  if (labels instanceof Tensor) {
    labels.storage(op);
    if (labels.dtype !== 'int32') throw new Error(`${op}: labels must be an int32 tensor, got ${labels.dtype}`);
    lab = labels;
  } else {
    const arr = Array.from(labels as ArrayLike<number>);
    const bad = arr.findIndex((v) => !Number.isInteger(v));
    if (bad >= 0) throw new Error(`${op}: label ${arr[bad]} at position ${bad} is not an integer`);
    lab = tensor(Int32Array.from(arr), [arr.length], { dtype: 'int32' });
  }
  if (lab.rank !== 1 || lab.shape[0] !== N) {
    if (lab !== labels) lab.dispose();
    throw new Error(`${op}: labels must be [${N}] for logits ${fmtShape(logits.shape)}, got ${fmtShape(lab.shape)}`);
  }
  try {
    checkIndexRange(lab, C, op, 'labels');
  } catch (e) {
    if (lab !== labels) lab.dispose();
    throw e;
  }
  const x = logits.isContiguous ? logits : copy(logits);
  const perRow = empty([N], 'float32', op);
  const lse = empty([N], 'float32', op);
  if (N > 0) {
    const k = kernel('cross_entropy', () => shaderSource('cross_entropy'));
    const [gx, gy] = groups1d(Math.ceil(N / 64));
    dispatch(k, [perRow.buffer(op), lse.buffer(op), x.buffer(op), lab.buffer(op)], new Uint32Array([N, C, x.offset, gx * 64]), [gx, gy]);
  }
  const backward = (g: Tensor, _n: boolean[], [sx, slse, slab]: Tensor[]) => {
    const gc = g.isContiguous ? g : copy(g);
    const dx = empty([N, C], 'float32', 'crossEntropy.backward');
    const kb = kernel('cross_entropy_backward', () => shaderSource('cross_entropy_backward'));
    const params = new Uint32Array(8);
    const f = new Float32Array(params.buffer);
    const [gx, gy] = groups1d(Math.ceil((N * C) / 64));
    params.set([N, C, sx.offset, gx * 64]);
    f[4] = reduction === 'mean' ? 1 / N : 1;
    params[5] = reduction === 'none' ? 1 : 0;
    params[6] = gc.offset;
    if (N * C > 0) {
      dispatch(kb, [dx.buffer('crossEntropy.backward'), sx.buffer('crossEntropy.backward'), slse.buffer('crossEntropy.backward'), slab.buffer('crossEntropy.backward'), gc.buffer('crossEntropy.backward')], params, [gx, gy]);
    }
    if (gc !== g) gc.dispose();
    return [dx];
  };
  const reduced = reduction === 'none' ? perRow : reduction === 'mean' ? mean(perRow) : sum(perRow);
  if (reduced !== perRow) perRow.dispose();
  const out = record(op, [logits], reduced, [x, lse, lab], backward);
  lse.dispose();
  if (x !== logits) x.dispose();
  if (lab !== labels) lab.dispose();
  return out;
}
