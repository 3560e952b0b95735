// matmul (2-D, batched with broadcasting, 1-D operands as in torch.matmul) and linear.
// Kernel: shaders/matmul.wgsl; transposed operands are passed as strides, never copied.
import { dispatch } from '../commands.js';
import { kernel, shaderSource } from '../kernels.js';
import { broadcastShapes, fmtShape, numel } from '../shape.js';
import { empty, record, Tensor } from '../tensor.js';
import { add } from './elementwise.js';
import { sumTo } from './reduce.js';
import { copy } from './elementwise.js';
import { expand, reshape, transpose } from './shape.js';

/** Collapses broadcast batch dims of `t` (expanded to `batch`) into one stride, or null if impossible. */
function batchStride(t: Tensor, batch: number[]): number | null {
  const r = t.rank - 2;
  const strides = batch.map((d, i) => {
    const j = i - (batch.length - r);
    if (j < 0 || t.shape[j] === 1) return 0;
    return t.strides[j];
  });
  const live = batch.map((d, i) => (d === 1 ? null : strides[i])).filter((s): s is number => s !== null);
  const sizes = batch.filter((d) => d !== 1);
  if (live.every((s) => s === 0)) return 0;
  for (let i = 0; i < live.length - 1; i++) if (live[i] !== live[i + 1] * sizes[i + 1]) return null;
  return live.length ? live[live.length - 1] : 0;
}

/** The kernel on rank >= 2 operands. */
function matmulNd(a: Tensor, b: Tensor): Tensor {
  const op = 'matmul';
  const M = a.shape[a.rank - 2];
  const K = a.shape[a.rank - 1];
  const K2 = b.shape[b.rank - 2];
  const N = b.shape[b.rank - 1];
  if (K !== K2) throw new Error(`matmul: inner dimensions differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} (${K} vs ${K2})`);
  const batch = broadcastShapes(op, a.shape.slice(0, -2), b.shape.slice(0, -2));
  const nb = numel(batch);
  const outShape = [...batch, M, N];
  if (nb > 65535) throw new Error(`matmul: ${nb} batches exceed 65535`);
  let aa = a;
  let bb = b;
  let sAb = batchStride(a, batch);
  if (sAb === null) {
    const e = expand(a, [...batch, M, K]);
    aa = copy(e);
    e.dispose();
    sAb = M * K;
  }
  let sBb = batchStride(b, batch);
  if (sBb === null) {
    const e = expand(b, [...batch, K, N]);
    bb = copy(e);
    e.dispose();
    sBb = K * N;
  }
  const out = empty(outShape, 'float32', op);
  if (M * N * nb > 0) {
    const k = kernel('matmul', () => shaderSource('matmul'));
    const params = new Uint32Array([
      M, N, K, 0,
      aa.offset, sAb, aa.strides[aa.rank - 2], aa.strides[aa.rank - 1],
      bb.offset, sBb, bb.strides[bb.rank - 2], bb.strides[bb.rank - 1],
    ]);
    if (K === 0) {
      // an empty inner dimension gives zeros; the kernel's loop simply does not run
    }
    dispatch(k, [out.buffer(op), aa.buffer(op), bb.buffer(op)], params, [Math.ceil(N / 32), Math.ceil(M / 32), nb]);
  }
  if (aa !== a) aa.dispose();
  if (bb !== b) bb.dispose();
  return record('matmul', [a, b], out, [a, b], (g, needs, [sa, sb]) => {
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (needs[0]) {
      const bt = transpose(sb, -2, -1);
      const full = matmulNd(g, bt);
      bt.dispose();
      ga = sumTo(full, a.shape);
      if (ga !== full) full.dispose();
    }
    if (needs[1]) {
      const at = transpose(sa, -2, -1);
      const full = matmulNd(at, g);
      at.dispose();
      gb = sumTo(full, b.shape);
      if (gb !== full) full.dispose();
    }
    return [ga, gb];
  });
}

/** torch.matmul semantics: 1-D operands are promoted (and the added dim removed afterwards). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (!(a instanceof Tensor) || !(b instanceof Tensor)) throw new Error('matmul: both operands must be Tensors');
  a.storage('matmul');
  b.storage('matmul');
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error(`matmul: expected float32 tensors, got ${a.dtype} and ${b.dtype}`);
  if (a.rank === 0 || b.rank === 0) throw new Error(`matmul: operands must have at least one dim, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const a2 = a.rank === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const b2 = b.rank === 1 ? reshape(b, [b.shape[0], 1]) : b;
  if (a2.shape[a2.rank - 1] !== b2.shape[b2.rank - 2]) {
    throw new Error(`matmul: inner dimensions differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`);
  }
  const out = matmulNd(a2, b2);
  if (a2 === a && b2 === b) return out;
  if (a2 !== a) a2.dispose();
  if (b2 !== b) b2.dispose();
  const shape = [...out.shape];
  if (b.rank === 1) shape.splice(shape.length - 1, 1);
  if (a.rank === 1) shape.splice(shape.length - (b.rank === 1 ? 1 : 2), 1);
  const r = reshape(out, shape);
  out.dispose();
  return r;
}

/** y = x @ w^T + b, with w of shape [out, in] as in torch.nn.functional.linear. */
export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  x.storage('linear');
  w.storage('linear');
  if (w.rank !== 2) throw new Error(`linear: weight must be 2-D [out, in], got ${fmtShape(w.shape)}`);
  if (x.shape[x.rank - 1] !== w.shape[1]) {
    throw new Error(`linear: input features ${x.shape[x.rank - 1]} (shape ${fmtShape(x.shape)}) do not match weight ${fmtShape(w.shape)}`);
  }
  if (b && (b.rank !== 1 || b.shape[0] !== w.shape[0])) throw new Error(`linear: bias must be [${w.shape[0]}], got ${fmtShape(b.shape)}`);
  const wt = transpose(w, 0, 1);
  const y = matmul(x, wt);
  wt.dispose();
  if (!b) return y;
  const r = add(y, b);
  y.dispose();
  return r;
}
