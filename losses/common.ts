// Argument checks and the loss reduction shared by the contrastive losses.
import { fmtShape } from '../engine/shape.js';
import { copyBuffer, dispatch } from '../engine/commands.js';
import { kernel, shaderSource } from '../engine/kernels.js';
import { empty, Tensor } from '../engine/tensor.js';
import { tensor } from '../engine/ops/creation.js';

/** Checks a [rows, d] float32 embedding tensor that is alive, with at least one row and one feature. */
export function checkEmbeddings(op: string, name: string, t: unknown, rank = 2): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new Error(`${op}: ${name} must be a Tensor`);
  t.storage(op);
  if (t.dtype !== 'float32') throw new Error(`${op}: ${name} must be float32, got ${t.dtype}`);
  if (t.rank !== rank) throw new Error(`${op}: ${name} must be ${rank === 2 ? '[N, d]' : `rank ${rank}`}, got ${fmtShape(t.shape)}`);
  if (t.shape.some((s) => s === 0)) throw new Error(`${op}: ${name} ${fmtShape(t.shape)} is empty`);
}

export function checkTemperature(op: string, tau: unknown): void {
  if (typeof tau !== 'number' || !Number.isFinite(tau) || tau <= 0) throw new Error(`${op}: temperature must be a finite number > 0, got ${tau}`);
}

/** The scalar loss: the sum of the forward kernels' per-anchor contributions (stats[2i].w), on the GPU. */
export function lossFromStats(stats: Tensor[]): Tensor {
  const op = 'contrastive loss';
  const out = empty([], 'float32', op);
  const k = kernel('contrastive_sum', () => shaderSource('contrastive_sum'));
  stats.forEach((st, i) => dispatch(k, [out.buffer(op), st.buffer(op)], new Uint32Array([st.shape[0], i > 0 ? 1 : 0, 0, 0]), [1]));
  return out;
}

/** Labels as an int32 tensor of length n (uploaded when given as host numbers). */
export function labelTensor(op: string, labels: Tensor | ArrayLike<number>, n: number): { t: Tensor; owned: boolean } {
  if (labels instanceof Tensor) {
    labels.storage(op);
    if (labels.dtype !== 'int32') throw new Error(`${op}: labels must be an int32 tensor, got ${labels.dtype}`);
    if (labels.rank !== 1 || labels.shape[0] !== n) throw new Error(`${op}: labels must be [${n}], got ${fmtShape(labels.shape)}`);
    if (!labels.isContiguous) throw new Error(`${op}: labels must be contiguous`);
    if (labels.offset !== 0) {
      return { t: copyToOffsetZero(labels), owned: true };
    }
    return { t: labels, owned: false };
  }
  if (labels === null || typeof labels !== 'object' || typeof (labels as ArrayLike<number>).length !== 'number') {
    throw new Error(`${op}: labels must be an int32 Tensor or an array of integers`);
  }
  const arr = Array.from(labels as ArrayLike<number>);
  if (arr.length !== n) throw new Error(`${op}: expected ${n} labels, got ${arr.length}`);
  const bad = arr.findIndex((v) => !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31);
  if (bad >= 0) throw new Error(`${op}: label ${arr[bad]} at position ${bad} is not an int32 integer`);
  return { t: tensor(Int32Array.from(arr), [n], { dtype: 'int32' }), owned: true };
}

function copyToOffsetZero(t: Tensor): Tensor {
  // An int32 view at a non-zero offset: the kernels index labels from 0, so copy it to offset 0.
  const out = empty(t.shape, 'int32', 'labels');
  copyBuffer(t.buffer('labels'), t.offset * 4, out.buffer('labels'), 0, t.size * 4);
  return out;
}

/** Checks a one-element float32 tensor. */
export function checkScalarTensor(op: string, name: string, t: unknown): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new Error(`${op}: ${name} must be a Tensor (one element)`);
  t.storage(op);
  if (t.dtype !== 'float32') throw new Error(`${op}: ${name} must be float32, got ${t.dtype}`);
  if (t.size !== 1) throw new Error(`${op}: ${name} must have one element, got shape ${fmtShape(t.shape)}`);
}
