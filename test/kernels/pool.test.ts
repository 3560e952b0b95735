// maxPool2d, avgPool2d and adaptiveAvgPool2d: forward against the float64 reference of
// test/kernels/ref.ts and gradients against float64 finite differences (max pooling: away from
// ties, where the gradient is defined), on odd shapes; tie-breaking; argument errors.
import { expect } from 'chai';
import * as E from '../../engine/index.js';
import { setMaxPoolScatter } from '../../engine/ops/pool.js';
import { poolNaive, poolNaiveGrad, type NaivePoolConfig } from '../../engine/ops/pool_naive.js';
import { assertClose, expectError, expectFlatMemory, finiteDiff, randomData, scaledTol, toF64 } from '../helpers.js';
import { adaptiveAvgPoolRef, poolRef, type PoolCfg } from './ref.js';

let seed = 7000;
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** The float64 finite-difference gradient of sum(pool(x) * GY) w.r.t. x. */
function poolGradFd(kind: 'max' | 'avg', X: Float32Array, shape: number[], cfg: PoolCfg, GY: Float32Array): Float64Array {
  const [fd] = finiteDiff(([xv]) => {
    const r = poolRef(kind, xv, shape, cfg).y;
    let s = 0;
    for (let i = 0; i < r.length; i++) s += r[i] * GY[i];
    return s;
  }, [toF64(X)]);
  return fd;
}

async function checkPool(kind: 'max' | 'avg', shape: number[], cfg: PoolCfg): Promise<void> {
  const X = randomData(size(shape), seed++);
  const x = E.tensor(X, shape, { requiresGrad: true });
  try {
    const y =
      kind === 'max'
        ? E.maxPool2d(x, cfg.kernel, { stride: cfg.stride, padding: cfg.padding, dilation: cfg.dilation ?? 1, ceilMode: cfg.ceilMode ?? false })
        : E.avgPool2d(x, cfg.kernel, { stride: cfg.stride, padding: cfg.padding, ceilMode: cfg.ceilMode ?? false, countIncludePad: cfg.countIncludePad ?? true, divisorOverride: cfg.divisorOverride ?? null });
    const ref = poolRef(kind, X, shape, cfg);
    expect(y.shape).to.deep.equal([shape[0], shape[1], ref.OH, ref.OW]);
    assertClose(await y.toArray(), ref.y, scaledTol(ref.y), 'forward');
    const GY = randomData(y.size, seed++);
    E.tidy(() => E.sum(E.mul(y, E.tensor(GY, [...y.shape]))).backward());
    const fd = poolGradFd(kind, X, shape, cfg, GY);
    assertClose(await x.grad!.toArray(), fd, scaledTol(fd, 1e-3), 'input grad');
    y.dispose();
  } finally {
    x.dispose();
  }
}

describe('maxPool2d vs float64 reference and finite differences', () => {
  const cases: [number[], PoolCfg][] = [
    [[2, 3, 7, 9], { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }],
    [[1, 2, 8, 8], { kernel: [2, 2], stride: [2, 2], padding: [0, 0] }],
    [[1, 2, 9, 10], { kernel: [3, 2], stride: [2, 1], padding: [1, 1], dilation: [2, 1], ceilMode: true }],
    [[1, 1, 1, 1], { kernel: [1, 1], stride: [1, 1], padding: [0, 0] }],
    [[2, 1, 6, 7], { kernel: [3, 3], stride: [2, 2], padding: [1, 1], ceilMode: true }],
    // rows wider than one workgroup, and (avg) more rows than one visits (16 x 8 on CPU drivers), with tails
    [[1, 2, 37, 41], { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }],
    // stride 1: an input is the maximum of up to 9 windows (the backward's 3 x 3 phases all add to it);
    // more output rows than one scatter workgroup visits
    [[1, 2, 21, 13], { kernel: [3, 3], stride: [1, 1], padding: [1, 1] }],
  ];
  // backward by phases of non-overlapping windows (the default) and by gathering per input element
  for (const scatter of [true, false]) {
    describe(scatter ? 'backward: scatter by phases' : 'backward: gather per input', () => {
      before(() => setMaxPoolScatter(scatter));
      after(() => setMaxPoolScatter(true));
      for (const [shape, cfg] of cases) it(`[${shape}] ${JSON.stringify(cfg)}`, () => checkPool('max', shape, cfg));
    });
  }

  it('ties send the gradient to the first maximum in window order, as PyTorch', async () => {
    const x = E.tensor([1, 1, 1, 1], [1, 1, 2, 2], { requiresGrad: true });
    E.sum(E.maxPool2d(x, 2)).backward();
    expect(Array.from(await x.grad!.toArray())).to.deep.equal([1, 0, 0, 0]);
  });

  it('a NaN in the window is the maximum', async () => {
    const y = E.maxPool2d(E.tensor([1, NaN, 3, 2], [1, 1, 2, 2]), 2);
    expect(Number.isNaN((await y.toArray())[0])).to.equal(true);
  });

  it('accepts PyTorch positional arguments (stride, padding, dilation, ceil_mode)', async () => {
    const X = randomData(2 * 9 * 9, seed++);
    const a = await E.maxPool2d(E.tensor(X, [1, 2, 9, 9]), 3, 2, 1, 1, true).toArray();
    const b = await E.maxPool2d(E.tensor(X, [1, 2, 9, 9]), 3, { stride: 2, padding: 1, ceilMode: true }).toArray();
    expect(Array.from(a)).to.deep.equal(Array.from(b));
  });
});

describe('avgPool2d vs float64 reference and finite differences', () => {
  const cases: [number[], PoolCfg][] = [
    [[2, 3, 7, 9], { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }],
    [[1, 2, 7, 7], { kernel: [3, 2], stride: [2, 3], padding: [1, 1], ceilMode: true, countIncludePad: false }],
    [[1, 2, 6, 5], { kernel: [2, 2], stride: [2, 2], padding: [1, 0], ceilMode: true }],
    [[1, 1, 5, 5], { kernel: [3, 3], stride: [1, 1], padding: [1, 1], divisorOverride: 7 }],
    [[3, 2, 4, 4], { kernel: [2, 2], stride: [2, 2], padding: [0, 0] }],
    [[1, 2, 35, 39], { kernel: [2, 2], stride: [2, 2], padding: [0, 0], ceilMode: true }],
  ];
  for (const [shape, cfg] of cases) it(`[${shape}] ${JSON.stringify(cfg)}`, () => checkPool('avg', shape, cfg));
});

describe('adaptiveAvgPool2d vs float64 reference and finite differences', () => {
  const cases: [number[], [number, number]][] = [
    [[2, 3, 7, 5], [1, 1]],
    [[1, 2, 7, 5], [3, 2]],
    [[1, 1, 3, 4], [5, 7]],
    [[1, 1, 1, 1], [1, 1]],
    // global average over more elements than one backward workgroup covers (1024 on CPU drivers)
    [[2, 40, 5, 7], [1, 1]],
  ];
  for (const [shape, os] of cases) {
    it(`[${shape}] -> ${os}`, async () => {
      const X = randomData(size(shape), seed++);
      const x = E.tensor(X, shape, { requiresGrad: true });
      const y = E.adaptiveAvgPool2d(x, os);
      const ref = adaptiveAvgPoolRef(X, shape, os[0], os[1]);
      assertClose(await y.toArray(), ref, scaledTol(ref), 'forward');
      const GY = randomData(y.size, seed++);
      E.tidy(() => E.sum(E.mul(y, E.tensor(GY, [...y.shape]))).backward());
      const [fd] = finiteDiff(([xv]) => {
        const r = adaptiveAvgPoolRef(xv, shape, os[0], os[1]);
        let s = 0;
        for (let i = 0; i < r.length; i++) s += r[i] * GY[i];
        return s;
      }, [toF64(X)]);
      assertClose(await x.grad!.toArray(), fd, scaledTol(fd, 1e-3), 'input grad');
      x.dispose();
      y.dispose();
    });
  }

  it('output size 1 is the global average; null keeps the input size', async () => {
    const X = randomData(2 * 3 * 4 * 5, seed++);
    const y = E.adaptiveAvgPool2d(E.tensor(X, [2, 3, 4, 5]), [null, 1]);
    expect(y.shape).to.deep.equal([2, 3, 4, 1]);
    const g = E.adaptiveAvgPool2d(E.tensor(X, [2, 3, 4, 5]), 1);
    expect(g.shape).to.deep.equal([2, 3, 1, 1]);
    assertClose(await g.toArray(), adaptiveAvgPoolRef(X, [2, 3, 4, 5], 1, 1));
  });
});

describe('naive reference pooling kernels (the benchmark\'s naive column) vs float64', () => {
  const cases: ['max' | 'avg', number[], NaivePoolConfig][] = [
    ['max', [2, 3, 7, 9], { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }],
    ['max', [1, 2, 9, 6], { kernel: [3, 2], stride: [1, 2], padding: [1, 0] }],
    ['max', [1, 1, 1, 1], { kernel: [1, 1], stride: [1, 1], padding: [0, 0] }],
    ['avg', [2, 3, 7, 9], { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }],
    ['avg', [1, 2, 7, 8], { kernel: [3, 2], stride: [2, 3], padding: [1, 1], countIncludePad: false }],
    ['avg', [3, 2, 4, 6], { kernel: [2, 2], stride: [2, 2], padding: [0, 0] }],
    ['avg', [2, 5, 7, 5], { kernel: [7, 5], stride: [7, 5], padding: [0, 0] }], // the global average
  ];
  for (const [kind, shape, cfg] of cases) {
    it(`${kind} [${shape}] ${JSON.stringify(cfg)}: forward and input grad`, async () => {
      const ref: PoolCfg = { kernel: cfg.kernel, stride: cfg.stride, padding: cfg.padding, countIncludePad: cfg.countIncludePad ?? true };
      const X = randomData(size(shape), seed++);
      const x = E.tensor(X, shape);
      const y = poolNaive(kind, x, cfg);
      const r = poolRef(kind, X, shape, ref);
      expect(y.shape).to.deep.equal([shape[0], shape[1], r.OH, r.OW]);
      assertClose(await y.toArray(), r.y, scaledTol(r.y), 'forward');
      const GY = randomData(y.size, seed++);
      const gy = E.tensor(GY, [...y.shape]);
      const dx = poolNaiveGrad(kind, x, gy, cfg);
      const fd = poolGradFd(kind, X, shape, ref, GY);
      assertClose(await dx.toArray(), fd, scaledTol(fd, 1e-3), 'input grad');
      [x, y, gy, dx].forEach((t) => t.dispose());
    });
  }

  it('max: a tie sends the gradient to the first maximum in window order, as PyTorch', async () => {
    const x = E.tensor([1, 1, 1, 1], [1, 1, 2, 2]);
    const gy = E.tensor([1], [1, 1, 1, 1]);
    const dx = poolNaiveGrad('max', x, gy, { kernel: [2, 2], stride: [2, 2], padding: [0, 0] });
    expect(Array.from(await dx.toArray())).to.deep.equal([1, 0, 0, 0]);
    [x, gy, dx].forEach((t) => t.dispose());
  });

  it('rejects a dy of the wrong shape', () => {
    const x = E.zeros([1, 1, 4, 4]);
    expectError(() => poolNaiveGrad('avg', x, E.zeros([1, 1, 3, 3]), { kernel: [2, 2], stride: [2, 2], padding: [0, 0] }), /pool\.naive\.avg\.grad/, /dy must be a contiguous \[1, 1, 2, 2\]/);
    x.dispose();
  });
});

describe('pooling memory', () => {
  it('leaves no buffers behind after forward and backward (max, avg, adaptive, global)', async () => {
    const x = E.tensor(randomData(2 * 3 * 9 * 8, seed++), [2, 3, 9, 8], { requiresGrad: true });
    const step = () => {
      E.tidy(() => E.sum(E.add(E.add(E.sum(E.maxPool2d(x, 3, 2, 1)), E.sum(E.avgPool2d(x, 2))), E.add(E.sum(E.adaptiveAvgPool2d(x, [3, 2])), E.sum(E.adaptiveAvgPool2d(x, 1))))).backward());
      x.zeroGrad();
    };
    await expectFlatMemory(step, 2);
    x.dispose();
  });
});

describe('pooling argument errors', () => {
  it('input that is not 4-D', () => expectError(() => E.maxPool2d(E.zeros([3, 4, 4]), 2), /maxPool2d/, /4-D/));
  it('zero kernel size', () => expectError(() => E.avgPool2d(E.zeros([1, 1, 4, 4]), 0), /kernel_size must be an integer >= 1/));
  it('padding above half the kernel', () => expectError(() => E.maxPool2d(E.zeros([1, 1, 4, 4]), 2, 1, 2), /at most half of the kernel size/));
  it('input smaller than the window', () => expectError(() => E.maxPool2d(E.zeros([1, 1, 2, 2]), 3), /too small for a 3x3 window/));
  it('zero adaptive output size', () => expectError(() => E.adaptiveAvgPool2d(E.zeros([1, 1, 4, 4]), 0), /output_size entries must be positive integers/));
  it('bad divisor_override', () => expectError(() => E.avgPool2d(E.zeros([1, 1, 4, 4]), 2, { divisorOverride: -1 }), /divisor_override must be a positive integer/));
});
