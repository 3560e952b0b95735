// The tuned matmul: every GEMM variant (subgroup broadcast with several tiles and grid orders,
// packed panels, register blocking without subgroups) and the naive reference kernel, against a
// float64 reference on odd shapes, batched with broadcasting, with transposed operands read in
// place, K = 0 and 1-D operands; gradients against finite differences. The workgroup-memory tiled
// family (chosen on discrete GPUs) runs here too: slow on lavapipe, but correct everywhere.
import { expect } from 'chai';
import * as E from '../../engine/index.js';
import { dynamicTilesPay, gemmDynamicTilesCount, gemmSource, gemmStore4Count, readsTextures, setGemmDynamicTiles, setGemmStore4, setMatmulKernel, setSlabCopies, setTileSlabCopies, slabLayout, textureCopyCounters, tileSlabLayout } from '../../engine/ops/matmul.js';
import { fitVariant, type GemmVariant } from '../../engine/tune.js';
import { assertClose, finiteDiff, randomData, scaledTol, toF64 } from '../helpers.js';
import { refMatmul } from './ref.js';

let seed = 9000;

/** A GEMM spec of constant operands, for reading generated WGSL. */
const CONSTANT_SPEC = { key: 't', params: [], bindings: ['var<storage, read_write> c: array<f32>'], rowPrep: () => '', loadA: () => '1.0', loadB: () => 'vec4<f32>(1.0)', store1: (m: string, n: string, v: string) => `c[${m} + ${n}] = ${v};` };

function variants(): [string, GemmVariant | 'naive'][] {
  const S = E.deviceContext().summary.subgroupSize;
  const out: [string, GemmVariant | 'naive'][] = [
    ['naive reference', 'naive'],
    ['reg tm4 wg8', { family: 'reg', tm: 4, wg: 8, subgroup: 1 }],
    ['reg tm3 wg2 swap', { family: 'reg', tm: 3, wg: 2, subgroup: 1, swap: true }],
    ['reg tm4 packed', { family: 'reg', tm: 4, wg: 2, subgroup: 1, pack: true }],
    ['reg tm2 packB', { family: 'reg', tm: 2, wg: 3, subgroup: 1, pack: 'B' }],
    ['tiled (workgroup memory, GPUs)', { family: 'tiled', tm: 4, wg: 1, subgroup: 1 }],
    ['tiled 128x128x8', { family: 'tiled', tm: 8, tn: 8, bk: 8, wg: 1, subgroup: 1 }],
    ['tiled 128x64x16', { family: 'tiled', tm: 8, wg: 1, subgroup: 1 }],
    ['tiled 64x128x16', { family: 'tiled', tm: 4, tn: 8, wg: 1, subgroup: 1 }],
  ];
  if (E.deviceContext().features.has('subgroups') && S >= 4) {
    out.push(['bcast tm=S', { family: 'bcast', tm: S, wg: 1, subgroup: S }]);
    out.push(['bcast tm32 wg2 swap', { family: 'bcast', tm: Math.max(S, 32 - (32 % S)), wg: 2, subgroup: S, swap: true }]);
    out.push(['bcast tm=2S wg3 packed', { family: 'bcast', tm: 2 * S, wg: 3, subgroup: S, pack: true }]);
    out.push(['bcast tm=S wg2 packB swap', { family: 'bcast', tm: S, wg: 2, subgroup: S, pack: 'B', swap: true }]);
    out.push(['bcast tm=2S tn8 packed texture', { family: 'bcast', tm: 2 * S, tn: 8, wg: 1, subgroup: S, pack: true, tex: true }]);
    out.push(['bcast tm=S tn8 wg2 packB', { family: 'bcast', tm: S, tn: 8, wg: 2, subgroup: S, pack: 'B' }]);
    out.push(['bcast tm=S packB texture swap', { family: 'bcast', tm: S, wg: 1, subgroup: S, pack: 'B', tex: true, swap: true }]);
    out.push(['bcast tm32 tn8 wg4 packed texture', { family: 'bcast', tm: Math.max(S, 32 - (32 % S)), tn: 8, wg: 4, subgroup: S, pack: true, tex: true }]);
    out.push(['bcast fit tm<=8S tn8 packed', { family: 'bcast', tm: 8 * S, tn: 8, wg: 1, subgroup: S, pack: true, fit: true }]);
    out.push(['bcast fit tm<=4S wg2 packB swap', { family: 'bcast', tm: 4 * S, wg: 2, subgroup: S, pack: 'B', swap: true, fit: true }]);
  }
  return out;
}

describe('matmul kernels (every variant) vs float64 reference', () => {
  after(() => setMatmulKernel('gemm', null));
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [7, 5, 3],
    [33, 65, 17],
    [5, 70, 2],
    [64, 1, 9],
    [131, 137, 41],
  ];
  it('every variant, odd shapes, transposed operands read in place', async () => {
    for (const [name, v] of [['default (tuned or fixed)', null] as [string, GemmVariant | 'naive' | null], ...variants()]) {
      setMatmulKernel(v === 'naive' ? 'naive' : 'gemm', v === 'naive' ? null : v);
      for (const [M, N, K] of shapes) {
        const A = randomData(M * K, seed++);
        const B = randomData(K * N, seed++);
        const ref = refMatmul(A, B, M, N, K);
        const a = E.tensor(A, [M, K]);
        const b = E.tensor(B, [K, N]);
        // the same operands stored transposed, viewed back with transpose()
        const aT = E.tensor(Float32Array.from({ length: M * K }, (_, i) => A[(i % M) * K + Math.floor(i / M)]), [K, M]).transpose(0, 1);
        const bT = E.tensor(Float32Array.from({ length: K * N }, (_, i) => B[(i % K) * N + Math.floor(i / K)]), [N, K]).transpose(0, 1);
        for (const [x, y, what] of [[a, b, 'plain'], [aT, bT, 'transposed']] as const) {
          const c = E.matmul(x, y);
          assertClose(await c.toArray(), ref, scaledTol(ref), `${name} ${M}x${N}x${K} ${what}`);
          c.dispose();
        }
        [a, b, aT, bT].forEach((t) => t.dispose());
      }
    }
  });

  it("the odd shapes give the 'fit' variants tile heights that are not a multiple of the subgroup size (a partial last slot of A rows)", () => {
    const fits = variants().filter(([, v]) => v !== 'naive' && v.fit);
    if (fits.length === 0) return expect(E.deviceContext().features.has('subgroups')).to.equal(false);
    for (const [name, v] of fits) {
      const heights = shapes.map(([M]) => fitVariant(v as GemmVariant, M).tm);
      expect(heights.some((tm) => tm % (v as GemmVariant).subgroup !== 0), `${name}: ${heights}`).to.equal(true);
    }
  });

  it('every variant, batched with broadcasting and K = 0', async () => {
    for (const [name, v] of variants()) {
      setMatmulKernel(v === 'naive' ? 'naive' : 'gemm', v === 'naive' ? null : v);
      const [batch, M, N, K] = [3, 9, 13, 6];
      const A = randomData(batch * M * K, seed++);
      const B = randomData(K * N, seed++);
      const c = E.matmul(E.tensor(A, [batch, M, K]), E.tensor(B, [1, K, N]));
      expect(c.shape).to.deep.equal([batch, M, N]);
      const ref = refMatmul(A, B, M, N, K, batch, true, false);
      assertClose(await c.toArray(), ref, scaledTol(ref), `${name} broadcast batch`);
      const z = E.matmul(E.zeros([4, 0]), E.zeros([0, 5]));
      expect(Array.from(await z.toArray())).to.deep.equal(new Array(20).fill(0));
    }
  });

  it('every subgroup variant with N % 4 == 0 (vec4 stores): odd M, partial column tiles, batched; same bits as scalar stores', async function () {
    const bcast = variants().filter(([, v]) => v !== 'naive' && v.family === 'bcast');
    if (bcast.length === 0) this.skip();
    const shapes: [number, number, number, number][] = [
      [1, 37, 20, 19],
      [1, 5, 132, 70],
      [3, 9, 44, 6],
      [2, 65, 4, 3],
    ];
    try {
      for (const [name, v] of bcast) {
        setMatmulKernel('gemm', v as GemmVariant);
        for (const [batch, M, N, K] of shapes) {
          const A = randomData(batch * M * K, seed++);
          const B = randomData(batch * K * N, seed++);
          const ref = refMatmul(A, B, M, N, K, batch);
          const a = E.tensor(A, [batch, M, K]);
          const b = E.tensor(B, [batch, K, N]);
          const out: Float32Array[] = [];
          for (const on of [true, false]) {
            setGemmStore4(on);
            const before = gemmStore4Count();
            const c = E.matmul(a, b);
            out.push(await c.toArray());
            c.dispose();
            expect(gemmStore4Count() - before, `${name} vec4 stores ${on ? 'on' : 'off'}`).to.equal(on ? 1 : 0);
          }
          assertClose(out[0], ref, scaledTol(ref), `${name} ${batch}x${M}x${N}x${K} vec4 store`);
          expect(Array.from(out[0]), `${name}: vec4 and scalar stores differ`).to.deep.equal(Array.from(out[1]));
          a.dispose();
          b.dispose();
        }
      }
    } finally {
      setGemmStore4(true);
      setMatmulKernel('gemm', null);
    }
  });

  it('tiles from a counter (dyn): every subgroup variant on odd and batched shapes, products queued back to back, the same bits as the grid order', async function () {
    const bcast = variants().filter(([, v]) => v !== 'naive' && v.family === 'bcast') as [string, GemmVariant][];
    if (bcast.length === 0) this.skip();
    // batch 3 (a counter over z too); 1 row tile; many row tiles; one column
    const shapes: [number, number, number, number][] = [
      [3, 9, 13, 6],
      [1, 5, 132, 70],
      [1, 131, 37, 41],
      [2, 70, 1, 9],
    ];
    try {
      for (const [name, v] of bcast) {
        setMatmulKernel('gemm', v);
        const ops = shapes.map(([batch, M, N, K]) => {
          const A = randomData(batch * M * K, seed++);
          const B = randomData(batch * K * N, seed++);
          return { A, B, ref: refMatmul(A, B, M, N, K, batch), a: E.tensor(A, [batch, M, K]), b: E.tensor(B, [batch, K, N]), what: `${batch}x${M}x${N}x${K}` };
        });
        const results: Float32Array[][] = [];
        for (const mode of ['on', 'off'] as const) {
          setGemmDynamicTiles(mode);
          const before = gemmDynamicTilesCount();
          // every product (each twice) encoded before any is read: each dispatch must find its counter reset
          const cs = ops.flatMap(({ a, b }) => [E.matmul(a, b), E.matmul(a, b)]);
          const ran = gemmDynamicTilesCount() - before;
          expect(ran, `${name}: GEMMs with tiles from a counter, ${mode}`).to.equal(mode === 'on' && !v.swap ? cs.length : 0);
          results.push(await Promise.all(cs.map((c) => c.toArray())));
          cs.forEach((c) => c.dispose());
        }
        ops.forEach(({ ref, what }, i) => {
          assertClose(results[0][2 * i], ref, scaledTol(ref), `${name} ${what} counter`);
          assertClose(results[0][2 * i + 1], ref, scaledTol(ref), `${name} ${what} counter, again`);
          expect(Array.from(results[0][2 * i]), `${name} ${what}: counter and grid differ`).to.deep.equal(Array.from(results[1][2 * i]));
        });
        ops.forEach(({ a, b }) => [a, b].forEach((t) => t.dispose()));
      }
    } finally {
      setGemmDynamicTiles('auto');
      setMatmulKernel('gemm', null);
    }
  });

  it('tiles from a counter are the default on CPU drivers for GEMMs of 4 tiles a driver thread or more, and the kernel says so', function () {
    const S = E.deviceContext().features.has('subgroups') ? E.deviceContext().summary.subgroupSize : 0;
    if (S < 4) this.skip();
    const { isSoftware, driverThreads } = E.deviceContext().summary;
    expect(dynamicTilesPay(4 * Math.max(1, driverThreads)), 'enough tiles').to.equal(isSoftware);
    expect(dynamicTilesPay(4 * Math.max(1, driverThreads) - 1), 'too few tiles').to.equal(false);
    // 1024 x 1024: at least 32 tiles for any subgroup variant (at most 256 rows x 128 columns a tile)
    let before = gemmDynamicTilesCount();
    E.matmul(E.ones([1024, 3]), E.ones([3, 1024])).dispose();
    expect(gemmDynamicTilesCount() - before, 'a big default GEMM used the counter').to.equal(isSoftware ? 1 : 0);
    before = gemmDynamicTilesCount();
    E.matmul(E.ones([3, 3]), E.ones([3, 3])).dispose();
    expect(gemmDynamicTilesCount() - before, 'a one-tile GEMM did not').to.equal(0);
    const dyn = gemmSource(CONSTANT_SPEC, { family: 'bcast', tm: S, wg: 1, subgroup: S, dyn: true });
    expect(dyn).to.match(/atomicAdd\(&tileCount\[0\], 1u\)/);
    expect(dyn).to.match(/@builtin\(num_workgroups\)/);
    expect(() => setGemmDynamicTiles('yes' as 'on')).to.throw(/setGemmDynamicTiles: mode must be 'auto', 'on' or 'off', got "yes"/);
    const grid = gemmSource(CONSTANT_SPEC, { family: 'bcast', tm: S, wg: 1, subgroup: S });
    expect(grid).to.not.match(/atomicAdd|tileCount/);
  });

  it('K = 0 with a variant that needs B panels (8 columns a lane): every column is written', async function () {
    const S = E.deviceContext().features.has('subgroups') ? E.deviceContext().summary.subgroupSize : 0;
    if (S < 4) this.skip();
    const [M, N] = [3, 16 * S + 5]; // more column tiles at 4 columns a lane than at 8
    // leave a buffer of that size full of ones in the pool, so unwritten outputs would show
    E.ones([M, N]).dispose();
    setMatmulKernel('gemm', { family: 'bcast', tm: S, tn: 8, wg: 1, subgroup: S, pack: 'B' });
    const z = E.matmul(E.zeros([M, 0]), E.zeros([0, N]));
    expect(Array.from(await z.toArray())).to.deep.equal(new Array(M * N).fill(0));
    setMatmulKernel('gemm', null);
  });

  // the texture variants the operand-copy tests force: B panels only (swapped grid), and both operands packed with 8 columns a lane
  const textureVariants = (S: number): GemmVariant[] => [
    { family: 'bcast', tm: S, wg: 1, subgroup: S, pack: 'B', tex: true, swap: true },
    { family: 'bcast', tm: 2 * S, tn: 8, wg: 1, subgroup: S, pack: true, tex: true },
  ];
  // `rows` rows of `cols` values at stride `stride` (from element `lead`), the rest NaN: a [.., rows, cols] view and its values
  const padded = (rows: number, cols: number, stride: number, batch = 1, lead = 0) => {
    const vals = randomData(batch * rows * cols, seed++);
    const store = new Float32Array(lead + batch * rows * stride).fill(NaN);
    for (let r = 0; r < batch * rows; r++) store.set(vals.subarray(r * cols, (r + 1) * cols), lead + r * stride);
    const flat = E.tensor(store, [store.length]);
    const body = E.slice(flat, 0, lead, store.length);
    const base = E.reshape(body, batch === 1 ? [rows, stride] : [batch, rows, stride]);
    const view = E.slice(base, -1, 0, cols);
    return { vals, view, dispose: () => [flat, body, base, view].forEach((t) => t.dispose()) };
  };

  it('operands whose rows lie 256 bytes apart (padded) are copied a texture row each, rows of whole texels otherwise flat, offsets off a texel packed; the padding (NaN) never reaches the result', async function () {
    const S = E.deviceContext().features.has('subgroups') ? E.deviceContext().summary.subgroupSize : 0;
    if (S < 4) this.skip();
    const [batch, M, K, N] = [2, 9, 40, 52];
    // row strides of B stored [K][N] ('kn'), and of A [M][K] and B stored [N][K] ('nk')
    const layouts = [
      { kn: [64], nk: 64, flat: false },
      { kn: [N, 60], nk: 44, flat: true },
    ];
    try {
      for (const v of textureVariants(S)) {
        setMatmulKernel('gemm', v);
        const reads = readsTextures(v);
        // counters: copies as textures, of which flat
        const copies = (before: ReturnType<typeof textureCopyCounters>, role: 'A' | 'B', flat: boolean, what: string, expected: boolean) => {
          const after = textureCopyCounters();
          expect(after[role] - before[role], `${what}: ${role} copied as a texture`).to.equal(expected ? 1 : 0);
          expect(after[role === 'A' ? 'flatA' : 'flatB'] - before[role === 'A' ? 'flatA' : 'flatB'], `${what}: ${role} copied flat`).to.equal(expected && flat ? 1 : 0);
        };
        for (const { kn, nk, flat } of layouts) {
          // B [batch][K][N] ('kn')
          for (const stride of kn) {
            const A = randomData(batch * M * K, seed++);
            const b = padded(K, N, stride, batch);
            const before = textureCopyCounters();
            const c = E.matmul(E.tensor(A, [batch, M, K]), b.view);
            const ref = refMatmul(A, b.vals, M, N, K, batch);
            const what = `${JSON.stringify(v)} B kn, row stride ${stride}`;
            assertClose(await c.toArray(), ref, scaledTol(ref), what);
            copies(before, 'B', flat, what, reads);
            c.dispose();
            b.dispose();
          }
          // B stored [N][K], read transposed ('nk'); A [M][K]; a packed variant copies A too (a B-packed one reads A in place)
          const bt = padded(N, K, nk);
          const a = padded(M, K, nk);
          const B = new Float32Array(K * N);
          for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) B[k * N + n] = bt.vals[n * K + k];
          const before = textureCopyCounters();
          const bView = E.transpose(bt.view, 0, 1);
          const c = E.matmul(a.view, bView);
          const ref = refMatmul(a.vals, B, M, N, K);
          const what = `${JSON.stringify(v)} A and B nk, row stride ${nk}`;
          assertClose(await c.toArray(), ref, scaledTol(ref), what);
          copies(before, 'B', flat, what, reads);
          copies(before, 'A', flat, what, reads && v.pack === true);
          [c, bView].forEach((t) => t.dispose());
          [bt, a].forEach((t) => t.dispose());
        }
        // rows starting off a texel (offset 1): packed, not copied
        const A = randomData(M * K, seed++);
        const b = padded(K, N, N, 1, 1);
        const before = textureCopyCounters();
        const c = E.matmul(E.tensor(A, [M, K]), b.view);
        const ref = refMatmul(A, b.vals, M, N, K);
        assertClose(await c.toArray(), ref, scaledTol(ref), `${JSON.stringify(v)} B kn at offset 1`);
        copies(before, 'B', false, 'B at offset 1', false);
        c.dispose();
        b.dispose();
      }
    } finally {
      setMatmulKernel('gemm', null);
    }
  });

  it('operands wider than a slab (64 texels) are copied in slabs (every A with setSlabCopies A, and B with both), partial last slabs and batches included; the padding (NaN) never reaches the result', async function () {
    const S = E.deviceContext().features.has('subgroups') ? E.deviceContext().summary.subgroupSize : 0;
    if (S < 4) this.skip();
    // K = 300: 75 texels a row, slabs of 64 and 11; N = 272: 68 texels (64 and 4); rows padded to 320 floats
    const [batch, M, K, N, stride] = [2, 9, 300, 272, 320];
    const slabCount = (before: ReturnType<typeof textureCopyCounters>, role: 'A' | 'B') => textureCopyCounters()[role === 'A' ? 'slabsA' : 'slabsB'] - before[role === 'A' ? 'slabsA' : 'slabsB'];
    try {
      for (const which of ['A', 'both', 'none'] as const) {
        setSlabCopies(which);
        for (const v of textureVariants(S)) {
          setMatmulKernel('gemm', v);
          const reads = readsTextures(v);
          const what = `${JSON.stringify(v)}, slabs ${which}`;
          // A [batch][M][K] (a packed variant copies it) times B [batch][K][N] ('kn')
          const a = padded(M, K, stride, batch);
          const b = padded(K, N, stride, batch);
          let before = textureCopyCounters();
          let c = E.matmul(a.view, b.view);
          let ref = refMatmul(a.vals, b.vals, M, N, K, batch);
          assertClose(await c.toArray(), ref, scaledTol(ref), `${what}: A, B kn`);
          expect(slabCount(before, 'A'), `${what}: A in slabs`).to.equal(reads && v.pack === true && which !== 'none' ? 1 : 0);
          expect(slabCount(before, 'B'), `${what}: B kn in slabs`).to.equal(reads && which === 'both' ? 1 : 0);
          c.dispose();
          // B stored [N][K], read transposed ('nk'), one for every batch of A
          const bt = padded(N, K, stride);
          const B = new Float32Array(K * N);
          for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) B[k * N + n] = bt.vals[n * K + k];
          const bView = E.transpose(bt.view, 0, 1);
          before = textureCopyCounters();
          c = E.matmul(a.view, bView);
          ref = refMatmul(a.vals, B, M, N, K, batch, true, false);
          assertClose(await c.toArray(), ref, scaledTol(ref), `${what}: A, B nk`);
          expect(slabCount(before, 'B'), `${what}: B nk in slabs`).to.equal(reads && which === 'both' ? 1 : 0);
          [c, bView].forEach((t) => t.dispose());
          [a, b, bt].forEach((t) => t.dispose());
        }
      }
    } finally {
      setSlabCopies('auto');
      setMatmulKernel('gemm', null);
    }
  });

  it('slabs widen where stacked 64-texel slabs would exceed the texture height, and a product that needs it is right', async function () {
    const S = E.deviceContext().features.has('subgroups') ? E.deviceContext().summary.subgroupSize : 0;
    if (S < 4) this.skip();
    const maxT = E.deviceContext().limits.maxTextureDimension2D;
    // every A wider than a slab in slabs, whatever slabLayout's rule says (so that the widened slabs run)
    const rows = Math.floor(maxT / 4) + 4;
    const [M, K, N] = [rows, 1280, 8];
    const A = randomData(M * K, seed++);
    const Bv = randomData(K * N, seed++);
    const a = E.tensor(A, [M, K]);
    const b = E.tensor(Bv, [K, N]);
    setSlabCopies('A');
    try {
      expect(slabLayout(100, 64, 'A'), 'one slab: a plain row copy').to.equal(null);
      expect(slabLayout(2048, 512, 'A')).to.deep.equal({ shift: 6, slabs: 8 });
      expect(slabLayout(2048, 512, 'B'), 'B in rows').to.equal(null);
      // 5 slabs of 64 would stack 5 x rows > maxT texture rows: slabs of 128 (3 of them) fit
      expect(slabLayout(rows, 320, 'A')).to.deep.equal({ shift: 7, slabs: 3 });
      setMatmulKernel('gemm', { family: 'bcast', tm: 2 * S, tn: 8, wg: 1, subgroup: S, pack: true, tex: true });
      const before = textureCopyCounters();
      const c = E.matmul(a, b);
      const got = await c.toArray();
      c.dispose();
      expect(textureCopyCounters().slabsA - before.slabsA, 'A in slabs').to.equal(1);
      // every 37th row against float64 (the whole product is 42M multiply-adds in JS)
      const picked = [...Array(Math.ceil(M / 37)).keys()].map((i) => Math.min(M - 1, i * 37));
      const sub = new Float32Array(picked.length * K);
      picked.forEach((r, i) => sub.set(A.subarray(r * K, (r + 1) * K), i * K));
      const ref = refMatmul(sub, Bv, picked.length, N, K);
      const gotSub = new Float32Array(picked.length * N);
      picked.forEach((r, i) => gotSub.set(got.subarray(r * N, (r + 1) * N), i * N));
      assertClose(gotSub, ref, scaledTol(ref), `${M} x ${K} x ${N} with 128-texel slabs`);
    } finally {
      setSlabCopies('auto');
      setMatmulKernel('gemm', null);
      [a, b].forEach((t) => t.dispose());
    }
  });

  it("by default operands go in slabs where a row copy's rows would share fewer L1 sets than slab rows and more than one tile reads them; B read along its rows ('kn') never", async function () {
    const S = E.deviceContext().features.has('subgroups') ? E.deviceContext().summary.subgroupSize : 0;
    if (S < 4) this.skip();
    // the rule: rows of 2048 floats (8 KiB: one set) against slabs of 64 texels (1 KiB: 4 sets)
    expect(slabLayout(2048, 512, 'A')).to.deep.equal({ shift: 6, slabs: 8 });
    expect(slabLayout(2048, 512, 'B', { reads: 3 }), "'nk' B").to.deep.equal({ shift: 6, slabs: 8 });
    expect(slabLayout(2048, 512, 'B', { reads: 3, kn: true }), "'kn' B").to.equal(null);
    expect(slabLayout(2048, 512, 'A', { reads: 1 }), 'one tile reads it').to.equal(null);
    expect(slabLayout(2048, 384, 'A'), 'rows of 1536 floats: 2 sets').to.deep.equal({ shift: 6, slabs: 6 });
    expect(slabLayout(2048, 288, 'A'), 'rows of 1152 floats: 8 sets').to.equal(null);
    expect(slabLayout(2048, 75, 'A'), 'rows of 300 floats: 64 sets').to.equal(null);
    // end to end: A [M, K] times a weight stored [N, K] read transposed, as linear() does; a variant
    // whose tiles are 2S rows by 8S columns, so that M = 5S rows make 3 row tiles and N = 20S columns 3
    // column tiles: at K = 1024 both copies go in slabs, at K = 1152 neither, with M = S only A
    const v: GemmVariant = { family: 'bcast', tm: 2 * S, tn: 8, wg: 1, subgroup: S, pack: true, tex: true };
    const cases: [number, number, number, number][] = [[5 * S, 1024, 20 * S, 2], [5 * S, 1152, 20 * S, 0], [S, 1024, 20 * S, 1]];
    try {
      setMatmulKernel('gemm', v);
      for (const [M, K, N, slabbed] of cases) {
        const A = randomData(M * K, seed++);
        const W = randomData(N * K, seed++);
        const a = E.tensor(A, [M, K]);
        const w = E.tensor(W, [N, K]);
        const before = textureCopyCounters();
        const c = E.linear(a, w);
        const got = await c.toArray();
        const after = textureCopyCounters();
        const B = new Float32Array(K * N);
        for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) B[k * N + n] = W[n * K + k];
        const ref = refMatmul(A, B, M, N, K);
        assertClose(got, ref, scaledTol(ref), `${M} x ${K} x ${N}`);
        expect(after.A - before.A + after.B - before.B, `${M} x ${K} x ${N}: both copied`).to.equal(2);
        expect(after.slabsA - before.slabsA + after.slabsB - before.slabsB, `${M} x ${K} x ${N}: copies in slabs`).to.equal(slabbed);
        if (slabbed === 1) expect(after.slabsA - before.slabsA, 'the one in slabs is A').to.equal(1);
        [a, w, c].forEach((t) => t.dispose());
      }
    } finally {
      setMatmulKernel('gemm', null);
    }
  });

  it("a 'kn' B of 1 MiB or more read by several row tiles is copied in column-tile slabs (rows paired where the slabs would stack past the texture height): partial last tiles, padded rows, batches and a broadcast B; the padding (NaN) never reaches the result", async function () {
    const S = E.deviceContext().features.has('subgroups') ? E.deviceContext().summary.subgroupSize : 0;
    if (S < 4) this.skip();
    const maxT = E.deviceContext().limits.maxTextureDimension2D;
    expect(tileSlabLayout(2048, 512, 32), '2048^3 at 16 lanes: 16 slabs of 2048 rows would stack past 16384').to.deep.equal(maxT >= 32768 ? { pairs: 0, slabs: 16, slabRows: 2048 } : { pairs: 1, slabs: 16, slabRows: 1024 });
    expect(tileSlabLayout(1024, 64, 16)).to.deep.equal({ pairs: 0, slabs: 4, slabRows: 1024 });
    expect(tileSlabLayout(2048, 32, 32), 'one slab: a plain row copy').to.equal(null);
    // 2048^3 at 8 lanes: 32 slabs of 16 texels, rows paired the least that fits (4 at 16384: 128 copies)
    const eight = tileSlabLayout(2048, 512, 16);
    expect(eight?.slabs, '2048^3 at 8 lanes').to.equal(32);
    expect(eight!.slabRows, 'slab rows').to.equal(2048 >> eight!.pairs);
    expect(32 * eight!.slabRows, 'within the texture height').to.be.at.most(maxT);
    if (eight!.pairs > 0) expect(32 * (2048 >> (eight!.pairs - 1)), 'the least pairing').to.be.above(maxT);
    if (maxT === 16384) expect(eight!.pairs).to.equal(2);
    expect(tileSlabLayout(8, 8192, 32), '256 slabs: more copies than the layout is worth').to.equal(null);
    expect(tileSlabLayout(maxT, 64, 32), 'two slabs of maxT rows: rows paired').to.deep.equal({ pairs: 1, slabs: 2, slabRows: maxT / 2 });
    expect(tileSlabLayout(maxT / 2 + 4, 80, 32), 'three slabs').to.deep.equal({ pairs: 1, slabs: 3, slabRows: maxT / 4 + 2 });
    const tiles = (before: ReturnType<typeof textureCopyCounters>) => textureCopyCounters().tilesB - before.tilesB;
    // N = 16S + 12 floats: 4S + 3 texels, column tiles of S (tm = S) or 2S (tn 8) texels, the last partial
    const N = 16 * S + 12;
    const stride = Math.ceil(N / 64) * 64 + 64;
    const M = 3 * S + 1;
    try {
      for (const v of textureVariants(S)) {
        setMatmulKernel('gemm', v);
        if (!readsTextures(v)) continue;
        // batched: 2 x 940 rows of N floats, over 1 MiB; K = 260 (under 1 MiB) stays in rows
        for (const [batch, K, inTiles] of [[2, 940, true], [2, 260, false]] as const) {
          for (const mode of ['auto', 'off'] as const) {
            setTileSlabCopies(mode);
            const what = `${JSON.stringify(v)}, ${batch} x ${M} x ${K} x ${N}, ${mode}`;
            const a = padded(M, K, Math.ceil(K / 64) * 64, batch);
            const b = padded(K, N, stride, batch);
            const before = textureCopyCounters();
            const c = E.matmul(a.view, b.view);
            const ref = refMatmul(a.vals, b.vals, M, N, K, batch);
            assertClose(await c.toArray(), ref, scaledTol(ref), what);
            expect(textureCopyCounters().B - before.B, `${what}: B copied`).to.equal(1);
            expect(tiles(before), `${what}: B in column-tile slabs`).to.equal(inTiles && mode === 'auto' ? 1 : 0);
            [a, b, c].forEach((t) => t.dispose());
          }
        }
        // one B [K][N] for both batches of A
        setTileSlabCopies('auto');
        const K = 1880;
        const a = padded(M, K, K, 2);
        const b = padded(K, N, stride);
        const before = textureCopyCounters();
        const c = E.matmul(a.view, b.view);
        const Bb = new Float32Array(2 * K * N);
        Bb.set(b.vals);
        Bb.set(b.vals, K * N);
        const ref = refMatmul(a.vals, Bb, M, N, K, 2);
        assertClose(await c.toArray(), ref, scaledTol(ref), `${JSON.stringify(v)}: broadcast B`);
        expect(tiles(before), `${JSON.stringify(v)}: broadcast B in column-tile slabs`).to.equal(1);
        [a, b, c].forEach((t) => t.dispose());
      }
      // K = maxT / 2 + 4 rows in 3 slabs: 3 x K texture rows would pass maxT, so rows are paired (K is a
      // multiple of 4, so every pair is full: a half-full last pair cannot arise from a copyable kn B)
      const v = textureVariants(S)[1];
      setMatmulKernel('gemm', v);
      if (readsTextures(v)) {
        const K = maxT / 2 + 4;
        const Mp = 4 * S + 1;
        const Np = 4 * (4 * S) + 12; // 2L + 3 texels at L = 2S: 3 slabs
        expect(tileSlabLayout(K, Np / 4, 2 * S)?.pairs, 'rows paired').to.equal(1);
        const a = padded(Mp, K, K);
        const b = padded(K, Np, Math.ceil(Np / 64) * 64 + 64);
        const before = textureCopyCounters();
        const c = E.matmul(a.view, b.view);
        const ref = refMatmul(a.vals, b.vals, Mp, Np, K);
        assertClose(await c.toArray(), ref, scaledTol(ref), `${Mp} x ${K} x ${Np} in paired column-tile slabs`);
        expect(tiles(before), 'B in paired column-tile slabs').to.equal(1);
        [a, b, c].forEach((t) => t.dispose());
      }
    } finally {
      setTileSlabCopies('auto');
      setMatmulKernel('gemm', null);
    }
  });

  it('a batched kn B whose K is not a multiple of 4 is packed, so an infinity in one batch stays out of the others', async function () {
    const S = E.deviceContext().features.has('subgroups') ? E.deviceContext().summary.subgroupSize : 0;
    if (S < 4) this.skip();
    const [batch, M, K, N] = [2, 3, 5, 64];
    const A = randomData(batch * M * K, seed++);
    const B = randomData(batch * K * N, seed++);
    B[K * N + 7] = Infinity; // batch 1, row 0, column 7: the row a 4-k step past batch 0's K would reach
    try {
      for (const v of textureVariants(S)) {
        setMatmulKernel('gemm', v);
        const before = textureCopyCounters().B;
        const c = E.matmul(E.tensor(A, [batch, M, K]), E.tensor(B, [batch, K, N]));
        const got = await c.toArray();
        expect(textureCopyCounters().B - before, 'B not copied').to.equal(0);
        const ref = refMatmul(A, B, M, N, K, batch);
        expect(Array.from(got.subarray(0, M * N)).every(Number.isFinite), 'batch 0 finite').to.equal(true);
        assertClose(got.subarray(0, M * N), ref.subarray(0, M * N), scaledTol(ref.subarray(0, M * N)), `${JSON.stringify(v)} batch 0`);
        c.dispose();
      }
    } finally {
      setMatmulKernel('gemm', null);
    }
  });

  it('more rows than one dispatch reaches (several row chunks), batched', async () => {
    const S = E.deviceContext().features.has('subgroups') ? Math.max(E.deviceContext().summary.subgroupSize, 1) : 1;
    const v: GemmVariant = S >= 4 ? { family: 'bcast', tm: S, wg: 1, subgroup: S } : { family: 'reg', tm: 1, wg: 1, subgroup: 1 };
    setMatmulKernel('gemm', v);
    const rowsPerGroup = S >= 4 ? S : 1;
    const M = 65535 * rowsPerGroup + 37;
    const A = randomData(2 * M, seed++);
    const c = E.matmul(E.tensor(A, [2, M, 1]), E.tensor([3], [1, 1]));
    const got = await c.toArray();
    expect(got.length).to.equal(2 * M);
    for (const i of [0, 1, M - 1, M, M + 5, 2 * M - 1]) expect(got[i]).to.be.closeTo(3 * A[i], 1e-5);
    c.dispose();
    setMatmulKernel('gemm', null);
  });

  it('1-D operands and gradients (finite differences) with the default variant', async () => {
    setMatmulKernel('gemm', null);
    const [M, K, N] = [5, 7, 3];
    const A = randomData(M * K, seed++);
    const B = randomData(K * N, seed++);
    const G = randomData(M * N, seed++);
    const a = E.tensor(A, [M, K], { requiresGrad: true });
    const b = E.tensor(B, [K, N], { requiresGrad: true });
    E.tidy(() => E.sum(E.mul(E.matmul(a, b), E.tensor(G, [M, N]))).backward());
    const loss = ([av, bv]: Float64Array[]) => {
      const c = refMatmul(av, bv, M, N, K);
      let s = 0;
      for (let i = 0; i < c.length; i++) s += c[i] * G[i];
      return s;
    };
    const [fa, fb] = finiteDiff(loss, [toF64(A), toF64(B)]);
    assertClose(await a.grad!.toArray(), fa, scaledTol(fa, 2e-4));
    assertClose(await b.grad!.toArray(), fb, scaledTol(fb, 2e-4));
    const v = E.matmul(E.tensor(A.slice(0, K), [K]), b);
    expect(v.shape).to.deep.equal([N]);
    assertClose(await v.toArray(), refMatmul(A.slice(0, K), B, 1, N, K));
  });

  it('generated WGSL states its family and is straight-line inside the k loop', () => {
    const S = Math.max(E.deviceContext().summary.subgroupSize, 4);
    const src = gemmSource(CONSTANT_SPEC, { family: 'bcast', tm: 2 * S, wg: 1, subgroup: S });
    expect(src).to.match(/enable subgroups;/);
    expect(src).to.match(/subgroupBroadcast\(a1, 0u\)/);
    const loop = src.slice(src.indexOf('for (var k'), src.indexOf('if (kMain < kEnd)'));
    expect(loop.match(/for \(/g)!.length, 'one loop (over k) only').to.equal(1);
  });
});
