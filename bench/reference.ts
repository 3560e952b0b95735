// The bench's naive references built from engine parts: batch norm composed from core ops (the naive
// column of the batchnorm rows), and conv2d on the naive kernels of engine/ops/conv_naive.ts with
// autograd (forward, input-grad and weight-grad all naive), from which the residual-block rows build
// their naive block.
import * as E from '../engine/index.js';
import type { ConvGeometry } from '../engine/ops/conv_geometry.js';
import { convNaive } from '../engine/ops/conv_naive.js';
import { record, type Tensor } from '../engine/tensor.js';

/** Training-mode batch norm over [N, C, H, W] from mean, variance and elementwise core ops. */
export function composedBatchNorm(x: Tensor, w: Tensor, b: Tensor, eps: number): Tensor {
  return E.tidy(() => {
    const C = x.shape[1];
    const m = E.mean(x, [0, 2, 3], true);
    const v = E.variance(x, [0, 2, 3], true, 0);
    const xh = E.mul(E.sub(x, m), E.rsqrt(E.add(v, eps)));
    return E.add(E.mul(xh, E.reshape(w, [1, C, 1, 1])), E.reshape(b, [1, C, 1, 1]));
  });
}

/**
 * One naive conv kernel on operands it can read: a and b themselves when contiguous from their
 * buffer's start, else dense copies (E.contiguous would keep an offset view, which convNaive rejects),
 * freed once the kernel is encoded.
 */
function convNaiveDense(kind: 'fwd' | 'dx' | 'dw', g: ConvGeometry, a: Tensor, b: Tensor): Tensor {
  const dense = (t: Tensor) => (t.isContiguous && t.offset === 0 ? t : E.copy(t));
  const [da, db] = E.noGrad(() => [dense(a), dense(b)]);
  const out = convNaive(kind, g, da, db);
  if (da !== a) da.dispose();
  if (db !== b) db.dispose();
  return out;
}

/** conv2d without bias on the naive kernels, its gradients (input and weight) naive too. */
export function naiveConv2d(x: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  const y = convNaiveDense('fwd', g, x, w);
  return record('conv2d.naive', [x, w], y, [x, w], (gy, needs, [sx, sw]) => [needs[0] ? convNaiveDense('dx', g, gy, sw) : null, needs[1] ? convNaiveDense('dw', g, gy, sx) : null]);
}
