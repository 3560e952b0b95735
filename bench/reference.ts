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

/** conv2d without bias on the naive kernels, its gradients (input and weight) naive too. */
export function naiveConv2d(x: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  const dense = (t: Tensor) => (t.isContiguous && t.offset === 0 ? t : E.contiguous(t));
  const y = E.noGrad(() => convNaive('fwd', g, dense(x), dense(w)));
  return record('conv2d.naive', [x, w], y, [x, w], (gy, needs, [sx, sw]) => {
    const gc = dense(gy);
    const dx = needs[0] ? convNaive('dx', g, gc, dense(sw)) : null;
    const dw = needs[1] ? convNaive('dw', g, gc, dense(sx)) : null;
    if (gc !== gy) gc.dispose();
    return [dx, dw];
  });
}
