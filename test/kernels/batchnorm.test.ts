// batchNorm2d and the fused batchNorm2dRelu: forward, running-statistics update and gradients
// (through the batch statistics in training mode) against the float64 reference of
// test/kernels/ref.ts and float64 finite differences; argument errors name what is wrong.
import * as E from '../../engine/index.js';
import { assertClose, expectError, expectFlatMemory, finiteDiff, randomData, scaledTol, toF64 } from '../helpers.js';
import { batchNormRef } from './ref.js';

let seed = 5000;

interface Case {
  shape: number[];
  /** the input is a view at this element offset into a larger buffer */
  offset?: number;
  training: boolean;
  relu: boolean;
  affine: boolean;
}

const CASES: Case[] = [
  { shape: [2, 3, 4, 5], training: true, relu: false, affine: true },
  { shape: [3, 5, 3, 1], training: true, relu: true, affine: true },
  { shape: [1, 2, 3, 3], training: true, relu: false, affine: false },
  { shape: [5, 2, 1, 1], training: true, relu: false, affine: true },
  { shape: [1, 4, 3, 3], training: false, relu: false, affine: true },
  { shape: [2, 3, 2, 3], training: false, relu: true, affine: true },
  { shape: [2, 67, 1, 2], training: true, relu: true, affine: true },
  // rows of a multiple of 4 (vec4 kernels), and the same input at an offset that is not (scalar kernels)
  { shape: [2, 3, 2, 4], training: true, relu: true, affine: true },
  { shape: [1, 3, 4, 4], training: false, relu: true, affine: true },
  { shape: [2, 3, 2, 4], training: true, relu: true, affine: true, offset: 1 },
  // planes longer than one apply workgroup (1024 elements on CPU drivers), scalar and vec4 forms
  { shape: [2, 3, 37, 29], training: true, relu: true, affine: true },
  { shape: [1, 2, 48, 48], training: true, relu: true, affine: true },
];

describe('batchNorm2d vs float64 reference and finite differences', () => {
  for (const c of CASES) {
    const name = `[${c.shape}] ${c.training ? 'training' : 'eval'}${c.relu ? ' +relu' : ''}${c.affine ? '' : ' no affine'}${c.offset ? ` at offset ${c.offset}` : ''}`;
    it(name, async () => {
      const [N, C, H, W] = c.shape;
      const n = N * C * H * W;
      const eps = 1e-3;
      const momentum = 0.25;
      const X = randomData(n, seed++, -2, 4);
      const Wt = randomData(C, seed++, 0.5, 1.5);
      const B = randomData(C, seed++);
      const RM = randomData(C, seed++);
      const RV = randomData(C, seed++, 0.5, 1.5);
      const GY = randomData(n, seed++);
      const off = c.offset ?? 0;
      const leaf = E.tensor(Float32Array.from({ length: off + n }, (_, i) => (i < off ? 0 : X[i - off])), [off + n], { requiresGrad: true });
      const x = off ? E.reshape(E.slice(leaf, 0, off), c.shape) : E.reshape(leaf, c.shape);
      const w = c.affine ? E.tensor(Wt, [C], { requiresGrad: true }) : null;
      const b = c.affine ? E.tensor(B, [C], { requiresGrad: true }) : null;
      const rm = E.tensor(RM, [C]);
      const rv = E.tensor(RV, [C]);
      try {
        const f = c.relu ? E.batchNorm2dRelu : E.batchNorm2d;
        const y = f(x, rm, rv, w, b, { training: c.training, momentum, eps });
        E.tidy(() => E.sum(E.mul(y, E.tensor(GY, c.shape))).backward());
        const refOpts = { training: c.training, rm: RM, rv: RV, eps, relu: c.relu };
        const ref = batchNormRef(X, c.shape, c.affine ? Wt : null, c.affine ? B : null, refOpts);
        assertClose(await y.toArray(), ref.y, scaledTol(ref.y), 'forward');
        const expMean = c.training ? Float64Array.from(RM, (v, i) => (1 - momentum) * v + momentum * ref.mean[i]) : toF64(RM);
        const expVar = c.training ? Float64Array.from(RV, (v, i) => (1 - momentum) * v + momentum * ref.varUnbiased[i]) : toF64(RV);
        assertClose(await rm.toArray(), expMean, { rtol: 1e-4, atol: 1e-6 }, 'running mean');
        assertClose(await rv.toArray(), expVar, { rtol: 1e-4, atol: 1e-6 }, 'running var');
        const loss = ([xv, wv, bv]: Float64Array[]) => {
          const r = batchNormRef(xv, c.shape, c.affine ? wv : null, c.affine ? bv : null, refOpts).y;
          let s = 0;
          for (let i = 0; i < n; i++) s += r[i] * GY[i];
          return s;
        };
        const [fx, fw, fb] = finiteDiff(loss, [toF64(X), toF64(Wt), toF64(B)]);
        assertClose((await leaf.grad!.toArray()).subarray(off), fx, scaledTol(fx, 1e-3), 'input grad');
        if (w) assertClose(await w.grad!.toArray(), fw, scaledTol(fw, 1e-3), 'weight grad');
        if (b) assertClose(await b.grad!.toArray(), fb, scaledTol(fb, 1e-3), 'bias grad');
        y.dispose();
      } finally {
        [leaf, x, w, b, rm, rv].forEach((t) => t?.dispose());
      }
    });
  }

  it('training without running statistics normalizes with the batch statistics', async () => {
    const X = randomData(2 * 3 * 2 * 2, seed++, -1, 3);
    const y = E.batchNorm2d(E.tensor(X, [2, 3, 2, 2]), null, null, null, null, { training: true });
    const ref = batchNormRef(X, [2, 3, 2, 2], null, null, { training: true, eps: 1e-5 });
    assertClose(await y.toArray(), ref.y, scaledTol(ref.y));
  });

  it('a large mean does not ruin the variance (per-plane two-pass statistics)', async () => {
    const X = Float32Array.from(randomData(2 * 2 * 8 * 8, seed++), (v) => 1000 + v);
    const y = E.batchNorm2d(E.tensor(X, [2, 2, 8, 8]), null, null, null, null, { training: true });
    const ref = batchNormRef(X, [2, 2, 8, 8], null, null, { training: true, eps: 1e-5 });
    assertClose(await y.toArray(), ref.y, { rtol: 1e-3, atol: 1e-3 });
  });

  it('leaves no buffers behind after forward and backward', async () => {
    const x = E.tensor(randomData(2 * 3 * 4 * 4, seed++), [2, 3, 4, 4], { requiresGrad: true });
    const w = E.ones([3], { requiresGrad: true });
    const b = E.zeros([3], { requiresGrad: true });
    const rm = E.zeros([3]);
    const rv = E.ones([3]);
    const step = () => {
      E.tidy(() => E.sum(E.batchNorm2dRelu(x, rm, rv, w, b, { training: true })).backward());
      [x, w, b].forEach((t) => t.zeroGrad());
    };
    await expectFlatMemory(step, 2);
    [x, w, b, rm, rv].forEach((t) => t.dispose());
  });
});

describe('batchNorm2d argument errors', () => {
  const C = 3;
  it('input that is not 4-D', () => expectError(() => E.batchNorm2d(E.zeros([2, 3, 4]), E.zeros([C]), E.ones([C])), /batchNorm2d/, /4-D/));
  it('missing running statistics in eval mode', () => expectError(() => E.batchNorm2d(E.zeros([2, C, 2, 2]), null, null), /running_mean and running_var must be given in eval mode/));
  it('only one running statistic', () => expectError(() => E.batchNorm2d(E.zeros([2, C, 2, 2]), E.zeros([C]), null, null, null, { training: true }), /both running_mean and running_var/));
  it('weight of the wrong shape', () => expectError(() => E.batchNorm2d(E.zeros([2, C, 2, 2]), E.zeros([C]), E.ones([C]), E.ones([4])), /weight must have shape \[3\]/));
  it('running mean of the wrong shape', () => expectError(() => E.batchNorm2d(E.zeros([2, C, 2, 2]), E.zeros([2]), E.ones([C])), /running_mean must have shape \[3\]/));
  it('one value per channel in training', () => expectError(() => E.batchNorm2dRelu(E.zeros([1, C, 1, 1]), null, null, null, null, { training: true }), /more than 1 value per channel/));
  it('non-positive eps', () => expectError(() => E.batchNorm2d(E.zeros([2, C, 2, 2]), E.zeros([C]), E.ones([C]), null, null, { eps: 0 }), /eps must be a positive number/));
  it('non-contiguous running statistics', () => {
    const strided = E.zeros([2 * C]).view([C], [2], 0); // every other element
    expectError(() => E.batchNorm2d(E.zeros([2, C, 2, 2]), strided, E.ones([C]), null, null, { training: true }), /running_mean must be contiguous/);
  });
});
