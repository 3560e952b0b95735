// ntXent (fused NT-Xent) against its float64 definition with finite differences, the three mistakes
// of the sample code it replaces, stability, adversarial inputs, every kernel path, and bad input.
// Tolerances: loss rtol 1e-5 against float64; gradients rtol 1e-4 (atol 1e-6 of the largest
// component) against float64 central differences, 1e-3 at tau = 0.01 where f32 logits reach 100.
import { expect } from 'chai';
import * as E from '../../engine/index.js';
import { setFusedTuning } from '../../losses/contrastive.js';
import { assertClose, expectError, expectFlatMemory, finiteDiff, randomData, scaledTol, toF64 } from '../helpers.js';
import { ntxent64, ntxentDroppedDiagonal64 } from './ref_losses64.js';
import { allFinite, constant, disposeAll, lossAndGrads, param } from './util.js';

async function checkAgainstDefinition(n: number, d: number, tau: number, seed: number, gradRtol = 1e-4, a?: Float32Array, b?: Float32Array): Promise<void> {
  const x1 = a ?? randomData(n * d, seed);
  const x2 = b ?? randomData(n * d, seed + 1);
  const z1 = param(x1, [n, d]);
  const z2 = param(x2, [n, d]);
  const { loss, grads } = await lossAndGrads([z1, z2], () => E.ntXent(z1, z2, { temperature: tau }));
  const f = (xs: Float64Array[]) => ntxent64(xs[0], xs[1], n, d, tau);
  const want = f([toF64(x1), toF64(x2)]);
  assertClose([loss], [want], { rtol: 1e-5, atol: 1e-6 }, 'loss');
  const fd = finiteDiff(f, [toF64(x1), toF64(x2)]);
  assertClose(grads[0]!, fd[0], scaledTol(fd[0], gradRtol), 'dz1');
  assertClose(grads[1]!, fd[1], scaledTol(fd[1], gradRtol), 'dz2');
  disposeAll(z1, z2);
}

describe('losses: ntXent (fused NT-Xent)', () => {
  afterEach(() => setFusedTuning({}));

  for (const [n, d, tau] of [
    [1, 3, 0.5],
    [3, 5, 0.5],
    [7, 13, 0.1],
    [2, 1, 0.5],
    [11, 4, 0.2],
    [5, 130, 0.2],
  ] as const) {
    it(`matches the float64 definition and finite differences (N=${n}, d=${d}, tau=${tau})`, async () => {
      await checkAgainstDefinition(n, d, tau, 10 * n + d);
    });
  }

  it('equals ln(2N - 1) when all 2N embeddings are equal', async () => {
    for (const n of [1, 4, 9]) {
      const row = [0.3, -1.2, 2.0, 0.7, 0.1];
      const data = Array.from({ length: n }, () => row).flat();
      const z1 = constant(data, [n, 5]);
      const z2 = constant(data, [n, 5]);
      const l = E.ntXent(z1, z2, { temperature: 0.3 });
      assertClose([await l.item()], [Math.log(2 * n - 1)], { rtol: 1e-6, atol: 1e-6 }, `N=${n}`);
      disposeAll(z1, z2, l);
    }
  });

  it('pairs each row with the other view of the same image, never with a different image', async () => {
    // z1[i] = z2[i] = e_i: each image's two views agree, different images are orthogonal.
    const n = 4;
    const eye = Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
    const shifted = Array.from({ length: n * n }, (_, i) => eye[(i + n) % (n * n)]); // z2[i] = e_{i+1}
    const z1 = constant(eye, [n, n]);
    const z2 = constant(eye, [n, n]);
    const z2s = constant(shifted, [n, n]);
    const same = await E.ntXent(z1, z2, { temperature: 0.1 }).item();
    const other = await E.ntXent(z1, z2s, { temperature: 0.1 }).item();
    // Positive logit 10, 2N - 2 negatives at 0: log(e^10 + 2N - 2) - 10.
    assertClose([same], [Math.log(Math.exp(10) + 2 * n - 2) - 10], { rtol: 1e-5, atol: 1e-6 }, 'matched views');
    assertClose([other], [ntxent64(eye, shifted, n, n, 0.1)], { rtol: 1e-5, atol: 1e-6 }, 'mismatched views');
    expect(other).to.be.greaterThan(same + 5);
    disposeAll(z1, z2, z2s);
  });

  it('excludes self-similarity without shifting the positive (labels made before dropping the diagonal are wrong)', async () => {
    const n = 5;
    const d = 6;
    const a = randomData(n * d, 71);
    const b = randomData(n * d, 72);
    const z1 = constant(a, [n, d]);
    const z2 = constant(b, [n, d]);
    const got = await E.ntXent(z1, z2, { temperature: 0.2 }).item();
    const right = ntxentDroppedDiagonal64(a, b, n, d, 0.2, true);
    const wrong = ntxentDroppedDiagonal64(a, b, n, d, 0.2, false);
    assertClose([got], [right], { rtol: 1e-5, atol: 1e-6 }, 'correctly shifted labels');
    expect(Math.abs(got - wrong)).to.be.greaterThan(0.05);
    disposeAll(z1, z2);
  });

  it('normalizes: rescaling the embeddings leaves the loss unchanged (unnormalized logits would explode)', async () => {
    const n = 4;
    const d = 7;
    const a = randomData(n * d, 81);
    const b = randomData(n * d, 82);
    const base = await E.ntXent(constant(a, [n, d]), constant(b, [n, d]), { temperature: 0.1 }).item();
    const big = await E.ntXent(constant(a.map((v) => v * 1e4), [n, d]), constant(b.map((v) => v * 1e-3), [n, d]), { temperature: 0.1 }).item();
    assertClose([big], [base], { rtol: 1e-5, atol: 1e-6 }, 'scale invariance');
    const unnormalized = ntxentDroppedDiagonal64(a.map((v) => v * 1e4), b.map((v) => v * 1e-3), n, d, 0.1, true, false);
    expect(Number.isFinite(unnormalized) ? unnormalized : Infinity).to.be.greaterThan(1e3 * base);
  });

  it('is stable at tau = 0.01 and tau = 1', async () => {
    await checkAgainstDefinition(6, 8, 0.01, 91, 1e-3);
    await checkAgainstDefinition(6, 8, 1, 92);
    // Views that agree closely at tau = 0.01: logits near 100, the loss near zero.
    const a = randomData(6 * 8, 93);
    const b = a.map((v, i) => v + 1e-3 * Math.sin(i));
    await checkAgainstDefinition(6, 8, 0.01, 0, 1e-3, a, Float32Array.from(b));
  });

  it('handles zero rows (x / max(||x||, 1e-12)), huge norms and near-duplicate rows', async () => {
    const n = 5;
    const d = 6;
    const a = randomData(n * d, 101);
    const b = randomData(n * d, 102);
    a.fill(0, 2 * d, 3 * d); // zero row
    for (let k = 0; k < d; k++) b[k] *= 1e18; // ||x||^2 would overflow f32 without the scaled norm
    for (let k = 0; k < d; k++) b[3 * d + k] = a[3 * d + k] + 1e-6; // near duplicate pair
    const z1 = param(a, [n, d]);
    const z2 = param(b, [n, d]);
    const { loss, grads } = await lossAndGrads([z1, z2], () => E.ntXent(z1, z2, { temperature: 0.5 }));
    assertClose([loss], [ntxent64(a, b, n, d, 0.5)], { rtol: 1e-5, atol: 1e-6 }, 'loss');
    expect(allFinite(grads[0]!) && allFinite(grads[1]!)).to.equal(true);
    // The zero row's gradient is the normalized-space gradient over eps: huge but finite.
    const zeroRow = grads[0]!.slice(2 * d, 3 * d);
    expect(Math.max(...zeroRow.map(Math.abs))).to.be.greaterThan(1e9);
    // The huge row's gradient is tiny (divided by its norm).
    expect(Math.max(...grads[1]!.slice(0, d).map(Math.abs))).to.be.lessThan(1e-15);
    disposeAll(z1, z2);
  });

  it('gives the same results through every kernel path (no subgroups, unrolled, large d in memory)', async () => {
    for (const tune of [{ subgroups: false }, { regs: 'unrolled' as const }, { maxRegisterD4: 1 }, { rowsPerInvocation: 3, workgroupSize: 32 }, { rowsPerInvocation: 1, workgroupSize: 64, regs: 'unrolled' as const } /* the GPU layout */]) {
      setFusedTuning(tune);
      await checkAgainstDefinition(5, 11, 0.3, 111);
    }
    setFusedTuning({});
    await checkAgainstDefinition(3, 600, 0.3, 112); // d > 512: the 'memory' path by default
  });

  it('accepts strided inputs (a transposed view)', async () => {
    const n = 4;
    const d = 5;
    const a = randomData(n * d, 121);
    const b = randomData(n * d, 122);
    const at = Array.from({ length: n * d }, (_, i) => a[(i % n) * d + Math.floor(i / n)]); // [d, n]
    const base = param(at, [d, n]);
    const z1 = E.transpose(base, 0, 1);
    const z2 = param(b, [n, d]);
    const { loss, grads } = await lossAndGrads([base, z2], () => E.ntXent(z1, z2, { temperature: 0.5 }));
    assertClose([loss], [ntxent64(a, b, n, d, 0.5)], { rtol: 1e-5, atol: 1e-6 }, 'loss');
    const fd = finiteDiff((xs) => ntxent64(xs[0], b, n, d, 0.5), [toF64(a)])[0];
    const fdT = Array.from({ length: n * d }, (_, i) => fd[(i % n) * d + Math.floor(i / n)]);
    assertClose(grads[0]!, fdT, scaledTol(fdT), 'gradient of the transposed base');
    disposeAll(base, z1, z2);
  });

  it('records no graph when no input requires grad', () => {
    const z1 = constant(randomData(6, 1), [2, 3]);
    const z2 = constant(randomData(6, 2), [2, 3]);
    const l = E.ntXent(z1, z2);
    expect(l.requiresGrad).to.equal(false);
    expect(l.shape).to.deep.equal([]);
    disposeAll(z1, z2, l);
  });

  it('keeps GPU memory flat over repeated forward and backward passes', async () => {
    const z1 = param(randomData(40, 3), [8, 5]);
    const z2 = param(randomData(40, 4), [8, 5]);
    const step = async () => {
      const l = E.ntXent(z1, z2, { temperature: 0.2 });
      l.backward();
      await l.item();
      l.dispose();
      z1.zeroGrad();
      z2.zeroGrad();
    };
    await expectFlatMemory(step, 5, 'liveBytes');
    disposeAll(z1, z2);
  });

  describe('errors', () => {
    const z = () => constant(randomData(6, 5), [2, 3]);
    it('rejects views of different shapes', () => expectError(() => E.ntXent(z(), constant(randomData(9, 1), [3, 3])), /ntXent/, /same shape/));
    it('rejects non-2-D inputs', () => expectError(() => E.ntXent(constant([1, 2, 3], [3]), constant([1, 2, 3], [3])), /ntXent/, /\[N, d\]/));
    it('rejects a non-positive temperature', () => expectError(() => E.ntXent(z(), z(), { temperature: 0 }), /ntXent/, /temperature/));
    it('rejects a NaN temperature', () => expectError(() => E.ntXent(z(), z(), { temperature: NaN }), /temperature/));
    it('rejects int32 embeddings', () => expectError(() => E.ntXent(E.tensor([1, 2], [1, 2], { dtype: 'int32' }), z()), /float32/));
    it('rejects empty embeddings', () => expectError(() => E.ntXent(E.zeros([0, 3]), E.zeros([0, 3])), /empty/));
    it('rejects a disposed input', () => {
      const a = z();
      a.dispose();
      expectError(() => E.ntXent(a, z()), /disposed/);
    });
  });
});
