// Every core op, forward against a float64 JS reference and backward against central finite
// differences of that reference (float64, eps 1e-6). The scalar differentiated is sum(op(x) * w)
// with random w. Tolerance: rtol 1e-4 with atol 1e-6 of the largest magnitude (scaledTol).
import { expect } from 'chai';
import * as E from '../../engine/index.js';
import { assertClose, finiteDiff, randomData, scaledTol } from '../helpers.js';
import * as R from '../ref64.js';

interface InSpec {
  shape: number[];
  lo?: number;
  hi?: number;
}

let seed = 100;

async function check(name: string, specs: InSpec[], gpu: (xs: E.Tensor[]) => E.Tensor, ref: (xs: R.Nd[]) => R.Nd): Promise<void> {
  const datas = specs.map((s) => randomData(R.size(s.shape), seed++, s.lo ?? -1, s.hi ?? 1));
  const xs = specs.map((s, i) => E.tensor(datas[i], s.shape, { requiresGrad: true }));
  const refOut = ref(specs.map((s, i) => R.nd(s.shape, datas[i])));
  const w = randomData(refOut.data.length, seed++);
  const out = E.tidy(() => {
    const o = gpu(xs);
    const loss = E.sum(E.mul(o, E.tensor(w, [...o.shape])));
    loss.backward();
    return o;
  });
  try {
    if (out.shape.join() !== refOut.shape.join()) throw new Error(`${name}: shape [${out.shape}] vs reference [${refOut.shape}]`);
    assertClose(await out.toArray(), refOut.data, scaledTol(refOut.data), `${name} forward`);
    const x64 = datas.map((d) => Float64Array.from(d));
    const fd = finiteDiff((vals) => R.dot(ref(specs.map((s, i) => R.nd(s.shape, vals[i]))), w), x64);
    for (let i = 0; i < xs.length; i++) {
      if (!xs[i].grad) throw new Error(`${name}: input ${i} got no gradient`);
      assertClose(await xs[i].grad!.toArray(), fd[i], scaledTol(fd[i], 2e-4), `${name} grad ${i}`);
    }
  } finally {
    out.dispose();
    xs.forEach((x) => x.dispose());
  }
}

const unaryRef: Record<string, [(v: number) => number, number, number]> = {
  neg: [(v) => -v, -1, 1],
  exp: [Math.exp, -2, 2],
  log: [Math.log, 0.2, 3],
  sqrt: [Math.sqrt, 0.2, 3],
  rsqrt: [(v) => 1 / Math.sqrt(v), 0.2, 3],
  relu: [(v) => Math.max(v, 0), -1, 1],
  sigmoid: [(v) => 1 / (1 + Math.exp(-v)), -5, 5],
  tanh: [Math.tanh, -3, 3],
  abs: [Math.abs, -1, 1],
};
const shapes = [[1], [13], [3, 5, 7]];

describe('core ops vs float64 reference and finite differences', () => {
  describe('unary', () => {
    for (const [op, [f, lo, hi]] of Object.entries(unaryRef)) {
      for (const s of shapes) {
        it(`${op} [${s}]`, () => check(op, [{ shape: s, lo, hi }], ([x]) => (E as any)[op](x), ([x]) => R.mapN(f, x)));
      }
    }
    it('pow 3 on negatives and 2.5 on positives', async () => {
      await check('pow3', [{ shape: [4, 3] }], ([x]) => E.pow(x, 3), ([x]) => R.mapN((v) => v ** 3, x));
      await check('pow2.5', [{ shape: [5], lo: 0.1, hi: 2 }], ([x]) => E.pow(x, 2.5), ([x]) => R.mapN((v) => v ** 2.5, x));
    });
    it('clamp', () => check('clamp', [{ shape: [17] }], ([x]) => E.clamp(x, -0.5, 0.25), ([x]) => R.mapN((v) => Math.min(Math.max(v, -0.5), 0.25), x)));
    it('scalar operands on either side', async () => {
      await check('s-x', [{ shape: [2, 3] }], ([x]) => E.sub(1.5, x), ([x]) => R.mapN((v) => 1.5 - v, x));
      await check('s/x', [{ shape: [2, 3], lo: 0.5, hi: 2 }], ([x]) => E.div(2, x), ([x]) => R.mapN((v) => 2 / v, x));
      await check('x/s', [{ shape: [7] }], ([x]) => E.div(x, 3), ([x]) => R.mapN((v) => v / 3, x));
      await check('x*s+s', [{ shape: [7] }], ([x]) => E.add(E.mul(x, -2), 0.5), ([x]) => R.mapN((v) => -2 * v + 0.5, x));
    });
  });

  describe('binary with broadcasting', () => {
    const fns: Record<string, (a: number, b: number) => number> = {
      add: (a, b) => a + b,
      sub: (a, b) => a - b,
      mul: (a, b) => a * b,
      div: (a, b) => a / b,
      maximum: Math.max,
      minimum: Math.min,
    };
    const pairs = [[[5, 7], [5, 7]], [[3, 1, 5], [4, 1]], [[4, 1], [3, 1, 5]], [[1], [2, 3]], [[7], [3, 1, 7]], [[1, 1], [1]]];
    for (const [op, f] of Object.entries(fns)) {
      for (const [sa, sb] of pairs) {
        it(`${op} [${sa}] with [${sb}]`, () =>
          check(op, [{ shape: sa }, { shape: sb, ...(op === 'div' ? { lo: 0.5, hi: 2 } : {}) }], ([a, b]) => (E as any)[op](a, b), ([a, b]) => R.mapN(f, a, b)));
      }
    }
    it('strided (transposed) operands read in place', () =>
      check('tadd', [{ shape: [5, 3] }, { shape: [3, 5] }], ([a, b]) => E.mul(E.transpose(a), b), ([a, b]) => R.mapN((x, y) => x * y, R.permute(a, [1, 0]), b)));
    it('where with broadcasting', () => {
      const cond = new Float32Array([1, 0, 0, 1, 1, 0, 1]);
      return check(
        'where',
        [{ shape: [2, 7] }, { shape: [1] }],
        ([a, b]) => E.tidy(() => E.where(E.tensor(cond, [7]), a, b)),
        ([a, b]) => R.mapN((c, x, y) => (c ? x : y), R.nd([7], cond), a, b),
      );
    });
  });

  describe('rows that are multiples of 4 (4 elements an invocation)', () => {
    // every load form of the vec4 kernels of shaders/elementwise.wgsl: vec4 (in place, broadcast, offset), splat, gather
    const cols = (t: R.Nd, from: number, to: number): R.Nd => {
      const [rows, n] = t.shape;
      const out: number[] = [];
      for (let r = 0; r < rows; r++) for (let c = from; c < to; c++) out.push(t.data[r * n + c]);
      return R.nd([rows, to - from], Float64Array.from(out));
    };
    it('unary relu and exp', async () => {
      await check('relu4', [{ shape: [3, 8] }], ([x]) => E.relu(x), ([x]) => R.mapN((v) => Math.max(v, 0), x));
      await check('exp4', [{ shape: [2, 1, 4] }], ([x]) => E.exp(x), ([x]) => R.mapN(Math.exp, x));
    });
    it('a row broadcast along the rows (vec4) and a column broadcast along them (splat)', async () => {
      await check('add4', [{ shape: [3, 8] }, { shape: [8] }], ([a, b]) => E.add(a, b), ([a, b]) => R.mapN((x, y) => x + y, a, b));
      await check('mul4', [{ shape: [2, 3, 4] }, { shape: [3, 1] }], ([a, b]) => E.mul(a, b), ([a, b]) => R.mapN((x, y) => x * y, a, b));
      await check('sub4', [{ shape: [1] }, { shape: [2, 12] }], ([a, b]) => E.sub(a, b), ([a, b]) => R.mapN((x, y) => x - y, a, b));
    });
    it('a transposed operand (gather)', () =>
      check('tmul4', [{ shape: [8, 4] }, { shape: [4, 8] }], ([a, b]) => E.mul(E.transpose(a), b), ([a, b]) => R.mapN((x, y) => x * y, R.permute(a, [1, 0]), b)));
    it('column slices at offsets that are and are not multiples of 4', async () => {
      await check('slice1', [{ shape: [3, 12] }, { shape: [3, 8] }], ([a, b]) => E.add(E.slice(a, 1, 1, 9), b), ([a, b]) => R.mapN((x, y) => x + y, cols(a, 1, 9), b));
      await check('slice4', [{ shape: [3, 12] }, { shape: [3, 8] }], ([a, b]) => E.mul(E.slice(a, 1, 4, 12), b), ([a, b]) => R.mapN((x, y) => x * y, cols(a, 4, 12), b));
      await check('rowslice', [{ shape: [5, 4] }], ([a]) => E.tanh(E.slice(a, 0, 1, 4)), ([a]) => R.mapN(Math.tanh, R.nd([3, 4], a.data.slice(4, 16))));
    });
    it('where with three operands', () => {
      const cond = new Float32Array([1, 0, 0, 1, 1, 0, 1, 0]);
      return check(
        'where4',
        [{ shape: [2, 8] }, { shape: [2, 1] }],
        ([a, b]) => E.tidy(() => E.where(E.tensor(cond, [8]), a, b)),
        ([a, b]) => R.mapN((c, x, y) => (c ? x : y), R.nd([8], cond), a, b),
      );
    });
  });

  describe('outputs over several elementwise workgroups (1024 outputs each, odd tails)', () => {
    // y = a * b; the gradients of sum(y * w) are w * b (a full-shape) and w * a summed over b's broadcast axes
    // [name, a's shape, b's shape, b's broadcast axes, a used transposed]
    const cases: [string, number[], number[], number[], boolean][] = [
      ['scalar form, b broadcast', [3, 5, 1031], [5, 1], [0, 2], false],
      ['vec4 form, b a broadcast row', [2, 3, 4100], [4100], [0, 1], false],
      ['vec4 form, a transposed (gather)', [4100, 6], [6, 4100], [], true],
    ];
    for (const [name, sa, sb, axes, transposed] of cases) {
      it(`${name}: a [${sa}], b [${sb}]`, async () => {
        const A = randomData(R.size(sa), seed++);
        const B = randomData(R.size(sb), seed++);
        const a = E.tensor(A, sa, { requiresGrad: true });
        const b = E.tensor(B, sb, { requiresGrad: true });
        const y = E.mul(transposed ? E.transpose(a) : a, b);
        const ra = transposed ? R.permute(R.nd(sa, A), [1, 0]) : R.nd(sa, A);
        const ref = R.mapN((x, z) => x * z, ra, R.nd(sb, B));
        const W = randomData(ref.data.length, seed++);
        const w = R.nd(ref.shape, W);
        assertClose(await y.toArray(), ref.data, scaledTol(ref.data), `${name} forward`);
        E.sum(E.mul(y, E.tensor(W, ref.shape))).backward();
        const wb = R.mapN((x, z) => x * z, w, R.nd(sb, B));
        const ga = transposed ? R.permute(wb, [1, 0]) : wb;
        assertClose(await a.grad!.toArray(), ga.data, scaledTol(ga.data), `${name} grad a`);
        const wa = R.mapN((x, z) => x * z, w, ra);
        const gb = axes.length ? R.reduce(wa, axes, sb.length === wa.shape.length, 'sum') : wa;
        assertClose(await b.grad!.toArray(), gb.data, scaledTol(gb.data), `${name} grad b`);
      });
    }
  });

  describe('reductions', () => {
    const cases: [number[], number[] | undefined, boolean][] = [
      [[3, 5, 7], undefined, false],
      [[3, 5, 7], [1], true],
      [[3, 5, 7], [0, 2], false],
      [[1], [0], true],
      [[2, 1, 6], [2], false],
      [[2, 600], [1], false], // longer than one 256-element chunk
      // leading axes of a contiguous tensor (reduced column by column in place): 3 columns (scalar
      // form) over more rows than one 256-row block, 8 columns (vec4 form) over 2 x 3 rows, 4 x 1
      [[600, 3], [0], false],
      [[2, 3, 8], [0, 1], true],
      [[5, 4], [0], false],
      [[3, 1, 2], [0], true],
    ];
    for (const kind of ['sum', 'mean', 'max', 'var'] as const) {
      for (const [s, axes, keep] of cases) {
        if (kind === 'var' && R.size(axes ? axes.map((a) => s[a]) : s) < 2) continue;
        it(`${kind} [${s}] axes ${axes ?? 'all'} keepdim ${keep}`, () =>
          check(
            kind,
            [{ shape: s }],
            ([x]) => (kind === 'var' ? E.variance(x, axes, keep) : (E as any)[kind](x, axes, keep)),
            ([x]) => R.reduce(x, axes, keep, kind),
          ));
      }
    }
    it('leading-axis sum, mean and max of contiguous views at offsets (vec4 form at 8, scalar at 3)', async () => {
      const data = randomData(48, 91);
      const flat = E.tensor(data, [48]);
      for (const [off, rows, cols] of [[8, 5, 8], [3, 11, 4]]) {
        const v = E.reshape(E.slice(flat, 0, off, off + rows * cols), [rows, cols]);
        expect(v.offset).to.equal(off);
        for (const kind of ['sum', 'mean', 'max'] as const) {
          const got = await (E as any)[kind](v, 0).toArray();
          const want = Array.from({ length: cols }, (_, c) => {
            const col = Array.from({ length: rows }, (_, r) => data[off + r * cols + c]);
            return kind === 'max' ? Math.max(...col) : col.reduce((a, b) => a + b, 0) / (kind === 'mean' ? rows : 1);
          });
          assertClose(got, want, scaledTol(want), `${kind} offset ${off}`);
        }
        v.dispose();
      }
      flat.dispose();
    });
    for (const kind of ['softmax', 'logSoftmax', 'logsumexp'] as const) {
      for (const [s, axis] of [[[5, 7], 1], [[5, 7], 0], [[2, 3, 4], 1], [[1, 1], -1], [[1, 9], 1]] as [number[], number][]) {
        it(`${kind} [${s}] axis ${axis}`, () =>
          check(kind, [{ shape: s, lo: -3, hi: 3 }], ([x]) => (E as any)[kind](x, axis), ([x]) => R.softmaxFamily(x, axis, kind)));
      }
    }
  });

  describe('matmul and linear', () => {
    const mm: [number[], number[]][] = [
      [[1, 1], [1, 1]],
      [[33, 17], [17, 35]],
      [[1, 5, 3], [3, 2]],
      [[2, 1, 3, 4], [3, 4, 5]],
      [[5, 4], [2, 4, 3]],
    ];
    for (const [sa, sb] of mm) it(`matmul [${sa}] @ [${sb}]`, () => check('matmul', [{ shape: sa }, { shape: sb }], ([a, b]) => E.matmul(a, b), ([a, b]) => R.matmul(a, b)));
    it('matmul with both operands transposed in place', () =>
      check('matmulTT', [{ shape: [6, 5] }, { shape: [7, 6] }], ([a, b]) => E.matmul(E.transpose(a), E.transpose(b)), ([a, b]) => R.matmul(R.permute(a, [1, 0]), R.permute(b, [1, 0]))));
    it('linear [3, 7] x [5, 7] + [5]', () =>
      check(
        'linear',
        [{ shape: [3, 7] }, { shape: [5, 7] }, { shape: [5] }],
        ([x, w, b]) => E.linear(x, w, b),
        ([x, w, b]) => R.mapN((u, v) => u + v, R.matmul(x, R.permute(w, [1, 0])), b),
      ));
  });

  describe('crossEntropy', () => {
    for (const [n, c, red] of [[7, 5, 'mean'], [1, 3, 'sum'], [4, 11, 'none']] as [number, number, 'mean' | 'sum' | 'none'][]) {
      it(`[${n}, ${c}] ${red}`, () => {
        const labels = Array.from({ length: n }, (_, i) => (i * 7 + 3) % c);
        return check('crossEntropy', [{ shape: [n, c], lo: -3, hi: 3 }], ([x]) => E.crossEntropy(x, labels, { reduction: red }), ([x]) => R.crossEntropy(x, labels, red));
      });
    }
  });

  describe('shape ops', () => {
    it('concat along dim 1', () =>
      check(
        'concat',
        [{ shape: [2, 3] }, { shape: [2, 1] }],
        ([a, b]) => E.concat([a, b], 1),
        ([a, b]) => {
          const out = new Float64Array(8);
          for (let r = 0; r < 2; r++) {
            out.set(a.data.subarray(r * 3, r * 3 + 3), r * 4);
            out[r * 4 + 3] = b.data[r];
          }
          return R.nd([2, 4], out);
        },
      ));
    it('slice then permute then reshape', () =>
      check(
        'slice',
        [{ shape: [4, 5] }],
        ([x]) => E.reshape(E.permute(E.slice(x, 1, 1, 4), [1, 0]), [12]),
        ([x]) => {
          const s = R.nd([4, 3], Array.from({ length: 12 }, (_, i) => x.data[Math.floor(i / 3) * 5 + 1 + (i % 3)]));
          const p = R.permute(s, [1, 0]);
          return R.nd([12], p.data);
        },
      ));
    it('reshape of a strided view returns a view where its strides allow one (no kernel), forward and backward', async () => {
      // [3, 4, 6] sliced to columns 1..4: rows of 4 at a stride of 6, so [3, 4] merge into 12 rows
      const sliced = (x: R.Nd) => R.nd([3, 4, 4], Array.from({ length: 48 }, (_, i) => x.data[Math.floor(i / 4) * 6 + 1 + (i % 4)]));
      for (const target of [[12, 4], [1, 12, 1, 4], [3, 4, 2, 2]]) {
        const x = E.tensor(randomData(72, seed++), [3, 4, 6]);
        const v = E.slice(x, 2, 1, 5);
        const before = E.commandStats().dispatches;
        const r = E.reshape(v, target);
        expect(E.commandStats().dispatches - before, `reshape to [${target}] dispatched a copy`).to.equal(0);
        expect(r.isContiguous, 'the result is a strided view').to.equal(false);
        [x, v, r].forEach((t) => t.dispose());
        await check(`reshape [${target}]`, [{ shape: [3, 4, 6] }], ([t]) => E.reshape(E.slice(t, 2, 1, 5), target), ([t]) => R.nd(target, sliced(t).data));
      }
      // a transposed matrix flattened: no strides give it, so it is copied
      const x = E.tensor(randomData(12, seed++), [3, 4]);
      const t = E.transpose(x, 0, 1);
      const before = E.commandStats().dispatches;
      const flat = E.reshape(t, [12]);
      expect(E.commandStats().dispatches - before, 'a transposed flatten copies').to.equal(1);
      expect(flat.isContiguous).to.equal(true);
      const want = Array.from({ length: 12 }, (_, i) => (i % 3) * 4 + Math.floor(i / 3));
      const xs = await x.toArray();
      assertClose(await flat.toArray(), Float64Array.from(want, (j) => xs[j]), { rtol: 0, atol: 0 }, 'transposed flatten');
      [x, t, flat].forEach((u) => u.dispose());
    });
    it('indexSelect with repeated indices', () => {
      const idx = [2, 0, 2, 2, 1];
      return check('indexSelect', [{ shape: [3, 4] }], ([x]) => E.indexSelect(x, idx), ([x]) => R.nd([5, 4], idx.flatMap((r) => Array.from(x.data.subarray(r * 4, r * 4 + 4)))));
    });
  });

  describe('graphs', () => {
    it('a residual connection (x used on two paths) and a shared weight', () =>
      check(
        'residual',
        [{ shape: [3, 4] }, { shape: [4, 4] }],
        ([x, w]) => E.add(x, E.relu(E.matmul(E.tanh(E.matmul(x, w)), w))),
        ([x, w]) => {
          const h = R.mapN(Math.tanh, R.matmul(x, w));
          return R.mapN((a, b) => a + Math.max(b, 0), x, R.matmul(h, w));
        },
      ));
  });
});
