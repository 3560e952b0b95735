// infoNCE (MoCo) against its float64 definition with finite differences, a 65536-key queue, no
// gradient into the queue, and MoCoQueue's ring buffer. Tolerances: loss rtol 1e-5, gradients rtol
// 1e-4 (atol 1e-6 of the largest component).
import { expect } from 'chai';
import * as E from '../../engine/index.js';
import { assertClose, expectError, finiteDiff, randomData, scaledTol, toF64 } from '../helpers.js';
import { infonce64, normalize64 } from './ref_losses64.js';
import { constant, disposeAll, lossAndGrads, param } from './util.js';

async function check(n: number, K: number, d: number, tau: number, seed: number, keyGrad = true): Promise<void> {
  const q = randomData(n * d, seed);
  const k = randomData(n * d, seed + 1);
  const c = randomData(K * d, seed + 2);
  const tq = param(q, [n, d]);
  const tk = keyGrad ? param(k, [n, d]) : constant(k, [n, d]);
  const queue = constant(c, [K, d]);
  const { loss, grads } = await lossAndGrads([tq, tk, queue], () => E.infoNCE(tq, tk, queue, { temperature: tau }));
  const f = (xs: Float64Array[]) => infonce64(xs[0], xs[1], c, n, K, d, tau);
  assertClose([loss], [f([toF64(q), toF64(k)])], { rtol: 1e-5, atol: 1e-6 }, 'loss');
  const fd = finiteDiff(f, [toF64(q), toF64(k)]);
  assertClose(grads[0]!, fd[0], scaledTol(fd[0]), 'dquery');
  if (keyGrad) assertClose(grads[1]!, fd[1], scaledTol(fd[1]), 'dkey');
  else expect(grads[1]).to.equal(null);
  expect(grads[2]).to.equal(null);
  disposeAll(tq, tk, queue);
}

describe('losses: infoNCE (fused MoCo loss)', () => {
  for (const [n, K, d, tau] of [
    [1, 5, 4, 0.07],
    [6, 37, 12, 0.07],
    [3, 64, 33, 0.2],
  ] as const) {
    it(`matches the definition and finite differences (N=${n}, K=${K}, d=${d}, tau=${tau})`, async () => {
      await check(n, K, d, tau, n + K + d);
    });
  }

  it('sends no gradient into the queue, and none into a detached key', async () => {
    await check(4, 9, 5, 0.1, 11, false);
  });

  it('handles a queue of 65536 keys', async () => {
    const n = 2;
    const K = 65536;
    const d = 8;
    const q = randomData(n * d, 21);
    const k = randomData(n * d, 22);
    const c = randomData(K * d, 23);
    const tq = param(q, [n, d]);
    const { loss, grads } = await lossAndGrads([tq], () => E.infoNCE(tq, constant(k, [n, d]), constant(c, [K, d]), { temperature: 0.07 }));
    assertClose([loss], [infonce64(q, k, c, n, K, d, 0.07)], { rtol: 1e-5, atol: 1e-6 }, 'loss');
    // Gradient of query row 0 in float64: (1/N) (1/τ) (Σ_j p_j c_j - k̂) projected through the normalization.
    const qn = normalize64(q, n, d)[0];
    const kn = normalize64(k, n, d)[0];
    const cn = normalize64(c, K, d);
    const logits = [qn.reduce((s, v, i) => s + v * kn[i], 0) / 0.07, ...cn.map((r) => r.reduce((s, v, i) => s + v * qn[i], 0) / 0.07)];
    const m = Math.max(...logits);
    const ex = logits.map((l) => Math.exp(l - m));
    const z = ex.reduce((a, b) => a + b, 0);
    const dqn = new Float64Array(d);
    for (let i = 0; i < d; i++) dqn[i] = ((ex[0] / z - 1) * kn[i] + cn.reduce((s, r, j) => s + (ex[j + 1] / z) * r[i], 0)) / 0.07 / n;
    const norm = Math.sqrt(Array.from(q.slice(0, d)).reduce((s, v) => s + v * v, 0));
    const proj = qn.reduce((s, v, i) => s + v * dqn[i], 0);
    const want = Array.from({ length: d }, (_, i) => (dqn[i] - qn[i] * proj) / norm);
    assertClose(grads[0]!.slice(0, d), want, scaledTol(want), 'dquery row 0');
    tq.dispose();
  });

  it('takes a MoCoQueue directly', async () => {
    const queue = new E.MoCoQueue(16, 4);
    const keys = await queue.keys.toArray();
    const q = randomData(8, 51);
    const k = randomData(8, 52);
    const a = await E.infoNCE(constant(q, [2, 4]), constant(k, [2, 4]), queue, { temperature: 0.1 }).item();
    assertClose([a], [infonce64(q, k, keys, 2, 16, 4, 0.1)], { rtol: 1e-5, atol: 1e-6 }, 'loss');
    queue.dispose();
  });

  describe('MoCoQueue', () => {
    it('starts with random unit keys', async () => {
      const queue = new E.MoCoQueue(10, 6);
      const keys = await queue.keys.toArray();
      for (let r = 0; r < 10; r++) {
        const n = Math.hypot(...keys.slice(r * 6, r * 6 + 6));
        expect(Math.abs(n - 1)).to.be.lessThan(1e-5);
      }
      queue.dispose();
    });

    it('replaces the oldest keys, wrapping around the end, without reading back', async () => {
      const K = 5;
      const d = 3;
      const queue = new E.MoCoQueue(K, d, { init: 'zeros' });
      const expected = new Float32Array(K * d);
      let ptr = 0;
      let next = 1;
      for (const B of [2, 2, 3, 1, 5]) {
        const batch = Float32Array.from({ length: B * d }, () => next++);
        const t = constant(batch, [B, d]);
        queue.enqueue(t);
        t.dispose(); // the queue holds a copy
        for (let b = 0; b < B; b++) {
          expected.set(batch.slice(b * d, (b + 1) * d), ptr * d);
          ptr = (ptr + 1) % K;
        }
        expect(queue.ptr).to.equal(ptr);
        assertClose(await queue.keys.toArray(), expected, { rtol: 0, atol: 0 }, `after enqueuing ${B}`);
      }
      queue.dispose();
    });

    it('stores detached keys (no gradient reaches the queue through later losses)', async () => {
      const queue = new E.MoCoQueue(4, 2);
      const k = param([1, 2, 3, 4], [2, 2]);
      queue.enqueue(k);
      expect(queue.keys.requiresGrad).to.equal(false);
      expect(queue.keys.node).to.equal(null);
      disposeAll(k);
      queue.dispose();
    });

    it('rejects bad sizes and key shapes', () => {
      expectError(() => new E.MoCoQueue(0, 4), /size must be a positive integer/);
      expectError(() => new E.MoCoQueue(4, 2.5), /dim must be a positive integer/);
      const queue = new E.MoCoQueue(4, 2);
      expectError(() => queue.enqueue(constant([1, 2, 3], [1, 3])), /keys must be float32 \[B, 2\]/);
      expectError(() => queue.enqueue(constant(new Float32Array(10), [5, 2])), /5 keys do not fit a queue of 4/);
      expectError(() => queue.setState({ ptr: 4 }), /ptr must be an integer in \[0, 4\)/);
      queue.dispose();
    });
  });

  describe('errors', () => {
    const e = (n = 2, d = 3) => constant(randomData(n * d, 1), [n, d]);
    it('rejects a key batch that does not match the queries', () => expectError(() => E.infoNCE(e(), e(3), e(5)), /infoNCE/, /same shape/));
    it('rejects a queue of another width', () => expectError(() => E.infoNCE(e(), e(), e(5, 4)), /queue \[5, 4\] must be \[K, 3\]/));
    it('rejects a bad temperature', () => expectError(() => E.infoNCE(e(), e(), e(5), { temperature: 0 }), /temperature/));
  });
});
