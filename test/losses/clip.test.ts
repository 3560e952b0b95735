// clipLoss (fused, symmetric, learnable logit scale) against its float64 definition with finite
// differences (including the logit scale's gradient), the cap at 100, and bad input. Tolerances:
// loss rtol 1e-5, gradients rtol 1e-4 (atol 1e-6 of the largest component).
import { expect } from 'chai';
import * as E from '../../engine/index.js';
import { assertClose, expectError, finiteDiff, randomData, scaledTol, toF64 } from '../helpers.js';
import { clip64 } from './ref_losses64.js';
import { constant, disposeAll, lossAndGrads, param } from './util.js';

async function check(n: number, d: number, logitScale: number, seed: number): Promise<void> {
  const a = randomData(n * d, seed);
  const b = randomData(n * d, seed + 1);
  const img = param(a, [n, d]);
  const txt = param(b, [n, d]);
  const ls = param([logitScale], [1]);
  const { loss, grads } = await lossAndGrads([img, txt, ls], () => E.clipLoss(img, txt, ls));
  const f = (xs: Float64Array[]) => clip64(xs[0], xs[1], n, d, xs[2][0]);
  const x0 = [toF64(a), toF64(b), toF64([Math.fround(logitScale)])];
  assertClose([loss], [f(x0)], { rtol: 1e-5, atol: 1e-6 }, 'loss');
  const fd = finiteDiff(f, x0);
  // N = 1: the gradient is an exact cancellation (softmax of one logit is 1), so its f32 value is
  // rounding noise of the size of the cancelling terms, ~1e-7 x the logit scale (hardware exp is approximate)
  const floor = n === 1 ? 1e-6 * Math.min(Math.exp(logitScale), 100) : 0;
  const tol = (g: Float64Array) => ({ rtol: scaledTol(g).rtol, atol: Math.max(scaledTol(g).atol ?? 0, floor) });
  assertClose(grads[0]!, fd[0], tol(fd[0]), 'dimage');
  assertClose(grads[1]!, fd[1], tol(fd[1]), 'dtext');
  assertClose(grads[2]!, fd[2], { rtol: 1e-4, atol: Math.max(1e-6, floor) }, 'dlogitScale');
  disposeAll(img, txt, ls);
}

describe('losses: clipLoss (fused CLIP)', () => {
  for (const [n, d, s] of [
    [1, 4, Math.log(1 / 0.07)],
    [7, 10, Math.log(1 / 0.07)],
    [5, 19, 0.3],
    [13, 3, 1.5],
  ] as const) {
    it(`matches the definition and finite differences, logit scale included (N=${n}, d=${d}, scale=${s.toFixed(2)})`, async () => {
      await check(n, d, s, 10 * n + d);
    });
  }

  it('caps the scale at 100 and passes no gradient to the logit scale beyond it', async () => {
    const n = 4;
    const d = 6;
    const a = randomData(n * d, 31);
    const b = randomData(n * d, 32);
    const img = constant(a, [n, d]);
    const txt = constant(b, [n, d]);
    const ls = param([5], []);
    const { loss, grads } = await lossAndGrads([ls], () => E.clipLoss(img, txt, ls));
    assertClose([loss], [clip64(a, b, n, d, 5)], { rtol: 1e-5, atol: 1e-6 }, 'loss at the cap');
    assertClose([loss], [clip64(a, b, n, d, Math.log(100))], { rtol: 1e-5, atol: 1e-6 }, 'same as scale 100');
    expect(grads[0]![0]).to.equal(0);
    disposeAll(img, txt, ls);
  });

  it('is symmetric in images and texts', async () => {
    const a = constant(randomData(15, 41), [5, 3]);
    const b = constant(randomData(15, 42), [5, 3]);
    const ls = constant([2], [1]);
    const x = await E.clipLoss(a, b, ls).item();
    const y = await E.clipLoss(b, a, ls).item();
    assertClose([x], [y], { rtol: 1e-6, atol: 1e-7 }, 'swap');
    disposeAll(a, b, ls);
  });

  describe('errors', () => {
    const e = () => constant(randomData(6, 1), [2, 3]);
    it('rejects embeddings of different shapes', () => expectError(() => E.clipLoss(e(), constant(randomData(9, 1), [3, 3]), constant([1], [1])), /clipLoss/, /same shape/));
    it('rejects a logit scale with more than one element', () => expectError(() => E.clipLoss(e(), e(), constant([1, 2], [2])), /logitScale/, /one element/));
    it('rejects a logit scale that is not a tensor', () => expectError(() => E.clipLoss(e(), e(), 2.5 as unknown as E.Tensor), /logitScale must be a Tensor/));
  });
});
