// conv2d: forward, input-grad, weight-grad and bias-grad against the float64 reference of
// test/kernels/ref.ts and float64 central finite differences, on small odd shapes, for every
// GEMM family (the default choice, register-blocked without subgroups, subgroup-broadcast
// variants with other tile shapes); argument errors name what is wrong.
import { expect } from 'chai';
import * as E from '../../engine/index.js';
import { convFlatOperandCopies, convGeometry, convInputGrad, convInputGradPathCounts, convWeightGrad, convTuneOp, cpuSplits, setConvChannelsLast, setConvFlatOperands, setConvInputGradPath, setConvNhwcKernel, setConvPointwise, setConvVariants, setConvWeightGradDyTexture, setConvWeightGradSplits, weightGradSplitCount } from '../../engine/ops/conv2d.js';
import { convNaive } from '../../engine/ops/conv_naive.js';
import { gemmDynamicTilesCount, gemmStore4Count, readsTextures, setGemmDynamicTiles, setGemmStore4, setMatmulKernel, textureCopyCounters } from '../../engine/ops/matmul.js';
import { naiveConv2d } from '../../bench/reference.js';
import { fitVariant, useBcast } from '../../engine/tune.js';
import { narrowCpuSubgroups } from '../../engine/kernels.js';
import type { GemmVariant } from '../../engine/tune.js';
import { assertClose, expectError, expectFlatMemory, finiteDiff, randomData, scaledTol, toF64 } from '../helpers.js';
import { conv2dGradRef, conv2dRef, convDims, type ConvCfg } from './ref.js';

interface Case {
  x: number[];
  w: number[];
  cfg: ConvCfg;
  bias: boolean;
}

const CASES: Case[] = [
  { x: [1, 1, 1, 1], w: [1, 1, 1, 1], cfg: {}, bias: true },
  { x: [2, 3, 7, 5], w: [4, 3, 3, 3], cfg: { padding: [1, 1] }, bias: true },
  { x: [1, 5, 6, 7], w: [3, 5, 1, 1], cfg: {}, bias: false },
  { x: [2, 3, 9, 7], w: [5, 3, 1, 1], cfg: { stride: [2, 2] }, bias: true },
  { x: [1, 2, 9, 11], w: [3, 2, 3, 3], cfg: { stride: [2, 2], padding: [1, 1] }, bias: false },
  { x: [1, 2, 11, 9], w: [2, 2, 7, 7], cfg: { stride: [2, 2], padding: [3, 3] }, bias: true },
  { x: [1, 4, 8, 7], w: [6, 2, 3, 2], cfg: { padding: [2, 1], dilation: [2, 3], groups: 2 }, bias: true },
  { x: [1, 3, 5, 6], w: [3, 1, 3, 3], cfg: { padding: [1, 1], groups: 3 }, bias: false },
  { x: [1, 2, 10, 9], w: [2, 2, 3, 3], cfg: { stride: [3, 2], padding: [0, 2], dilation: [1, 2] }, bias: false },
  { x: [1, 33, 2, 3], w: [35, 33, 1, 1], cfg: {}, bias: true },
  { x: [1, 8, 5, 6], w: [5, 8, 3, 3], cfg: { padding: [1, 1] }, bias: true },
  { x: [2, 8, 7, 7], w: [6, 4, 3, 3], cfg: { stride: [2, 2], padding: [1, 1], groups: 2 }, bias: false },
  { x: [2, 6, 5, 3], w: [4, 3, 1, 1], cfg: { stride: [1, 2], groups: 2 }, bias: true },
  { x: [1, 4, 3, 3], w: [2, 4, 1, 1], cfg: { padding: [1, 0] }, bias: false },
  { x: [3, 9, 4, 6], w: [7, 9, 1, 1], cfg: { stride: [3, 2] }, bias: false },
  { x: [2, 4, 6, 5], w: [8, 2, 3, 3], cfg: { stride: [2, 2], padding: [1, 1], groups: 2 }, bias: false },
];

let seed = 3000;

function label(c: Case): string {
  return `x [${c.x}] w [${c.w}] ${JSON.stringify(c.cfg)}${c.bias ? ' bias' : ''}`;
}

/**
 * A case's random operands (seeded in order: x, w, the bias when asked for, dy), its dimensions, and x
 * and w as tensors that want gradients, with the bias tensor (wanting one when biasGrad).
 */
function caseOperands(c: Case, bias: boolean, biasGrad = true) {
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const X = randomData(size(c.x), seed++);
  const W = randomData(size(c.w), seed++);
  const B = bias ? randomData(c.w[0], seed++) : null;
  const d = convDims(c.x, c.w, c.cfg);
  const GY = randomData(d.N * d.O * d.OH * d.OW, seed++);
  const x = E.tensor(X, c.x, { requiresGrad: true });
  const w = E.tensor(W, c.w, { requiresGrad: true });
  const b = B ? E.tensor(B, [c.w[0]], { requiresGrad: biasGrad }) : null;
  return { X, W, B, d, GY, x, w, b };
}

/** Forward and all gradients vs the float64 reference (exact adjoint loops). */
async function checkAgainstRef(c: Case): Promise<void> {
  const { X, W, B, d, GY, x, w, b } = caseOperands(c, c.bias);
  try {
    const y = E.conv2d(x, w, b, c.cfg);
    expect(y.shape).to.deep.equal([d.N, d.O, d.OH, d.OW]);
    const gy = E.tensor(GY, [...y.shape]);
    y.backward(gy);
    const ref = conv2dRef(X, W, B, d);
    assertClose(await y.toArray(), ref, scaledTol(ref), 'forward');
    const g = conv2dGradRef(X, W, GY, d);
    assertClose(await x.grad!.toArray(), g.dx, scaledTol(g.dx), 'input grad');
    assertClose(await w.grad!.toArray(), g.dw, scaledTol(g.dw), 'weight grad');
    if (b) assertClose(await b.grad!.toArray(), g.db, scaledTol(g.db), 'bias grad');
    y.dispose();
    gy.dispose();
  } finally {
    x.dispose();
    w.dispose();
    b?.dispose();
  }
}

/** A forward and an input-grad of a case's operands (caseOperands) vs the float64 reference. */
async function expectForwardAndInputGrad(o: ReturnType<typeof caseOperands>, y: E.Tensor, dx: E.Tensor): Promise<void> {
  const ref = conv2dRef(o.X, o.W, o.B, o.d);
  assertClose(await y.toArray(), ref, scaledTol(ref), 'forward');
  const g = conv2dGradRef(o.X, o.W, o.GY, o.d);
  assertClose(await dx.toArray(), g.dx, scaledTol(g.dx), 'input grad');
}

describe('conv2d vs float64 reference (default kernels)', () => {
  for (const c of CASES) it(label(c), () => checkAgainstRef(c));
});

describe('naive reference conv kernels (the benchmark\'s naive column) and their autograd form vs float64', () => {
  for (const c of [CASES[0], CASES[1], CASES[4], CASES[5], CASES[6], CASES[8], CASES[11]]) {
    it(label(c), async () => {
      const o = caseOperands(c, true, false);
      const { X, W, d, GY, x, w } = o;
      const B = o.B as Float32Array;
      const b = o.b as E.Tensor;
      const gy = E.tensor(GY, [d.N, d.O, d.OH, d.OW]);
      const g = convGeometry('test', x, w, c.cfg);
      try {
        const yb = convNaive('fwd', g, x, w, b);
        const refB = conv2dRef(X, W, B, d);
        assertClose(await yb.toArray(), refB, scaledTol(refB), 'forward with bias');
        yb.dispose();
        const y = naiveConv2d(x, w, g);
        y.backward(gy);
        const ref = conv2dRef(X, W, null, d);
        assertClose(await y.toArray(), ref, scaledTol(ref), 'forward');
        const r = conv2dGradRef(X, W, GY, d);
        assertClose(await x.grad!.toArray(), r.dx, scaledTol(r.dx), 'input grad');
        assertClose(await w.grad!.toArray(), r.dw, scaledTol(r.dw), 'weight grad');
        y.dispose();
      } finally {
        [x, w, b, gy].forEach((t) => t.dispose());
      }
    });
  }

  it('operands at an offset and strided (copied for the naive kernels): x a batch slice, w a permuted view', async () => {
    const c = CASES[1]; // x [2, 3, 7, 5], w [4, 3, 3, 3], padding 1
    const { X, W, d, GY } = caseOperands(c, false);
    const [N, C, H, Wd] = c.x;
    const [O, , KH, KW] = c.w;
    const plane = C * H * Wd;
    // x lives at rows 1..N of a [N + 1, C, H, W] leaf; w is the [C, O, KH, KW] leaf permuted to OIHW
    const big = new Float32Array((N + 1) * plane);
    big.set(X, plane);
    const WT = new Float32Array(W.length);
    const wtIndex = (o: number, ci: number, k: number) => (ci * O + o) * KH * KW + k;
    for (let o = 0; o < O; o++) for (let ci = 0; ci < C; ci++) for (let k = 0; k < KH * KW; k++) WT[wtIndex(o, ci, k)] = W[(o * C + ci) * KH * KW + k];
    const xb = E.tensor(big, [N + 1, C, H, Wd], { requiresGrad: true });
    const wt = E.tensor(WT, [C, O, KH, KW], { requiresGrad: true });
    const gy = E.tensor(GY, [d.N, d.O, d.OH, d.OW]);
    const x = E.slice(xb, 0, 1);
    const w = E.permute(wt, [1, 0, 2, 3]);
    try {
      expect(x.offset).to.equal(plane);
      expect(w.isContiguous).to.equal(false);
      const y = naiveConv2d(x, w, convGeometry('test', x, w, c.cfg));
      y.backward(gy);
      const ref = conv2dRef(X, W, null, d);
      assertClose(await y.toArray(), ref, scaledTol(ref), 'forward');
      y.dispose();
      const r = conv2dGradRef(X, W, GY, d);
      const gx = await xb.grad!.toArray();
      assertClose(gx.subarray(0, plane), new Float64Array(plane), { atol: 0 }, 'no gradient for the row outside the slice');
      assertClose(gx.subarray(plane), r.dx, scaledTol(r.dx), 'input grad');
      const gwt = await wt.grad!.toArray();
      const gw = new Float64Array(W.length);
      for (let o = 0; o < O; o++) for (let ci = 0; ci < C; ci++) for (let k = 0; k < KH * KW; k++) gw[(o * C + ci) * KH * KW + k] = gwt[wtIndex(o, ci, k)];
      assertClose(gw, r.dw, scaledTol(r.dw), 'weight grad');
    } finally {
      [x, w, xb, wt, gy].forEach((t) => t.dispose());
    }
  });
});

describe('conv2d gradients vs float64 finite differences', () => {
  const small: Case[] = [CASES[1], CASES[4], CASES[6], CASES[8]];
  for (const c of small) {
    it(label(c), async () => {
      const o = caseOperands(c, true);
      const { X, W, d, GY, x, w } = o;
      const B = o.B as Float32Array;
      const b = o.b as E.Tensor;
      try {
        E.tidy(() => E.sum(E.mul(E.conv2d(x, w, b, c.cfg), E.tensor(GY, [d.N, d.O, d.OH, d.OW]))).backward());
        const f = ([xv, wv, bv]: Float64Array[]) => {
          const y = conv2dRef(xv, wv, bv, d);
          let s = 0;
          for (let i = 0; i < y.length; i++) s += y[i] * GY[i];
          return s;
        };
        const [fx, fw, fb] = finiteDiff(f, [toF64(X), toF64(W), toF64(B)]);
        assertClose(await x.grad!.toArray(), fx, scaledTol(fx, 2e-4), 'input grad');
        assertClose(await w.grad!.toArray(), fw, scaledTol(fw, 2e-4), 'weight grad');
        assertClose(await b.grad!.toArray(), fb, scaledTol(fb, 2e-4), 'bias grad');
      } finally {
        [x, w, b].forEach((t) => t.dispose());
      }
    });
  }
});

describe('conv2d with every GEMM family', () => {
  const families: [string, () => Partial<Record<'conv.fwd' | 'conv.dx' | 'conv.dw', GemmVariant>>][] = [
    ['reg (no subgroups)', () => ({ 'conv.fwd': { family: 'reg', tm: 4, wg: 2, subgroup: 1 }, 'conv.dx': { family: 'reg', tm: 3, wg: 1, subgroup: 1 }, 'conv.dw': { family: 'reg', tm: 5, wg: 1, subgroup: 1, swap: true } })],
    [
      'bcast, other tiles',
      () => {
        const S = E.deviceContext().summary.subgroupSize;
        return { 'conv.fwd': { family: 'bcast', tm: S, wg: 2, subgroup: S, swap: true }, 'conv.dx': { family: 'bcast', tm: 2 * S, wg: 1, subgroup: S }, 'conv.dw': { family: 'bcast', tm: S, wg: 3, subgroup: S } };
      },
    ],
    [
      'packed panels (bcast and reg)',
      () => {
        const S = E.deviceContext().summary.subgroupSize;
        const hasSg = E.deviceContext().features.has('subgroups') && S >= 4;
        const b = (tm: number, wg: number, swap = false): GemmVariant => (hasSg ? { family: 'bcast', tm: tm * S, wg, subgroup: S, swap, pack: true } : { family: 'reg', tm: 4, wg, subgroup: 1, swap, pack: true });
        return { 'conv.fwd': b(2, 2), 'conv.dx': b(1, 1, true), 'conv.dw': { family: 'reg', tm: 3, wg: 2, subgroup: 1, pack: true } };
      },
    ],
    [
      // texture panels: read-only storage textures on lavapipe, sampled ones on GPUs (engine/kernels.ts panelsAsStorageTextures)
      'bcast, texture panels',
      () => {
        const S = E.deviceContext().summary.subgroupSize;
        return {
          'conv.fwd': { family: 'bcast', tm: 2 * S, tn: 8, wg: 2, subgroup: S, pack: 'B', tex: true },
          'conv.dx': { family: 'bcast', tm: S, wg: 4, subgroup: S, pack: 'B', tex: true, swap: true },
          'conv.dw': { family: 'bcast', tm: 4 * S, tn: 8, wg: 1, subgroup: S, pack: 'B', tex: true, fit: true },
        };
      },
    ],
    ['tiled (workgroup memory, GPUs)', () => ({ 'conv.fwd': { family: 'tiled', tm: 4, wg: 1, subgroup: 1 }, 'conv.dx': { family: 'tiled', tm: 4, wg: 1, subgroup: 1 }, 'conv.dw': { family: 'tiled', tm: 4, wg: 1, subgroup: 1 } })],
    ['tiled, large tiles', () => ({ 'conv.fwd': { family: 'tiled', tm: 8, tn: 8, bk: 8, wg: 1, subgroup: 1 }, 'conv.dx': { family: 'tiled', tm: 8, wg: 1, subgroup: 1 }, 'conv.dw': { family: 'tiled', tm: 4, tn: 8, wg: 1, subgroup: 1 } })],
    [
      'B panels only',
      () => {
        const S = E.deviceContext().summary.subgroupSize;
        const hasSg = E.deviceContext().features.has('subgroups') && S >= 4;
        const b = (tm: number, wg: number): GemmVariant => (hasSg ? { family: 'bcast', tm: tm * S, wg, subgroup: S, pack: 'B' } : { family: 'reg', tm: 4, wg, subgroup: 1, pack: 'B' });
        return { 'conv.fwd': b(1, 2), 'conv.dx': b(2, 1), 'conv.dw': b(1, 1) };
      },
    ],
  ];
  for (const [name, variants] of families) {
    describe(name, () => {
      before(function () {
        if (name.startsWith('bcast') && !E.deviceContext().features.has('subgroups')) this.skip();
        setConvVariants(variants());
      });
      after(() => setConvVariants({}));
      for (const c of [CASES[1], CASES[3], CASES[5], CASES[6], CASES[9], CASES[12]]) it(label(c), () => checkAgainstRef(c));
    });
  }
});

describe('conv2d input gradient, both formulations', () => {
  for (const path of ['phase', 'col2im'] as const) {
    describe(path, () => {
      before(() => setConvInputGradPath(path));
      after(() => setConvInputGradPath('auto'));
      // stride 1 without dilation (1, 7, 10, 13: padded 1x1) takes col2im's unrolled-tap kernel
      for (const c of [CASES[1], CASES[3], CASES[5], CASES[6], CASES[7], CASES[8], CASES[10], CASES[13]]) it(label(c), () => checkAgainstRef(c));
    });
  }
  // depthwise over 130 images x 512 channels: the col2im grid needs two dispatches (z <= 65535)
  const many: Case = { x: [130, 512, 1, 1], w: [512, 1, 3, 3], cfg: { padding: [1, 1], groups: 512 }, bias: false };
  it(`col2im over more (image, channel) pairs than one dispatch reaches: ${label(many)}`, async () => {
    setConvInputGradPath('col2im');
    try {
      await checkAgainstRef(many);
    } finally {
      setConvInputGradPath('auto');
    }
  });
});

describe('conv2d input gradient: the route for few pixels (lavapipe, 8 lanes)', () => {
  // dcol + col2im up to 128 pixels, and up to 256 where the weight is 8 MB or more; the phase GEMM otherwise
  const routes: [number[], string, 'col2im' | 'phase'][] = [
    [[1, 512, 7, 7], '512 channels, 49 pixels', 'col2im'],
    [[4, 512, 7, 7], '512 channels, 196 pixels (a 9.4 MB weight)', 'col2im'],
    [[2, 256, 7, 7], '256 channels, 98 pixels', 'col2im'],
    [[1, 256, 14, 14], '256 channels, 196 pixels (a 2.4 MB weight)', 'phase'],
    [[6, 512, 7, 7], '512 channels, 294 pixels', 'phase'],
  ];
  for (const [xs, name, want] of routes) {
    it(`${name}: ${want}`, async function () {
      if (!useBcast() || !narrowCpuSubgroups()) this.skip();
      const C = xs[1];
      const dy = E.randn([xs[0], C, xs[2], xs[3]]);
      const w = E.randn([C, C, 3, 3]);
      const x = E.zeros(xs);
      const g = convGeometry('test', x, w, { padding: 1 });
      const before = convInputGradPathCounts();
      convInputGrad(dy, w, g).dispose();
      const after = convInputGradPathCounts();
      expect({ col2im: after.col2im - before.col2im, phase: after.phase - before.phase }).to.deep.equal(want === 'col2im' ? { col2im: 1, phase: 0 } : { col2im: 0, phase: 1 });
      [x, dy, w].forEach((t) => t.dispose());
    });
  }
});

describe('conv2d 1x1: batched matmuls (CPU drivers) or implicit GEMMs', () => {
  // the last three: channel counts per group that are multiples of 4 (vec4-aligned weight rows), one grouped
  const pointwise: Case[] = [CASES[0], CASES[2], CASES[3], CASES[9], CASES[12], CASES[13], CASES[14],
    { x: [2, 8, 5, 4], w: [12, 8, 1, 1], cfg: {}, bias: true },
    { x: [1, 8, 3, 5], w: [8, 4, 1, 1], cfg: { groups: 2 }, bias: false },
    // strided, 12 x 12 outputs: x subsampled into planes of 144 pixels (copied flat)
    { x: [2, 8, 24, 23], w: [12, 8, 1, 1], cfg: { stride: [2, 2] }, bias: true },
    // 256 pixels a plane: 'auto' takes the matmul route for all three products at 8 lanes (strided: the
    // forward and the weight-grad)
    { x: [2, 8, 16, 16], w: [12, 8, 1, 1], cfg: {}, bias: true },
    { x: [1, 8, 32, 31], w: [12, 8, 1, 1], cfg: { stride: [2, 2] }, bias: false }];
  it("'auto' runs unpadded 1x1 forwards and unstrided input-grads as matmuls on CPU drivers: at 16 lanes for rows of 64 pixels, at 8 for rows of 128 pixels or more (input-grads 256 or more)", () => {
    const x = E.zeros([2, 8, 8, 8]);
    const x7 = E.zeros([2, 8, 7, 7]);
    const x12 = E.zeros([1, 8, 12, 12]);
    const x16 = E.zeros([1, 8, 16, 16]);
    const x272 = E.zeros([1, 8, 17, 16]);
    const x255 = E.zeros([1, 8, 17, 15]);
    const x32 = E.zeros([1, 8, 32, 32]);
    const w1 = E.zeros([4, 8, 1, 1]);
    const w1x = E.zeros([16, 8, 1, 1]);
    const w3 = E.zeros([4, 8, 3, 3]);
    try {
      const wide = useBcast() && E.deviceContext().summary.subgroupSize >= 16;
      const narrow = useBcast() && narrowCpuSubgroups();
      expect(convTuneOp('fwd', convGeometry('t', x, w1, {}))).to.equal(wide ? 'matmul' : 'conv.fwd');
      expect(convTuneOp('dx', convGeometry('t', x, w1, {}))).to.equal(wide ? 'matmul' : 'conv.dx');
      expect(convTuneOp('dx', convGeometry('t', x, w1x, {}))).to.equal(wide ? 'matmul' : 'conv.dx');
      expect(convTuneOp('dx', convGeometry('t', x, w1, { stride: 2 }))).to.equal('conv.dx');
      expect(convTuneOp('fwd', convGeometry('t', x7, w1, {}))).to.equal('conv.fwd'); // 49 pixels a row
      expect(convTuneOp('dw', convGeometry('t', x, w1, {}))).to.equal('conv.dw'); // 64 pixels
      expect(convTuneOp('dw', convGeometry('t', x16, w1x, {}))).to.equal(narrow ? 'matmul' : 'conv.dw'); // 256 pixels, 8 lanes only
      expect(convTuneOp('dw', convGeometry('t', x12, w1, {}))).to.equal('conv.dw'); // 144 pixels
      expect(convTuneOp('dw', convGeometry('t', x272, w1, { stride: 2 }))).to.equal('conv.dw'); // strided, 72 pixels
      expect(convTuneOp('dw', convGeometry('t', x32, w1, { stride: 2 }))).to.equal(narrow ? 'matmul' : 'conv.dw'); // strided, 256 pixels
      expect(convTuneOp('fwd', convGeometry('t', x, w3, { padding: 1 }))).to.equal('conv.fwd');
      // 144 pixels a row: not a multiple of 64, at least 128
      expect(convTuneOp('fwd', convGeometry('t', x12, w1, {}))).to.equal(narrow ? 'matmul' : 'conv.fwd');
      expect(convTuneOp('fwd', convGeometry('t', x12, w1x, {}))).to.equal(narrow ? 'matmul' : 'conv.fwd');
      expect(convTuneOp('dx', convGeometry('t', x12, w1, {}))).to.equal('conv.dx'); // 144 pixels: below 256
      expect(convTuneOp('dx', convGeometry('t', x12, w1x, {}))).to.equal('conv.dx');
      expect(convTuneOp('dx', convGeometry('t', x16, w1x, {}))).to.equal(narrow || wide ? 'matmul' : 'conv.dx'); // 256 pixels: dy copied as it is
      expect(convTuneOp('dx', convGeometry('t', x272, w1x, {}))).to.equal(narrow ? 'matmul' : 'conv.dx'); // 272 pixels (not a multiple of 64), 8 < 16 channels
      expect(convTuneOp('dx', convGeometry('t', x255, w1, {}))).to.equal('conv.dx'); // 255 pixels
      expect(convTuneOp('fwd', convGeometry('t', x255, w1, {}))).to.equal(narrow ? 'matmul' : 'conv.fwd');
      expect(convTuneOp('fwd', convGeometry('t', x12, w1, { stride: 2 }))).to.equal('conv.fwd'); // 36 pixels
      setConvPointwise('on');
      expect(convTuneOp('fwd', convGeometry('t', x7, w1, { stride: 2 }))).to.equal(useBcast() ? 'matmul' : 'conv.fwd');
      expect(convTuneOp('dx', convGeometry('t', x7, w1x, {}))).to.equal(useBcast() ? 'matmul' : 'conv.dx');
      expect(convTuneOp('dx', convGeometry('t', x7, w1, { stride: 2 }))).to.equal('conv.dx');
      expect(convTuneOp('dw', convGeometry('t', x7, w1, { stride: 2 }))).to.equal(useBcast() ? 'matmul' : 'conv.dw');
      expect(convTuneOp('fwd', convGeometry('t', x7, w1, { padding: 1 }))).to.equal('conv.fwd');
    } finally {
      setConvPointwise('auto');
      [x, x7, x12, x16, x272, x255, x32, w1, w1x, w3].forEach((t) => t.dispose());
    }
  });
  it('a strided forward as a matmul subsamples x into packed planes, which a texture variant copies flat where a plane is whole texels and packs otherwise, vs float64', async function () {
    const S = E.deviceContext().features.has('subgroups') ? E.deviceContext().summary.subgroupSize : 0;
    if (S < 4) this.skip();
    const v: GemmVariant = { family: 'bcast', tm: S, wg: 1, subgroup: S, pack: 'B', tex: true, swap: true };
    setMatmulKernel('gemm', v);
    setConvPointwise('on');
    try {
      // 12 x 12 = 144 pixels a plane (whole texels, not 256-byte rows); 11 x 11 = 121 (not whole texels)
      for (const [c, flat] of [
        [{ x: [2, 8, 24, 24], w: [12, 8, 1, 1], cfg: { stride: [2, 2] }, bias: true }, true],
        [{ x: [2, 8, 22, 21], w: [12, 8, 1, 1], cfg: { stride: [2, 2] }, bias: false }, false],
      ] as [Case, boolean][]) {
        const { X, W, B, d, x, w, b } = caseOperands(c, true, false);
        const ref = conv2dRef(X, W, B, d);
        const before = textureCopyCounters();
        const y = E.conv2d(x, w, b, c.cfg);
        assertClose(await y.toArray(), ref, scaledTol(ref), `forward ${JSON.stringify(c.x)}`);
        const after = textureCopyCounters();
        const copied = flat && readsTextures(v) ? 1 : 0;
        expect(after.B - before.B, `${JSON.stringify(c.x)}: B copied as a texture`).to.equal(copied);
        expect(after.flatB - before.flatB, `${JSON.stringify(c.x)}: B copied flat`).to.equal(copied);
        [y, x, w, b].forEach((t) => t?.dispose());
      }
    } finally {
      setConvPointwise('auto');
      setMatmulKernel('gemm', null);
    }
  });
  it('1x1 implicit GEMMs read channels-last copies of x and dy at 8 lanes (storage-texture panels) and NCHW elsewhere, vs float64', async () => {
    const c: Case = { x: [2, 8, 6, 4], w: [12, 8, 1, 1], cfg: { stride: [2, 1] }, bias: false };
    const o = caseOperands(c, false);
    const { d, GY, x, w } = o;
    setConvPointwise('off');
    try {
      E.startProfile();
      const y = E.conv2d(x, w, null, c.cfg);
      const dx = convInputGrad(E.tensor(GY, [d.N, d.O, d.OH, d.OW]), w, convGeometry('t', x, w, c.cfg));
      const copies = (await E.stopProfile()).filter((r) => r.kernel.startsWith('nchw_to_nhwc')).reduce((n, r) => n + r.calls, 0);
      expect(copies, 'channels-last copies (x, dy)').to.equal(useBcast() && narrowCpuSubgroups() ? 2 : 0);
      await expectForwardAndInputGrad(o, y, dx);
      [y, dx].forEach((t) => t.dispose());
    } finally {
      setConvPointwise('auto');
      [x, w].forEach((t) => t.dispose());
    }
  });
  for (const mode of ['on', 'auto', 'off'] as const) {
    describe(mode === 'on' ? 'as matmuls wherever possible' : mode === 'auto' ? 'default choice' : 'implicit GEMMs', () => {
      before(() => setConvPointwise(mode));
      after(() => setConvPointwise('auto'));
      for (const c of pointwise) it(label(c), () => checkAgainstRef(c));
    });
  }
});

/** A case's geometry and random x, weight, bias (if any) and output gradient. */
function caseData(c: Case) {
  const size = (sh: number[]) => sh.reduce((a, b) => a * b, 1);
  const d = convDims(c.x, c.w, c.cfg);
  return { d, X: randomData(size(c.x), seed++), W: randomData(size(c.w), seed++), B: c.bias ? randomData(c.w[0], seed++) : null, GY: randomData(d.N * d.O * d.OH * d.OW, seed++) };
}

/** Forward, input-grad and weight-grad of a case on the given data, and the weight-grad's K splits. */
async function convProducts(c: Case, X: Float32Array, W: Float32Array, B: Float32Array | null, GY: Float32Array): Promise<{ out: Float32Array[]; splits: number }> {
  const x = E.tensor(X, c.x, { requiresGrad: true });
  const w = E.tensor(W, c.w, { requiresGrad: true });
  const b = B ? E.tensor(B, [c.w[0]]) : null;
  const y = E.conv2d(x, w, b, c.cfg);
  y.backward(E.tensor(GY, [...y.shape]));
  const splits = weightGradSplitCount();
  const out = [await y.toArray(), await x.grad!.toArray(), await w.grad!.toArray()];
  [x, w, y].forEach((t) => t.dispose());
  b?.dispose();
  return { out, splits };
}

describe('conv2d vec4 stores (forward OH*OW % 4 == 0, stride-1 input-grad H*W % 4 == 0, weight-grad Kg % 4 == 0), and balanced tile heights', () => {
  const cases: Case[] = [
    { x: [2, 4, 6, 6], w: [7, 4, 3, 3], cfg: { padding: [1, 1] }, bias: true },
    { x: [1, 3, 5, 4], w: [5, 3, 3, 3], cfg: { padding: [1, 1] }, bias: false },
    { x: [2, 8, 8, 8], w: [6, 4, 3, 3], cfg: { stride: [2, 2], padding: [1, 1], groups: 2 }, bias: true },
    { x: [1, 3, 12, 12], w: [5, 3, 7, 7], cfg: { stride: [2, 2], padding: [3, 3] }, bias: true },
    { x: [2, 5, 4, 4], w: [6, 5, 1, 1], cfg: {}, bias: false },
  ];
  const S = () => E.deviceContext().summary.subgroupSize;
  const sets: [string, () => Partial<Record<'conv.fwd' | 'conv.dx' | 'conv.dw', GemmVariant>>][] = [
    // (on GPUs, whose default is the tiled family, the subgroup-broadcast family's untuned form)
    ['default kernels', () => (useBcast() ? {} : { 'conv.fwd': { family: 'bcast', tm: S(), wg: 1, subgroup: S() }, 'conv.dx': { family: 'bcast', tm: S(), wg: 1, subgroup: S() }, 'conv.dw': { family: 'bcast', tm: S(), wg: 1, subgroup: S() } })],
    ['packed panels', () => ({ 'conv.fwd': { family: 'bcast', tm: 2 * S(), wg: 1, subgroup: S(), pack: true }, 'conv.dx': { family: 'bcast', tm: S(), wg: 2, subgroup: S(), pack: true, swap: true }, 'conv.dw': { family: 'bcast', tm: S(), wg: 1, subgroup: S(), pack: true } })],
    // (small largest heights: every fitted height is a kernel of its own, compiled once per case)
    ['balanced tile heights (fit)', () => ({ 'conv.fwd': { family: 'bcast', tm: 3 * S(), wg: 1, subgroup: S(), pack: 'B', fit: true }, 'conv.dx': { family: 'bcast', tm: 3 * S(), wg: 1, subgroup: S(), fit: true }, 'conv.dw': { family: 'bcast', tm: 2 * S(), wg: 2, subgroup: S(), pack: 'B', fit: true } })],
    ['B panels, 8 columns a lane', () => ({ 'conv.fwd': { family: 'bcast', tm: S(), tn: 8, wg: 1, subgroup: S(), pack: 'B' }, 'conv.dx': { family: 'bcast', tm: S(), tn: 8, wg: 1, subgroup: S(), pack: 'B' }, 'conv.dw': { family: 'bcast', tm: 2 * S(), wg: 2, subgroup: S(), pack: 'B' } })],
  ];
  before(function () {
    if (!E.deviceContext().features.has('subgroups') || S() < 4) this.skip();
  });
  after(() => {
    setGemmStore4(true);
    setConvVariants({});
  });
  it("the cases give the 'fit' forward tile heights that are not a multiple of the subgroup size (a partial last slot of A rows)", () => {
    const fwd = sets.find(([name]) => name.startsWith('balanced'))![1]()['conv.fwd']!;
    const heights = cases.map((c) => {
      const d = convDims(c.x, c.w, c.cfg);
      return fitVariant(fwd, d.N * d.OH * d.OW).tm;
    });
    expect(heights.some((tm) => tm % S() !== 0), `${heights}`).to.equal(true);
  });
  for (const [name, variants] of sets) {
    for (const c of cases) {
      it(`${name}: ${label(c)}: same bits as scalar stores, and vs float64`, async () => {
        setConvVariants(variants());
        const { d, X, W, B, GY } = caseData(c);
        const run = async (on: boolean): Promise<{ out: Float32Array[]; stores: number }> => {
          setGemmStore4(on);
          const before = gemmStore4Count();
          const { out } = await convProducts(c, X, W, B, GY);
          return { out, stores: gemmStore4Count() - before };
        };
        const vec4 = await run(true);
        const scalar = await run(false);
        expect(vec4.stores, 'GEMMs with vec4 stores').to.be.greaterThan(0);
        expect(scalar.stores).to.equal(0);
        ['forward', 'input grad', 'weight grad'].forEach((what, i) => expect(Array.from(vec4.out[i]), `${what}: vec4 and scalar stores differ`).to.deep.equal(Array.from(scalar.out[i])));
        const ref = conv2dRef(X, W, B, d);
        assertClose(vec4.out[0], ref, scaledTol(ref), 'forward');
        const g = conv2dGradRef(X, W, GY, d);
        assertClose(vec4.out[1], g.dx, scaledTol(g.dx), 'input grad');
        assertClose(vec4.out[2], g.dw, scaledTol(g.dw), 'weight grad');
      });
    }
  }
});

describe('conv2d GEMMs with tiles from a counter (the default on CPU drivers for 4+ tiles a driver thread)', () => {
  // (default kernels; the weight-grads split K until the grid has 32 workgroups, so their counters run over z)
  const cases: Case[] = [
    // (weight-grad K = N * OH * OW of 256 or more a split)
    { x: [2, 5, 25, 23], w: [6, 5, 3, 3], cfg: { padding: [1, 1] }, bias: true },
    { x: [2, 3, 41, 37], w: [9, 3, 7, 7], cfg: { stride: [2, 2], padding: [3, 3] }, bias: false },
    { x: [3, 12, 9, 9], w: [20, 12, 1, 1], cfg: { stride: [2, 2] }, bias: true },
  ];
  before(function () {
    if (!E.deviceContext().features.has('subgroups') || E.deviceContext().summary.subgroupSize < 4) this.skip();
    setConvWeightGradSplits('fill');
  });
  after(() => {
    setGemmDynamicTiles('auto');
    setConvWeightGradSplits('even');
  });
  for (const c of cases) {
    it(`${label(c)}: forward, input-grad and weight-grad the same bits as in grid order, and vs float64`, async () => {
      const { d, X, W, B, GY } = caseData(c);
      const run = async (mode: 'on' | 'off'): Promise<{ out: Float32Array[]; dyn: number; splits: number }> => {
        setGemmDynamicTiles(mode);
        const before = gemmDynamicTilesCount();
        const { out, splits } = await convProducts(c, X, W, B, GY);
        return { out, dyn: gemmDynamicTilesCount() - before, splits };
      };
      const counter = await run('on');
      const grid = await run('off');
      expect(counter.dyn, 'GEMMs with tiles from a counter').to.be.greaterThan(0);
      expect(grid.dyn).to.equal(0);
      ['forward', 'input grad', 'weight grad'].forEach((what, i) => expect(Array.from(counter.out[i]), `${what}: counter and grid order differ`).to.deep.equal(Array.from(grid.out[i])));
      const ref = conv2dRef(X, W, B, d);
      assertClose(counter.out[0], ref, scaledTol(ref), 'forward');
      const g = conv2dGradRef(X, W, GY, d);
      assertClose(counter.out[1], g.dx, scaledTol(g.dx), 'input grad');
      assertClose(counter.out[2], g.dw, scaledTol(g.dw), 'weight grad');
      // (a 1x1 weight-grad runs as a batched matmul, unsplit)
      if (c.w[2] * c.w[3] > 1) expect(counter.splits, 'the weight-grad split K (a counter over z)').to.be.greaterThan(1);
    });
  }
});

describe('conv2d forward and input-grad, channels-last and NCHW gathers', () => {
  for (const mode of ['on', 'off'] as const) {
    describe(mode === 'on' ? 'channels-last copy (input / output channels per group % 4 == 0)' : 'NCHW gathers', () => {
      before(() => setConvChannelsLast(mode));
      after(() => setConvChannelsLast('auto'));
      for (const c of [CASES[10], CASES[11], CASES[1], CASES[15]]) it(label(c), () => checkAgainstRef(c));
    });
  }
});

describe('conv2d channels-last operands a matrix texture cannot hold, copied flat into textures', () => {
  // texture-reading variants for the forward and the input-grad; the matrix copy wants rows 256 bytes
  // apart (channels a multiple of 64) and no more pixels than a texture's height
  const variants = (): Partial<Record<'conv.fwd' | 'conv.dx', GemmVariant>> => {
    const S = E.deviceContext().summary.subgroupSize;
    return { 'conv.fwd': { family: 'bcast', tm: 2 * S, tn: 8, wg: 2, subgroup: S, pack: 'B', tex: true }, 'conv.dx': { family: 'bcast', tm: S, wg: 2, subgroup: S, pack: 'B', tex: true } };
  };
  // each input-grad route reads dy from the texture: the phase GEMM, and dcol = dy x weight before col2im (groups = 1)
  const flatCases: [string, 'phase' | 'col2im', Case][] = [
    ['8 channels, 12 output channels', 'col2im', { x: [2, 8, 7, 5], w: [12, 8, 3, 3], cfg: { padding: [1, 1] }, bias: true }],
    ['8 channels, 12 output channels', 'phase', { x: [2, 8, 7, 5], w: [12, 8, 3, 3], cfg: { padding: [1, 1] }, bias: false }],
    ['2 groups of 4, strided', 'phase', { x: [1, 8, 6, 7], w: [8, 4, 3, 3], cfg: { stride: [2, 2], padding: [1, 1], groups: 2 }, bias: false }],
    ['64 channels but more pixels than a texture is high', 'phase', { x: [1, 64, 131, 130], w: [4, 64, 3, 3], cfg: { padding: [1, 1] }, bias: false }],
  ];
  for (const mode of ['auto', 'off'] as const) {
    for (const [name, dxPath, c] of flatCases) {
      it(`${mode === 'auto' ? 'flat copies' : 'buffers (flat copies off)'}: ${name}, ${dxPath} input-grad: ${label(c)} vs float64`, async function () {
        if (!E.deviceContext().features.has('subgroups')) this.skip();
        const o = caseOperands(c, c.bias);
        const { d, GY, x, w, b } = o;
        setConvVariants(variants());
        setConvChannelsLast('on');
        setConvFlatOperands(mode);
        setConvInputGradPath(dxPath);
        try {
          const before = convFlatOperandCopies();
          const y = E.conv2d(x, w, b, c.cfg);
          const dx = convInputGrad(E.tensor(GY, [d.N, d.O, d.OH, d.OW]), w, convGeometry('t', x, w, c.cfg));
          // x (forward) and dy (input-grad): each copied flat once under 'auto'
          expect(convFlatOperandCopies() - before, 'flat copies').to.equal(mode === 'auto' ? 2 : 0);
          await expectForwardAndInputGrad(o, y, dx);
          [y, dx].forEach((t) => t.dispose());
        } finally {
          setConvVariants({});
          setConvChannelsLast('auto');
          setConvFlatOperands('auto');
          setConvInputGradPath('auto');
          [x, w, b].forEach((t) => t?.dispose());
        }
      });
    }
  }
  it('flat copies go back to the pools: live bytes flat over repeated forwards and input-grads', async function () {
    if (!E.deviceContext().features.has('subgroups')) this.skip();
    const c = flatCases[0][2];
    const { d, GY, x, w } = caseOperands(c, false);
    const dy = E.tensor(GY, [d.N, d.O, d.OH, d.OW]);
    const g = convGeometry('t', x, w, c.cfg);
    setConvVariants(variants());
    setConvChannelsLast('on');
    setConvInputGradPath('phase');
    try {
      const before = convFlatOperandCopies();
      await expectFlatMemory(() => {
        E.conv2d(x, w, null, c.cfg).dispose();
        convInputGrad(dy, w, g).dispose();
      }, 3, 'liveBytes');
      expect(convFlatOperandCopies() - before, 'flat copies').to.equal(8);
    } finally {
      setConvVariants({});
      setConvChannelsLast('auto');
      setConvInputGradPath('auto');
      [x, w, dy].forEach((t) => t.dispose());
    }
  });
});

describe('conv2d channels-last copy (4 x 4 block kernel and the generic strided copy)', () => {
  before(function () {
    // channels-last copies feed the subgroup-broadcast family only: on GPUs (tiled family by default)
    // force it where subgroups exist
    if (!useBcast()) {
      const S = E.deviceContext().summary.subgroupSize;
      if (!E.deviceContext().features.has('subgroups') || S < 4) this.skip();
      const v: GemmVariant = { family: 'bcast', tm: S, wg: 1, subgroup: S };
      setConvVariants({ 'conv.fwd': v, 'conv.dx': v });
    }
    setConvChannelsLast('on');
    setConvInputGradPath('phase'); // (8 channels would take the col2im input-grad, which reads dy as it is)
  });
  after(() => {
    setConvChannelsLast('auto');
    setConvInputGradPath('auto');
    setConvNhwcKernel(true);
    setConvVariants({});
  });
  // x and dy views at a 16-byte aligned offset, 8 channels and 4 x 5 pixels (P % 4 == 0: the block
  // kernel applies) and at 3 x 5 pixels (it does not); forward and input-grad against float64
  for (const [H, W] of [[4, 5], [3, 5]]) {
    for (const kernelOn of [true, false]) {
      it(`x and dy at an offset, [2, 8, ${H}, ${W}], ${kernelOn ? 'block kernel' : 'generic copy'}`, async () => {
        setConvNhwcKernel(kernelOn);
        const xs = [2, 8, H, W];
        const ws = [12, 8, 3, 3];
        const cfg: ConvCfg = { padding: [1, 1] };
        const n = 2 * 8 * H * W;
        const X = randomData(n, seed++);
        const W8 = randomData(12 * 8 * 9, seed++);
        const d = convDims(xs, ws, cfg);
        const GY = randomData(d.N * d.O * d.OH * d.OW, seed++);
        // stored after 8 leading values: each view starts 32 bytes in
        const lead = randomData(8, seed++);
        const xAll = E.tensor(Float32Array.from([...lead, ...X]), [8 + n]);
        const x = E.reshape(E.slice(xAll, 0, 8, 8 + n), xs);
        expect(x.offset).to.equal(8);
        const w = E.tensor(W8, ws);
        E.startProfile(); // counts the block kernel's dispatches: one per copied operand (x, dy)
        const y = E.conv2d(x, w, null, cfg);
        assertClose(await y.toArray(), conv2dRef(X, W8, null, d), scaledTol(conv2dRef(X, W8, null, d)), 'forward');
        const gyAll = E.tensor(Float32Array.from([...lead, ...GY]), [8 + GY.length]);
        const gy = E.reshape(E.slice(gyAll, 0, 8, 8 + GY.length), [d.N, d.O, d.OH, d.OW]);
        const dx = convInputGrad(gy, w, convGeometry('t', x, w, cfg));
        const blocks = (await E.stopProfile()).find((r) => r.kernel === 'nchw_to_nhwc')?.calls ?? 0;
        expect(blocks, 'block-kernel copies').to.equal(kernelOn && (H * W) % 4 === 0 ? 2 : 0);
        const g = conv2dGradRef(X, W8, GY, d);
        assertClose(await dx.toArray(), g.dx, scaledTol(g.dx), 'input grad');
        [xAll, x, w, y, gyAll, gy, dx].forEach((t) => t.dispose());
      });
    }
  }
});

describe("conv2d weight-grad reading dy from a flat texture copy ('on': at any subgroup width)", () => {
  // 'auto' takes it at 16 lanes only (wide_check.ts checks it there); 'on' runs it at this process's width
  const dyCases: [Case, string][] = [
    [{ x: [2, 8, 6, 6], w: [12, 8, 3, 3], cfg: { padding: [1, 1] }, bias: false }, 'gemm:conv.dw.tex.yt:'],
    [{ x: [1, 6, 8, 7], w: [8, 6, 3, 3], cfg: { stride: [2, 1], padding: [1, 1] }, bias: false }, 'gemm:conv.dw.yt:'],
  ];
  for (const [c, kind] of dyCases) {
    it(`${label(c)}: ${kind.slice(5, -1)} vs float64`, async function () {
      if (!E.deviceContext().features.has('subgroups')) this.skip();
      const { X, W, d, GY, x, w } = caseOperands(c, false);
      const S = E.deviceContext().summary.subgroupSize;
      setConvVariants({ 'conv.dw': { family: 'bcast', tm: 2 * S, tn: 8, wg: 1, subgroup: S, pack: 'B', tex: true } });
      setConvWeightGradDyTexture('on');
      try {
        E.startProfile();
        const dw = convWeightGrad(E.tensor(GY, [d.N, d.O, d.OH, d.OW]), x, convGeometry('t', x, w, c.cfg));
        const kernels = (await E.stopProfile()).map((r) => r.kernel);
        expect(kernels.some((k) => k.startsWith(kind)), kernels.join(', ')).to.equal(true);
        const g = conv2dGradRef(X, W, GY, d);
        assertClose(await dw.toArray(), g.dw, scaledTol(g.dw), 'weight grad');
        dw.dispose();
      } finally {
        setConvVariants({});
        setConvWeightGradDyTexture('auto');
        [x, w].forEach((t) => t.dispose());
      }
    });
  }
});

describe('conv2d weight-grad split over K', () => {
  it('on a CPU driver, splits only to spread the tiles evenly over its threads, with the fewest splits', () => {
    // [tiles, threads, fewest splits accuracy needs, most splits K allows] -> splits
    const table: [number, number, number, number, number][] = [
      [6, 2, 1, 24, 1], // even already
      [1, 2, 1, 24, 2],
      [3, 2, 1, 24, 2],
      [3, 2, 1, 1, 1], // K too short to split
      [9, 2, 1, 64, 1], // 4+ tiles a thread: the remainder costs less than the partial sums
      [1, 3, 1, 5, 3],
      [3, 4, 1, 2, 1], // 2 splits use the threads no better than 1
      [5, 4, 1, 8, 4],
      [2, 4, 1, 8, 2],
      [1, 2, 3, 64, 4], // a long K: 3 splits at least, 4 to be even
      [3, 2, 3, 64, 3], // 9 workgroups: 4+ a thread
      [1, 2, 64, 64, 64],
    ];
    for (const [tiles, threads, least, most, want] of table) expect(cpuSplits(tiles, threads, least, most), `${tiles} tiles, ${threads} threads, ${least}..${most} splits`).to.equal(want);
  });
  const c: Case = { x: [2, 3, 32, 32], w: [5, 3, 3, 3], cfg: { padding: [1, 1] }, bias: true };
  for (const rule of ['even', 'fill'] as const) {
    it(`${rule === 'even' ? 'even spread' : 'fill 32 workgroups'}: ${label(c)} vs float64, split as the rule says`, async () => {
      setConvWeightGradSplits(rule);
      try {
        await checkAgainstRef(c);
        const { isSoftware, driverThreads } = E.deviceContext().summary;
        // K = 2 * 32 * 32 = 2048 allows 8 splits of 256; the 27-row product is one tile
        if (isSoftware && driverThreads === 2) expect(weightGradSplitCount()).to.equal(rule === 'even' ? 2 : 8);
        else expect(weightGradSplitCount()).to.be.at.least(1);
      } finally {
        setConvWeightGradSplits('even');
      }
    });
  }
});

describe('conv2d details', () => {
  it("padding 'same' pads the odd pixel at the bottom/right, as PyTorch", async () => {
    const c: Case = { x: [1, 2, 6, 7], w: [3, 2, 2, 4], cfg: {}, bias: false };
    const X = randomData(84, seed++);
    const W = randomData(48, seed++);
    const y = E.conv2d(E.tensor(X, c.x), E.tensor(W, c.w), null, { padding: 'same' });
    expect(y.shape).to.deep.equal([1, 3, 6, 7]);
    // total padding (1, 3): top/left get (0, 1), bottom/right the rest
    const ref = conv2dRef(X, W, null, { ...convDims(c.x, c.w, { padding: [0, 1] }), OH: 6, OW: 7 });
    assertClose(await y.toArray(), ref, scaledTol(ref));
    y.dispose();
  });

  it('reads strided (non-contiguous) inputs and weights', async () => {
    const X = randomData(2 * 3 * 5 * 4, seed++);
    const W = randomData(4 * 3 * 3 * 3, seed++);
    const xT = E.tensor(X, [2, 3, 4, 5]).transpose(2, 3); // [2, 3, 5, 4] view
    const wT = E.tensor(W, [3, 4, 3, 3]).transpose(0, 1); // [4, 3, 3, 3] view
    const y = E.conv2d(xT, wT, null, { padding: 1 });
    const xc = await E.contiguous(xT).toArray();
    const wc = await E.contiguous(wT).toArray();
    const ref = conv2dRef(xc, wc, null, convDims([2, 3, 5, 4], [4, 3, 3, 3], { padding: [1, 1] }));
    assertClose(await y.toArray(), ref, scaledTol(ref));
  });

  it('leaves no buffers behind after forward and backward', async () => {
    const x = E.tensor(randomData(2 * 3 * 6 * 5, seed++), [2, 3, 6, 5], { requiresGrad: true });
    const w = E.tensor(randomData(4 * 3 * 3 * 3, seed++), [4, 3, 3, 3], { requiresGrad: true });
    const b = E.tensor(randomData(4, seed++), [4], { requiresGrad: true });
    const step = () => {
      E.tidy(() => E.sum(E.conv2d(x, w, b, { stride: 2, padding: 1 })).backward());
      [x, w, b].forEach((t) => t.zeroGrad());
    };
    await expectFlatMemory(step, 2);
    [x, w, b].forEach((t) => t.dispose());
  });
});

describe('conv2d argument errors', () => {
  const x = () => E.zeros([1, 4, 5, 5]);
  const w = () => E.zeros([6, 4, 3, 3]);
  it('input that is not 4-D', () => expectError(() => E.conv2d(E.zeros([4, 5, 5]), w()), /conv2d/, /input must be 4-D/, /\[4, 5, 5\]/));
  it('weight that is not 4-D', () => expectError(() => E.conv2d(x(), E.zeros([6, 4, 3])), /weight must be 4-D/));
  it('channel mismatch', () => expectError(() => E.conv2d(x(), E.zeros([6, 3, 3, 3])), /expects 3 input channels/, /\[1, 4, 5, 5\]/));
  it('groups that do not divide the channels', () => expectError(() => E.conv2d(E.zeros([1, 6, 5, 5]), E.zeros([4, 2, 3, 3]), null, { groups: 4 }), /not divisible by groups 4/));
  it('bias of the wrong shape', () => expectError(() => E.conv2d(x(), w(), E.zeros([5])), /bias must be \[6\]/));
  it('zero stride', () => expectError(() => E.conv2d(x(), w(), null, { stride: 0 }), /stride must be an integer >= 1/));
  it('negative padding', () => expectError(() => E.conv2d(x(), w(), null, { padding: -1 }), /padding must be an integer >= 0/));
  it('kernel larger than the padded input', () => expectError(() => E.conv2d(E.zeros([1, 4, 2, 2]), w()), /smaller than the dilated kernel 3x3/));
  it("padding 'same' with a stride", () => expectError(() => E.conv2d(x(), w(), null, { stride: 2, padding: 'same' }), /'same' is not supported for strided/));
  it('int32 input', () => expectError(() => E.conv2d(E.tensor(new Int32Array(100), [1, 4, 5, 5]), w()), /expected float32/));
  it('disposed input', () => {
    const t = x();
    t.dispose();
    expectError(() => E.conv2d(t, w()), /conv2d/, /disposed/);
  });
});
