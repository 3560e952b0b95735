// Child process of wide.test.ts, started with LP_NATIVE_VECTOR_WIDTH=512 (the driver reads it when it
// loads, so it cannot be switched inside the test process): runs the GEMM variants that exist only at
// 16-wide subgroups (B panels in a texture, 8 columns a lane) on odd shapes, for matmul and conv2d
// forward / input-grad / weight-grad, against float64 references, and prints one JSON line:
//   { subgroupSize, software, results: [{ what, maxRelErr }] }  (maxRelErr: max |err| / max |ref|)
// Argument: 'panels' (the packed-panel variants), 'direct' (operands copied straight into textures, the
// conv paths built on them) or nothing for both; wide.test.ts runs the two halves as parallel children.
import * as E from '../../engine/index.js';
import { convGemmDims, convGeometry, convInputGrad, convInputGradPathCounts, convTuneOp, convWeightGrad, setConvChannelsLast, setConvInputGradPath, setConvVariants, setConvWeightRelayout } from '../../engine/ops/conv2d.js';
import { gemmStore4Count, setMatmulKernel, textureCopyCounters } from '../../engine/ops/matmul.js';
import { defaultGemmVariant, fitVariant, validVariant, type GemmOp, type GemmVariant } from '../../engine/tune.js';
import { randomData } from '../helpers.js';
import { conv2dGradRef, conv2dRef, convDims, refMatmul, type ConvCfg } from './ref.js';

function numelOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * `data` as a tensor of `shape` viewed at element `offset` of a buffer whose first `offset` elements are
 * other (random, `seed`) values: the buffer, to dispose, and the view.
 */
function viewAtOffset(data: Float32Array, shape: number[], offset: number, seed: number): { stored: E.Tensor; view: E.Tensor } {
  const stored = E.tensor(Float32Array.from([...randomData(offset, seed), ...data]), [offset + data.length]);
  return { stored, view: E.reshape(E.slice(stored, 0, offset, offset + data.length), shape) };
}

function relErr(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let e = 0;
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    e = Math.max(e, Math.abs(a[i] - ref[i]));
    m = Math.max(m, Math.abs(ref[i]));
  }
  return e / (m || 1);
}

async function main(): Promise<void> {
  const ctx = await E.initDevice();
  const S = ctx.summary.subgroupSize;
  const results: { what: string; maxRelErr: number }[] = [];
  const out = { subgroupSize: S, software: ctx.summary.isSoftware, results };
  if (S < 16 || !ctx.summary.isSoftware) {
    console.log(JSON.stringify(out));
    return;
  }
  // every untuned default at 16 lanes is a variant the generator accepts (adds a result only on failure)
  for (const op of ['matmul', 'conv.fwd', 'conv.dx', 'conv.dw'] as GemmOp[]) {
    for (const M of [1, 17, 64, 98, 196, 256, 392, 1000, 6272]) {
      for (const N of [3, 64, 100, 128, 512, 4096]) {
        for (const K of [9, 64, 147, 576, 4608]) {
          const v = defaultGemmVariant(op, M, N, K);
          if (!validVariant(v)) results.push({ what: `untuned default for ${op} ${M}x${N}x${K} is not a valid variant: ${JSON.stringify(v)}`, maxRelErr: 1 });
        }
      }
    }
  }
  // the untuned default's tile height (engine/tune.ts tileHeight): the fewest padded rows among 64-row
  // tiles and balanced ones of up to 96 or 128 rows, 96 on a tie with 64 (adds a result only on failure)
  const heights: [GemmOp, number, number, number, number][] = [
    ['conv.dw', 576, 64, 6272, 96], ['conv.dw', 4608, 512, 98, 96], ['conv.fwd', 392, 256, 2304, 80],
    ['conv.fwd', 98, 512, 4608, 100], ['conv.dx', 196, 512, 4608, 100], ['conv.fwd', 6272, 64, 576, 64], ['conv.fwd', 1568, 128, 1152, 64],
  ];
  for (const [op, M, N, K, want] of heights) {
    const got = fitVariant(defaultGemmVariant(op, M, N, K), M).tm;
    if (got !== want) results.push({ what: `untuned default for ${op} ${M}x${N}x${K}: tiles of ${got} rows, want ${want}`, maxRelErr: 1 });
  }
  const variants: [string, GemmVariant][] = [
    ['tn8 packed texture', { family: 'bcast', tm: S, tn: 8, wg: 1, subgroup: S, pack: true, tex: true }],
    ['packB texture swap', { family: 'bcast', tm: S, wg: 2, subgroup: S, pack: 'B', tex: true, swap: true }],
    ['tn8 packB', { family: 'bcast', tm: S, tn: 8, wg: 1, subgroup: S, pack: 'B' }],
    ['fit tm<=4S tn8 packed texture', { family: 'bcast', tm: 4 * S, tn: 8, wg: 1, subgroup: S, pack: true, tex: true, fit: true }],
  ];
  let seed = 1;
  /** Random operands of a conv case: host data for the float64 references and tensors that track gradients. */
  const convCase = (xs: number[], ws: number[], cfg: ConvCfg) => {
    const d = convDims(xs, ws, cfg);
    const X = randomData(numelOf(xs), seed++);
    const W = randomData(numelOf(ws), seed++);
    const GY = randomData(d.N * d.O * d.OH * d.OW, seed++);
    return { d, X, W, GY, x: E.tensor(X, xs, { requiresGrad: true }), w: E.tensor(W, ws, { requiresGrad: true }) };
  };
  const part = process.argv[2] ?? 'all';
  if (!['all', 'panels', 'direct'].includes(part)) throw new Error(`wide_check: unknown part '${part}'`);
  if (part !== 'direct') {
    // 64 x 8 tiles with A's panel in a buffer (K % 64 != 0) and B's panel in a texture (N % 64 != 0):
    // the kernel lavapipe crashed on for a while, run as 48-row tiles (avoidTextureCrash)
    setMatmulKernel('gemm', { family: 'bcast', tm: 64, tn: 8, wg: 1, subgroup: S, pack: true, tex: true });
    const [M, N, K] = [130, 96, 72];
    const A = randomData(M * K, seed++);
    const B = randomData(K * N, seed++);
    const c = E.matmul(E.tensor(A, [M, K]), E.tensor(B, [K, N]));
    results.push({ what: `matmul tm64 tn8 packed texture, A and B panels ${M}x${N}x${K}`, maxRelErr: relErr(await c.toArray(), refMatmul(A, B, M, N, K, 1, false, false)) });
  }
  if (part !== 'direct') {
    // a mid-size matmul whose operands copy straight into textures takes the wide texture default
    // (engine/tune.ts midProduct); an odd-sized one keeps the 32-row direct default
    const mid = defaultGemmVariant('matmul', 64, 256, 256);
    if (!mid.tex || mid.tn !== 8) results.push({ what: `untuned default for matmul 64x256x256 is not the wide texture variant: ${JSON.stringify(mid)}`, maxRelErr: 1 });
    for (const [op, M, N, K] of [['conv.fwd', 49, 512, 4608], ['conv.dx', 49, 4608, 512], ['matmul', 32, 2048, 2048]] as [GemmOp, number, number, number][]) {
      const v = defaultGemmVariant(op, M, N, K);
      if (!v.tex || fitVariant(v, M).tm !== Math.max(16, 4 * Math.ceil(M / 4))) results.push({ what: `untuned default for ${op} ${M}x${N}x${K} (under 64 rows) is not the wide texture variant in one tile: ${JSON.stringify(v)}`, maxRelErr: 1 });
    }
    const odd = defaultGemmVariant('matmul', 96, 300, 200);
    // N not a multiple of 64: the wide variant only with A packed, which pays where A's panel serves
    // more than two column tiles (N > 256) in a product of at least 2^24
    const narrow = defaultGemmVariant('matmul', 32, 1000, 2048);
    if (!narrow.tex || narrow.pack !== true) results.push({ what: `untuned default for matmul 32x1000x2048 is not the wide variant with A packed: ${JSON.stringify(narrow)}`, maxRelErr: 1 });
    const twoTiles = defaultGemmVariant('matmul', 64, 256, 512);
    if (!twoTiles.tex || twoTiles.pack !== 'B') results.push({ what: `untuned default for matmul 64x256x512 (two column tiles) is not the wide variant with B alone packed: ${JSON.stringify(twoTiles)}`, maxRelErr: 1 });
    if (odd.tex || odd.tm !== 32) results.push({ what: `untuned default for matmul 96x300x200 is not the 32-row direct variant: ${JSON.stringify(odd)}`, maxRelErr: 1 });
    setMatmulKernel('gemm', mid);
    const [M, N, K] = [64, 256, 256];
    const A = randomData(M * K, seed++);
    const B = randomData(K * N, seed++);
    const c = E.matmul(E.tensor(A, [M, K]), E.tensor(B, [K, N]));
    results.push({ what: `matmul, the mid-size default ${M}x${N}x${K}`, maxRelErr: relErr(await c.toArray(), refMatmul(A, B, M, N, K, 1, false, false)) });
    setMatmulKernel('gemm', null);
    // a mid-size conv product (K >= 64) takes it too: a [4, 32, 14, 14] 3x3 layer (7.2M multiply-adds a
    // product) under its untuned defaults, forward and both gradients against float64
    const cfg = { padding: [1, 1] as [number, number] };
    const { d, X, W, GY, x, w } = convCase([4, 32, 14, 14], [32, 32, 3, 3], cfg);
    const g = convGeometry('wide', x, w, cfg);
    const defaults: Record<string, GemmVariant> = {};
    for (const kind of ['fwd', 'dx', 'dw'] as const) {
      const [m, n, k] = convGemmDims(kind, g);
      const v = defaultGemmVariant(convTuneOp(kind, g), m, n, k);
      if (!v.tex) results.push({ what: `untuned default for the conv ${kind} ${m}x${n}x${k} is not a texture variant: ${JSON.stringify(v)}`, maxRelErr: 1 });
      defaults[`conv.${kind}`] = v;
    }
    setConvVariants(defaults);
    const y = E.conv2d(x, w, null, cfg);
    y.backward(E.tensor(GY, [...y.shape]));
    const gr = conv2dGradRef(X, W, GY, d);
    results.push({ what: 'conv2d mid-size default forward', maxRelErr: relErr(await y.toArray(), conv2dRef(X, W, null, d)) });
    results.push({ what: 'conv2d mid-size default input-grad', maxRelErr: relErr(await x.grad!.toArray(), gr.dx) });
    results.push({ what: 'conv2d mid-size default weight-grad', maxRelErr: relErr(await w.grad!.toArray(), gr.dw) });
    setConvVariants({});
    [x, w, y].forEach((t) => t.dispose());
  }
  for (const [name, v] of part === 'direct' ? [] : variants) {
    setMatmulKernel('gemm', v);
    for (const [batch, M, N, K] of [[1, 131, 137, 41], [3, 20, 200, 9], [1, 1, 130, 7]]) {
      const A = randomData(batch * M * K, seed++);
      const B = randomData(K * N, seed++);
      const ref = refMatmul(A, B, M, N, K, batch, true, false);
      // B stored transposed and viewed back, as linear() reads its weight
      const bT = E.tensor(Float32Array.from({ length: K * N }, (_, i) => B[(i % K) * N + Math.floor(i / K)]), [N, K]);
      const c = E.matmul(E.tensor(A, [batch, M, K]), E.transpose(bT, 0, 1));
      results.push({ what: `matmul ${name} ${batch}x${M}x${N}x${K}`, maxRelErr: relErr(await c.toArray(), ref) });
    }
    // (a fit variant's conv paths are checked at 8 lanes in conv2d.test.ts: its conv kernels here take minutes to compile)
    if (v.fit) continue;
    setConvVariants({ 'conv.fwd': v, 'conv.dx': v, 'conv.dw': v });
    const xs = [2, 8, 9, 11];
    const ws = [20, 8, 3, 3];
    const cfg = { stride: [2, 2] as [number, number], padding: [1, 1] as [number, number] };
    const d = convDims(xs, ws, cfg);
    const X = randomData(2 * 8 * 9 * 11, seed++);
    const W = randomData(20 * 8 * 9, seed++);
    const GY = randomData(d.N * d.O * d.OH * d.OW, seed++);
    const x = E.tensor(X, xs, { requiresGrad: true });
    const w = E.tensor(W, ws, { requiresGrad: true });
    const y = E.conv2d(x, w, null, cfg);
    results.push({ what: `conv2d forward ${name}`, maxRelErr: relErr(await y.toArray(), conv2dRef(X, W, null, d)) });
    E.sum(E.mul(y, E.tensor(GY, [d.N, d.O, d.OH, d.OW]))).backward();
    const g = conv2dGradRef(X, W, GY, d);
    results.push({ what: `conv2d input-grad ${name}`, maxRelErr: relErr(await x.grad!.toArray(), g.dx) });
    results.push({ what: `conv2d weight-grad ${name}`, maxRelErr: relErr(await w.grad!.toArray(), g.dw) });
    setConvVariants({});
  }
  // B copied as it is into a texture (no pack kernel): row-major B ('kn'), B stored transposed ('nk'),
  // batched and broadcast B, rows of whole texels but not 256 bytes (copied flat), and what is packed
  // instead: a 'kn' B with a K tail (its last 4-k step would read rows past K) and a B view at an
  // offset the copy cannot start at
  const direct: [string, GemmVariant][] = [
    ['packB texture', { family: 'bcast', tm: S, wg: 2, subgroup: S, pack: 'B', tex: true }],
    ['tn8 packed texture', { family: 'bcast', tm: S, tn: 8, wg: 1, subgroup: S, pack: true, tex: true }],
  ];
  for (const [name, v] of part === 'panels' ? [] : direct) {
    setMatmulKernel('gemm', v);
    const cases: { what: string; batch: number; M: number; N: number; K: number; bBatched: boolean; nk: boolean; offset: number; expectDirect: boolean }[] = [
      { what: 'kn, K tail (packed)', batch: 1, M: 70, N: 192, K: 37, bBatched: false, nk: false, offset: 0, expectDirect: false },
      { what: 'nk, ragged N', batch: 1, M: 33, N: 100, K: 128, bBatched: false, nk: true, offset: 0, expectDirect: true },
      { what: 'kn, batched B, K tail (packed)', batch: 3, M: 20, N: 128, K: 9, bBatched: true, nk: false, offset: 0, expectDirect: false },
      { what: 'kn, batched B', batch: 3, M: 20, N: 128, K: 12, bBatched: true, nk: false, offset: 0, expectDirect: true },
      { what: 'kn, batched B in rows of 52 floats (flat)', batch: 2, M: 20, N: 52, K: 24, bBatched: true, nk: false, offset: 0, expectDirect: true },
      { what: 'nk, rows of 36 floats (flat)', batch: 1, M: 19, N: 30, K: 36, bBatched: false, nk: true, offset: 0, expectDirect: true },
      { what: 'nk, batched B', batch: 2, M: 17, N: 70, K: 64, bBatched: true, nk: true, offset: 0, expectDirect: true },
      { what: 'kn, broadcast B', batch: 2, M: 20, N: 64, K: 64, bBatched: false, nk: false, offset: 0, expectDirect: true },
      { what: 'kn, B at offset 1 (packed)', batch: 1, M: 20, N: 64, K: 30, bBatched: false, nk: false, offset: 1, expectDirect: false },
    ];
    for (const c of cases) {
      const nbB = c.bBatched ? c.batch : 1;
      const A = randomData(c.batch * c.M * c.K, seed++);
      const B = randomData(nbB * c.K * c.N, seed++);
      const ref = refMatmul(A, B, c.M, c.N, c.K, c.batch, true, c.bBatched);
      // stored: [nbB][K][N] ('kn') or [nbB][N][K] ('nk', viewed back transposed), after `offset` pad values
      const stored = new Float32Array(c.offset + nbB * c.K * c.N);
      for (let b = 0; b < nbB; b++) {
        for (let k = 0; k < c.K; k++) {
          for (let n = 0; n < c.N; n++) stored[c.offset + b * c.K * c.N + (c.nk ? n * c.K + k : k * c.N + n)] = B[b * c.K * c.N + k * c.N + n];
        }
      }
      const flat = E.tensor(stored, [stored.length]);
      const inner = c.nk ? [c.N, c.K] : [c.K, c.N];
      let bt = E.reshape(E.slice(flat, 0, c.offset, stored.length), c.bBatched ? [nbB, ...inner] : inner);
      if (c.nk) bt = E.transpose(bt, -2, -1);
      const before = textureCopyCounters();
      const y = E.matmul(E.tensor(A, [c.batch, c.M, c.K]), bt);
      const tookDirect = textureCopyCounters().B > before.B;
      // a packed variant copies a plain A straight into a texture too when K is a multiple of 4 (flat
      // unless K is a multiple of 64)
      const tookDirectA = textureCopyCounters().A > before.A;
      const expectA = v.pack === true && c.K % 4 === 0;
      if (tookDirectA !== expectA) results.push({ what: `matmul direct-A ${name} ${c.what}: direct ${tookDirectA}, expected ${expectA}`, maxRelErr: 1 });
      results.push({ what: `matmul direct-B ${name} ${c.what}`, maxRelErr: relErr(await y.toArray(), ref) });
      // a path taken other than the expected one is reported as an error
      if (tookDirect !== c.expectDirect) results.push({ what: `matmul direct-B ${name} ${c.what}: direct ${tookDirect}, expected ${c.expectDirect}`, maxRelErr: 1 });
    }
    // conv2d, 1x1 with two groups of 64 channels: the forward reads the weight 'nk', the input-grad 'kn'
    setConvVariants({ 'conv.fwd': v, 'conv.dx': v });
    const cfg = { stride: [2, 1] as [number, number], padding: [1, 0] as [number, number], groups: 2 };
    const { d, X, W, GY, x, w } = convCase([2, 128, 5, 7], [64, 64, 1, 1], cfg);
    const before = textureCopyCounters().B;
    const y = E.conv2d(x, w, null, cfg);
    results.push({ what: `conv2d 1x1 groups 2 forward direct-B ${name}`, maxRelErr: relErr(await y.toArray(), conv2dRef(X, W, null, d)) });
    E.sum(E.mul(y, E.tensor(GY, [d.N, d.O, d.OH, d.OW]))).backward();
    const g = conv2dGradRef(X, W, GY, d);
    results.push({ what: `conv2d 1x1 groups 2 input-grad direct-B ${name}`, maxRelErr: relErr(await x.grad!.toArray(), g.dx) });
    results.push({ what: `conv2d 1x1 groups 2 weight-grad ${name}`, maxRelErr: relErr(await w.grad!.toArray(), g.dw) });
    if (textureCopyCounters().B - before !== 2) results.push({ what: `conv2d 1x1 direct-B ${name}: ${textureCopyCounters().B - before} direct copies, expected 2`, maxRelErr: 1 });
    // 1x1 as a batched matmul (the 'auto' route at 16 lanes: 64 pixels a row): the pixel
    // rows are B, copied straight into a texture, for the forward and the input-grad
    {
      const xs1 = [2, 64, 8, 8];
      const ws1 = [32, 64, 1, 1];
      const d1 = convDims(xs1, ws1, {});
      const X1 = randomData(numelOf(xs1), seed++);
      const W1 = randomData(numelOf(ws1), seed++);
      const GY1 = randomData(d1.N * d1.O * d1.OH * d1.OW, seed++);
      const x1 = E.tensor(X1, xs1, { requiresGrad: true });
      const b1 = textureCopyCounters().B;
      const y1 = E.conv2d(x1, E.tensor(W1, ws1), null, {});
      results.push({ what: `conv2d 1x1 as a matmul, forward ${name}`, maxRelErr: relErr(await y1.toArray(), conv2dRef(X1, W1, null, d1)) });
      E.sum(E.mul(y1, E.tensor(GY1, [d1.N, d1.O, d1.OH, d1.OW]))).backward();
      results.push({ what: `conv2d 1x1 as a matmul, input-grad ${name}`, maxRelErr: relErr(await x1.grad!.toArray(), conv2dGradRef(X1, W1, GY1, d1).dx) });
      if (textureCopyCounters().B - b1 !== 2) results.push({ what: `conv2d 1x1 as a matmul ${name}: ${textureCopyCounters().B - b1} direct B copies, expected 2`, maxRelErr: 1 });
    }
    // 3x3, 64 channels, padding and an odd output: the channels-last forward reads x from a texture
    // (forced: 'auto' takes it only above 256 output pixels)
    if (v.pack === 'B') {
      setConvChannelsLast('on', 'fwd');
      const xs3 = [2, 64, 5, 6];
      const ws3 = [12, 64, 3, 3];
      const cfg3 = { stride: [1, 2] as [number, number], padding: [1, 1] as [number, number] };
      const d3 = convDims(xs3, ws3, cfg3);
      const X3 = randomData(numelOf(xs3), seed++);
      const W3 = randomData(numelOf(ws3), seed++);
      const B3 = randomData(12, seed++);
      // (the weight packed inside the GEMM: the path of weights at offsets that are not multiples of 4)
      const xBefore = textureCopyCounters();
      setConvWeightRelayout('off');
      const y3 = E.conv2d(E.tensor(X3, xs3), E.tensor(W3, ws3), E.tensor(B3, [12]), cfg3);
      setConvWeightRelayout('auto');
      results.push({ what: `conv2d 3x3 forward, x from a texture, ${name}`, maxRelErr: relErr(await y3.toArray(), conv2dRef(X3, W3, B3, d3)) });
      if (textureCopyCounters().x !== xBefore.x + 1 || textureCopyCounters().B !== xBefore.B) results.push({ what: `conv2d 3x3 ${name}: x was not read from a texture, or the weight was`, maxRelErr: 1 });
      // 3x3 input-grad, 64 output channels, dy read from a channels-last texture: with two stride phases
      // (one texture shared, the weight packed) and at stride 1 (the weight re-laid out [T][O][Cg] and
      // copied straight into a texture, as the forward's [O][T][Cg] is in both); and at stride 1 as
      // dcol = dy x weight (the weight copied as it is into a texture) then col2im, which 'auto' takes
      // for these 48 pixels
      const unitCfg = { stride: [1, 1] as [number, number], padding: [1, 1] as [number, number] };
      for (const [cfgd, path] of [[cfg3, 'auto'], [unitCfg, 'phase'], [unitCfg, 'auto']] as const) {
        setConvInputGradPath(path);
        const unit = cfgd.stride[0] === 1 && cfgd.stride[1] === 1;
        // 128 input channels (fewer than 64 would take the col2im input-grad) and 64 output channels,
        // so a re-layout that mixed up O and C could not pass; at stride 1, 4 x 6 pixels: the
        // forward and the input-grad store 4 pixels as a vec4
        const xsd = unit ? [2, 128, 4, 6] : [2, 128, 5, 6];
        const wsd = [64, 128, 3, 3];
        const dd = convDims(xsd, wsd, cfgd);
        const Xd = randomData(numelOf(xsd), seed++);
        const Wd = randomData(numelOf(wsd), seed++);
        const GYd = randomData(dd.N * dd.O * dd.OH * dd.OW, seed++);
        const xd = E.tensor(Xd, xsd, { requiresGrad: true });
        const before = textureCopyCounters();
        const s4 = gemmStore4Count();
        const paths = convInputGradPathCounts();
        const yd = E.conv2d(xd, E.tensor(Wd, wsd), null, cfgd);
        results.push({ what: `conv2d 3x3 stride ${cfgd.stride} forward, weight re-laid out, ${name}`, maxRelErr: relErr(await yd.toArray(), conv2dRef(Xd, Wd, null, dd)) });
        E.sum(E.mul(yd, E.tensor(GYd, [dd.N, dd.O, dd.OH, dd.OW]))).backward();
        results.push({ what: `conv2d 3x3 stride ${cfgd.stride} input-grad (${path === 'phase' ? 'phase GEMM' : 'auto'}), dy from a texture, ${name}`, maxRelErr: relErr(await xd.grad!.toArray(), conv2dGradRef(Xd, Wd, GYd, dd).dx) });
        // 'auto' at stride 1 takes dcol + col2im only for texture variants (B panels in a texture)
        const wantCol2im = unit && path === 'auto' && v.tex === true ? 1 : 0;
        if (convInputGradPathCounts().col2im - paths.col2im !== wantCol2im) results.push({ what: `conv2d 3x3 stride ${cfgd.stride} ${name}: ${convInputGradPathCounts().col2im - paths.col2im} col2im input-grads, expected ${wantCol2im}`, maxRelErr: 1 });
        const after = textureCopyCounters();
        if (after.x - before.x !== 2) results.push({ what: `conv2d 3x3 ${name}: ${after.x - before.x} texture copies of activations, expected 2 (x, dy)`, maxRelErr: 1 });
        const wantB = unit ? 2 : 1;
        if (after.B - before.B !== wantB) results.push({ what: `conv2d 3x3 ${name}: ${after.B - before.B} weight texture copies, expected ${wantB}`, maxRelErr: 1 });
        // vec4 stores of 4 pixels: the forward and the input-grad at stride 1 (4 x 6 pixels), neither
        // at stride (1, 2) (5 x 3 output pixels; the input-grad's phases interleave)
        const wantS4 = unit ? 2 : 0;
        if (gemmStore4Count() - s4 !== wantS4) results.push({ what: `conv2d 3x3 ${name}: ${gemmStore4Count() - s4} GEMMs with vec4 stores, expected ${wantS4}`, maxRelErr: 1 });
        setConvInputGradPath('auto');
      }
      setConvChannelsLast('auto', 'fwd');
    }
    setConvVariants({});
  }
  setMatmulKernel('gemm', null);
  if (part !== 'panels') {
    // a product whose operands are copied into pooled textures, run again on the same tensors: the
    // textures come back from the pool with their views, so the second run creates no bind group
    // (engine/memory.ts textureView) and both runs match float64
    {
      const A = randomData(64 * 128, seed++);
      const B = randomData(128 * 64, seed++);
      const a = E.tensor(A, [64, 128]);
      const b = E.tensor(B, [128, 64]);
      setMatmulKernel('gemm', { family: 'bcast', tm: S, tn: 8, wg: 1, subgroup: S, pack: true, tex: true });
      const copies = textureCopyCounters().A;
      const ref = refMatmul(A, B, 64, 64, 128);
      const first = E.matmul(a, b);
      const errFirst = relErr(await first.toArray(), ref);
      first.dispose(); // its buffer goes back to the pool, for the second output
      const created = E.commandStats().bindGroupsCreated;
      const second = E.matmul(a, b);
      const again = E.commandStats().bindGroupsCreated - created;
      const err = Math.max(errFirst, relErr(await second.toArray(), ref));
      const copied = textureCopyCounters().A - copies === 2;
      results.push({ what: `texture matmul run twice: ${again} bind groups created the second time (want 0), A copied into a texture twice: ${copied}; max error ${err}`, maxRelErr: again === 0 && copied ? err : 1 });
      [a, b, second].forEach((t) => t.dispose());
      setMatmulKernel('gemm', null);
    }
    // forwards whose channels are not a multiple of 4, padded to one (zeros in x's channels-last copy
    // and in the weight) and read from a flat texture: the stem's shape at a small size, 1 and 5
    // channels, stride 1, dilation, bias, x at an offset (over 256 output pixels, where the route
    // applies, with a texture variant forced); the padded kernel must run
    const padCases: { x: number[]; w: number[]; cfg: { stride?: [number, number]; padding: [number, number]; dilation?: [number, number] }; offset: number; bias: boolean }[] = [
      { x: [2, 3, 37, 35], w: [8, 3, 7, 7], cfg: { stride: [2, 2], padding: [3, 3] }, offset: 0, bias: true },
      { x: [2, 1, 17, 18], w: [5, 1, 3, 3], cfg: { padding: [1, 0] }, offset: 1, bias: false },
      { x: [3, 5, 11, 10], w: [12, 5, 3, 2], cfg: { padding: [2, 1], dilation: [2, 1] }, offset: 3, bias: true },
    ];
    setConvVariants({ 'conv.fwd': { family: 'bcast', tm: S, wg: 1, subgroup: S, pack: 'B', tex: true } });
    for (const c of padCases) {
      const d = convDims(c.x, c.w, c.cfg);
      const X = randomData(numelOf(c.x), seed++);
      const W = randomData(numelOf(c.w), seed++);
      const B = c.bias ? randomData(c.w[0], seed++) : null;
      const { stored, view: x } = viewAtOffset(X, c.x, c.offset, seed++);
      const w = E.tensor(W, c.w);
      const b = B ? E.tensor(B, [c.w[0]]) : null;
      E.startProfile();
      const y = E.conv2d(x, w, b, c.cfg);
      const kernels = (await E.stopProfile()).map((r) => r.kernel);
      const ran = kernels.some((k) => k.startsWith('gemm:conv.fwd.nhwc.texf.wt:'));
      const err = relErr(await y.toArray(), conv2dRef(X, W, B, d));
      results.push({ what: `conv2d forward, channels padded to 4 on a flat texture (kernel ran: ${ran}), ${JSON.stringify(c)}`, maxRelErr: ran ? err : 1 });
      [stored, x, w, y].forEach((t) => t.dispose());
      b?.dispose();
    }
    setConvVariants({});
    // weight-grad reading x from its 4 shifted texture copies (stride 1, output size = input size, more
    // than one tap) with the untuned variant: per case the texture kernel must run (the 1 x 1 case: must
    // not) and match float64; x as a view at an
    // offset of 1 (every copy shift is used), planes of 49 pixels (each image's pixels padded to 52,
    // 4-pixel runs crossing image rows), odd channels, dilation, 5 x 5, 1 x 1 and groups
    const dwCases: { x: number[]; w: number[]; cfg: { padding: [number, number]; dilation?: [number, number]; groups?: number }; offset: number }[] = [
      { x: [2, 8, 7, 7], w: [12, 8, 3, 3], cfg: { padding: [1, 1] }, offset: 1 },
      { x: [1, 5, 6, 9], w: [6, 5, 3, 3], cfg: { padding: [1, 1] }, offset: 0 },
      { x: [3, 4, 5, 6], w: [8, 4, 3, 3], cfg: { padding: [2, 2], dilation: [2, 2] }, offset: 3 },
      { x: [2, 3, 8, 5], w: [4, 3, 5, 5], cfg: { padding: [2, 2] }, offset: 2 },
      { x: [2, 8, 4, 3], w: [6, 4, 3, 3], cfg: { padding: [1, 1], groups: 2 }, offset: 0 },
      { x: [2, 16, 3, 5], w: [20, 16, 1, 1], cfg: { padding: [0, 0] }, offset: 1 },
    ];
    for (const c of dwCases) {
      const d = convDims(c.x, c.w, c.cfg);
      const X = randomData(numelOf(c.x), seed++);
      const W = randomData(numelOf(c.w), seed++);
      const GY = randomData(d.N * d.O * d.OH * d.OW, seed++);
      const x = viewAtOffset(X, c.x, c.offset, seed++).view;
      const w = E.tensor(W, c.w, { requiresGrad: true });
      const label = `conv2d weight-grad, x from shifted texture copies, ${JSON.stringify(c)}`;
      E.startProfile();
      E.sum(E.mul(E.conv2d(x, w, null, c.cfg), E.tensor(GY, [d.N, d.O, d.OH, d.OW]))).backward();
      const kernels = (await E.stopProfile()).map((r) => r.kernel);
      results.push({ what: label, maxRelErr: relErr(await w.grad!.toArray(), conv2dGradRef(X, W, GY, d).dw) });
      // dy from its flat texture copy where the output planes are a multiple of 4 pixels (40 and 12 here);
      // a 1 x 1 kernel at 16 lanes reads x with gathers (conv2d.ts wantWeightGradTexture)
      const pointKernel = c.w[2] * c.w[3] === 1;
      const kind = `gemm:conv.dw${pointKernel ? '' : '.tex'}${(d.OH * d.OW) % 4 === 0 ? '.yt' : ''}:`;
      if (!kernels.some((k) => k.startsWith(kind))) results.push({ what: `${label}: the kernel ${kind} did not run (${kernels.join(', ')})`, maxRelErr: 1 });
    }
    // dy from its flat texture copy with x gathered (stride 2: no shifted copies), and dy as a view at
    // an offset of 1 (not 16-byte aligned: the copy goes through a staging buffer), with groups
    const dyCases: { x: number[]; w: number[]; cfg: { stride: [number, number]; padding: [number, number]; groups?: number }; dyOffset: number; kind: string }[] = [
      { x: [2, 8, 8, 6], w: [12, 8, 1, 1], cfg: { stride: [2, 2], padding: [0, 0] }, dyOffset: 0, kind: 'gemm:conv.dw.yt:' },
      { x: [2, 8, 4, 4], w: [12, 4, 3, 3], cfg: { stride: [1, 1], padding: [1, 1], groups: 2 }, dyOffset: 1, kind: 'gemm:conv.dw.tex.yt:' },
      { x: [1, 6, 8, 7], w: [10, 6, 3, 3], cfg: { stride: [2, 1], padding: [1, 1] }, dyOffset: 3, kind: 'gemm:conv.dw.yt:' },
    ];
    for (const c of dyCases) {
      const d = convDims(c.x, c.w, c.cfg);
      const X = randomData(numelOf(c.x), seed++);
      const W = randomData(numelOf(c.w), seed++);
      const GY = randomData(d.N * d.O * d.OH * d.OW, seed++);
      const x = E.tensor(X, c.x);
      const w = E.tensor(W, c.w);
      const { stored, view: dy } = viewAtOffset(GY, [d.N, d.O, d.OH, d.OW], c.dyOffset, seed++);
      const label = `conv2d weight-grad, dy from its flat texture copy, ${JSON.stringify(c)}`;
      E.startProfile();
      const dw = convWeightGrad(dy, x, convGeometry('t', x, w, c.cfg));
      const kernels = (await E.stopProfile()).map((r) => r.kernel);
      results.push({ what: label, maxRelErr: relErr(await dw.toArray(), conv2dGradRef(X, W, GY, d).dw) });
      if (!kernels.some((k) => k.startsWith(c.kind))) results.push({ what: `${label}: the kernel ${c.kind} did not run (${kernels.join(', ')})`, maxRelErr: 1 });
      [x, w, stored, dy, dw].forEach((t) => t.dispose());
    }
    // the stem's input-grad as dcol + col2im where dy's pixel rows exceed a texture's height: dy is
    // copied channels-last into a flat texture (DCOL_TEXF_SPEC), not a matrix texture
    {
      const side = Math.ceil((ctx.limits.maxTextureDimension2D + 1) ** 0.5) * 2 + 1;
      const xs = [1, 3, side, side];
      const ws = [64, 3, 7, 7];
      const cfg = { stride: [2, 2] as [number, number], padding: [3, 3] as [number, number] };
      const d = convDims(xs, ws, cfg);
      if (d.OH * d.OW <= ctx.limits.maxTextureDimension2D) results.push({ what: 'stem input-grad case: dy rows fit a texture', maxRelErr: 1 });
      const X = randomData(numelOf(xs), seed++);
      const W = randomData(numelOf(ws), seed++);
      const GY = randomData(d.N * d.O * d.OH * d.OW, seed++);
      const x = E.tensor(X, xs);
      const w = E.tensor(W, ws);
      const dy = E.tensor(GY, [d.N, d.O, d.OH, d.OW]);
      // a texture variant (the untuned default), which would otherwise read dy from a channels-last texture
      setConvVariants({ 'conv.dx': { family: 'bcast', tm: 64, wg: 1, subgroup: 16, pack: 'B', tex: true } });
      E.startProfile();
      const dx = convInputGrad(dy, w, convGeometry('t', x, w, cfg));
      const kernels = (await E.stopProfile()).map((r) => r.kernel);
      setConvVariants({});
      const label = `conv2d stem input-grad, ${d.OH * d.OW} dy pixel rows`;
      results.push({ what: label, maxRelErr: relErr(await dx.toArray(), conv2dGradRef(X, W, GY, d).dx) });
      if (!kernels.some((k) => k.startsWith('gemm:conv.dcol.texf:')) || !kernels.some((k) => k.startsWith('nchw_to_nhwc'))) {
        results.push({ what: `${label}: expected dy copied channels-last and the dcol GEMM on its flat texture (${kernels.join(', ')})`, maxRelErr: 1 });
      }
      [x, w, dy, dx].forEach((t) => t.dispose());
    }
    // the copies' staging buffers and textures go back to the pools: live memory is flat over repeats
    // (7 x 7: x's copies; 8 x 8: x's copies and dy's texture; dy at an offset of 1: dy's staging buffer)
    for (const [side, dyOffset] of [[7, 0], [8, 0], [8, 1]]) {
      const x = E.randn([2, 8, side, side]);
      const w = E.randn([12, 8, 3, 3]);
      const stored = E.randn([dyOffset + 2 * 12 * side * side]);
      const gy = E.reshape(E.slice(stored, 0, dyOffset, stored.size), [2, 12, side, side]);
      const g = convGeometry('t', x, w, { padding: 1 });
      const live: number[] = [];
      for (let i = 0; i < 4; i++) {
        convWeightGrad(gy, x, g).dispose();
        await E.sync();
        live.push(E.memoryStats().liveBytes);
      }
      if (live.some((b) => b !== live[0])) results.push({ what: `weight-grad from texture copies (${side} x ${side}, dy at ${dyOffset}): live bytes over repeats ${live.join(', ')}`, maxRelErr: 1 });
      [x, w, stored, gy].forEach((t) => t.dispose());
    }
    // an x whose 4 copies exceed one storage binding (a batch of 256 28x28x64 activations, in the
    // benchmark's block section) still takes the texture copies: they are staged one at a time
    // (a 3 x 3 kernel: 1 x 1 weight-grads at 16 lanes read x with gathers)
    const big = [1, 4, 2000, 1100];
    const bigW = [3, 4, 3, 3];
    const bigCfg = { padding: [1, 1] as [number, number] };
    if (16 * numelOf(big) <= ctx.limits.maxStorageBufferBindingSize) results.push({ what: `weight-grad fallback case too small for this device's binding limit`, maxRelErr: 1 });
    const db = convDims(big, bigW, bigCfg);
    const XB = randomData(numelOf(big), seed++);
    const WB = randomData(numelOf(bigW), seed++);
    const GB = randomData(db.N * db.O * db.OH * db.OW, seed++);
    const wb = E.tensor(WB, bigW, { requiresGrad: true });
    E.startProfile();
    E.sum(E.mul(E.conv2d(E.tensor(XB, big), wb, null, bigCfg), E.tensor(GB, [db.N, db.O, db.OH, db.OW]))).backward();
    const bigKernels = (await E.stopProfile()).map((r) => r.kernel);
    results.push({ what: 'conv2d weight-grad, x\'s 4 copies larger than a storage binding (texture copies)', maxRelErr: relErr(await wb.grad!.toArray(), conv2dGradRef(XB, WB, GB, db).dw) });
    if (!bigKernels.some((k) => k.startsWith('gemm:conv.dw.tex.yt:'))) results.push({ what: `weight-grad of a large x: the texture kernel did not run (${bigKernels.join(', ')})`, maxRelErr: 1 });
  }
  console.log(JSON.stringify(out));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
