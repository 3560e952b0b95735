// supConLoss (fused SupCon) against its float64 definition with finite differences, the [bsz, views,
// d] layout, anchors without positives, label forms, and bad input. Tolerances: loss rtol 1e-5,
// gradients rtol 1e-4 (atol 1e-6 of the largest component) against float64 central differences.
import { expect } from 'chai';
import * as E from '../../engine/index.js';
import { assertClose, expectError, finiteDiff, randomData, scaledTol, toF64 } from '../helpers.js';
import { supcon64, viewMajor } from './ref_losses64.js';
import { constant, disposeAll, lossAndGrads, param } from './util.js';

async function check(bsz: number, views: number, d: number, labels: number[], tau: number, base: number, seed: number, asTensor = false): Promise<void> {
  const v = Math.max(views, 1);
  const x = randomData(bsz * v * d, seed);
  const shape = views === 0 ? [bsz, d] : [bsz, views, d];
  const f = param(x, shape);
  const lab = asTensor ? E.tensor(Int32Array.from(labels), [bsz], { dtype: 'int32' }) : labels;
  const { loss, grads } = await lossAndGrads([f], () => E.supConLoss(f, lab, { temperature: tau, baseTemperature: base }));
  const rowLabels = Array.from({ length: bsz * v }, (_, r) => labels[r % bsz]);
  const fn = (xs: Float64Array[]) => supcon64(viewMajor(xs[0], bsz, v, d), bsz * v, d, rowLabels, tau, base);
  assertClose([loss], [fn([toF64(x)])], { rtol: 1e-5, atol: 1e-6 }, 'loss');
  const fd = finiteDiff(fn, [toF64(x)])[0];
  assertClose(grads[0]!, fd, scaledTol(fd), 'dfeatures');
  f.dispose();
  if (lab instanceof E.Tensor) lab.dispose();
}

describe('losses: supConLoss (fused SupCon)', () => {
  it('matches the definition for [N, d] features', async () => {
    await check(7, 0, 5, [0, 1, 0, 2, 1, 0, 2], 0.1, 0.1, 1);
  });
  it('matches the definition for [bsz, views, d] features (rows taken view-major)', async () => {
    await check(5, 2, 9, [3, 1, 3, 1, 0], 0.2, 0.07, 2);
    await check(3, 3, 4, [0, 1, 0], 0.5, 0.5, 3);
  });
  it('gives anchors without positives zero loss but keeps them as negatives', async () => {
    await check(6, 0, 4, [0, 1, 2, 3, 4, 0], 0.3, 0.3, 4);
    // No positives anywhere: the loss is exactly 0 and so is the gradient.
    const f = param(randomData(12, 5), [4, 3]);
    const { loss, grads } = await lossAndGrads([f], () => E.supConLoss(f, [0, 1, 2, 3]));
    expect(loss).to.equal(0);
    expect(Array.from(grads[0]!).every((g) => g === 0)).to.equal(true);
    f.dispose();
  });
  it('reduces to NT-Xent for two views labelled by image', async () => {
    const n = 4;
    const d = 6;
    const a = randomData(n * d, 6);
    const b = randomData(n * d, 7);
    const both = Array.from({ length: n * 2 * d }, (_, i) => {
      const img = Math.floor(i / (2 * d));
      const v = Math.floor(i / d) % 2;
      return (v === 0 ? a : b)[img * d + (i % d)];
    });
    const s = await E.supConLoss(constant(both, [n, 2, d]), [0, 1, 2, 3], { temperature: 0.5 }).item();
    const t = await E.ntXent(constant(a, [n, d]), constant(b, [n, d]), { temperature: 0.5 }).item();
    assertClose([s], [t], { rtol: 1e-5, atol: 1e-6 }, 'supcon vs ntxent');
  });
  it('accepts labels as an int32 tensor', async () => {
    await check(5, 2, 3, [7, -1, 7, 2, -1], 0.1, 0.1, 8, true);
  });

  describe('errors', () => {
    const f = () => constant(randomData(12, 1), [4, 3]);
    it('rejects a label count that does not match', () => expectError(() => E.supConLoss(f(), [0, 1, 2]), /supConLoss/, /4 labels/));
    it('rejects non-integer labels', () => expectError(() => E.supConLoss(f(), [0, 1.5, 2, 3]), /label 1.5/));
    it('rejects float labels tensors', () => expectError(() => E.supConLoss(f(), E.tensor([0, 1, 2, 3])), /int32/));
    it('rejects a single row', () => expectError(() => E.supConLoss(constant([1, 2], [1, 2]), [0]), /at least 2 rows/));
    it('rejects rank-1 features', () => expectError(() => E.supConLoss(constant([1, 2], [2]), [0, 1]), /\[N, d\] or \[bsz, views, d\]/));
    it('rejects a bad temperature', () => expectError(() => E.supConLoss(f(), [0, 0, 1, 1], { temperature: -1 }), /temperature/));
  });
  after(() => disposeAll());
});
