// Interleaved A/Bs of two engine switches over shapes the bench's own rows do not cover (one process,
// the two settings alternating within every round; medians of the rounds; a third argument keeps the
// problems whose names contain it). Every product's result is
// checked under both settings against the naive kernel's (WRONG, exit status 1), the basic block's excepted:
//   node dist/bench/ab_shapes.js flat [rounds]
//     GEMM operands whose rows start on whole texels but not 256 bytes apart copied flat into textures
//     (engine/ops/flat_texture.ts) or packed (setFlatCopies): matmuls with K or N of 500 / 1000 and the
//     1x1 convs of ResNet-50 at 28x28 and 14x14 (batch 2), forward, input-grad and weight-grad
//   node dist/bench/ab_shapes.js slabs [rounds]
//     GEMM A operands wider than 64 texels copied into textures in slabs of 64 texel columns stacked
//     one under the other ('A slabs', engine/ops/matmul.ts slabLayout) or one texture row per matrix
//     row ('rows', setSlabCopies): the bench's matmuls, more square and short-wide ones, and
//     ResNet-50's 1x1 convs of 256 channels in or 512 out (batch 2), forward, input-grad and weight-grad
//   node dist/bench/ab_shapes.js slab-rule [rounds]
//     operands copied in slabs where slabLayout's rule says (L1 sets of the rows, tiles that read them;
//     'slab rule', the default) or every A wider than a slab in slabs and B in rows ('A slabs', the rule
//     before): the bench's matmuls and linear-layer shapes, K of 1152 / 1536 / 4096, ResNet-50's 1x1
//     convs at 56x56 and of 512+ channels in, and the 3x3 convs of stages 2-5 (batch 2)
//   node dist/bench/ab_shapes.js b-slabs [rounds]
//     a 'kn' B copied in 64-texel slabs as well as A ('A and B slabs', setSlabCopies('both')) or as
//     slabLayout's rule says: four large matmuls (B's row copies under memory pressure, NOTES "Column-tile slabs")
//   node dist/bench/ab_shapes.js tile-slabs [rounds]
//     a 'kn' B of 1 MiB or more read by several row tiles copied in column-tile slabs, each column tile's
//     panel contiguous ('auto', tileSlabLayout) or one texture row per row ('off', setTileSlabCopies):
//     eight matmuls and ResNet-50's ten 1x1 convs at batch 2, forward, input-grad and weight-grad
//   node dist/bench/ab_shapes.js pointwise [rounds]
//     unpadded 1x1 convs as batched matmuls ('on') or implicit GEMMs ('off', setConvPointwise) over
//     ResNet-50's ten 1x1 shapes at batch 2, forward, input-grad and weight-grad (a strided input-grad
//     has no matmul form: both settings run the same code there, a measure of the noise)
//   node dist/bench/ab_shapes.js flat-operands [rounds]
//     channels-last x (forward) and dy (input-grad) that a matrix texture cannot hold (more pixels than
//     a texture is high, or channels not a multiple of 64) copied flat into textures ('auto') or read
//     from their buffers ('off', setConvFlatOperands): 3x3 convs at batches of 8-32, small-channel
//     layers, the stem's input-grad at batch 2, and bench/block.ts's basic block at 28x28, batch 32
//   node dist/bench/ab_shapes.js row-tiles-first [rounds]
//     the untuned 8-lane GEMMs' grid order by rowTilesFirst (engine/tune.ts; 'auto') or column tiles
//     first ('off'): stage 5's 3x3 forward and input-grad at batches 2-5, two matmuls, the 512-channel
//     basic block at batches 4 and 2
//   node dist/bench/ab_shapes.js dx-col2im-few [rounds]
//     stride-1 3x3 input-grads of few output pixels (N * OH * OW of 49-245) as dcol + col2im or as
//     the phase GEMM (setConvInputGradPath), the choice useCol2im makes by the pixel count
//   node dist/bench/ab_shapes.js dyn-tiles [rounds]
//     subgroup GEMMs taking their tiles from a counter ('counter', setGemmDynamicTiles('on'); the
//     default on CPU drivers) or each workgroup its grid position ('grid'): the bench's matmuls, an odd
//     and a mid-size one, and basic blocks of stages 2 and 5 at batch 2 and of 64 channels at 28x28, batch 32
//   node dist/bench/ab_shapes.js lane-columns [rounds]
//     the untuned 16-lane GEMMs keeping 8 output columns a lane wherever N fills 8-column tiles ('8',
//     engine/tune.ts setLaneColumns(8)) or 4 everywhere ('4'): the bench's matmuls and more, ResNet-50's ten 1x1
//     convs at batch 2 (matmuls at 16 lanes where planes are a multiple of 64 pixels), basic blocks
//   node dist/bench/ab_shapes.js dw-texture-large [rounds]
//     weight-grads whose x's 4 shifted copies exceed one storage binding (a batch of 256 28x28x64
//     activations): shifted texture copies, staged one at a time ('auto'), or gathers ('off',
//     setConvWeightGradTexture)
import { initDevice } from '../engine/device.js';
import { matmul, randn, tidy, transpose, type Tensor } from '../engine/index.js';
import { convGeometry, setConvFlatOperands, setConvInputGradPath, setConvPointwise, setConvWeightGradDyTexture, setConvWeightGradTexture } from '../engine/ops/conv2d.js';
import { setFlatCopies, setGemmDynamicTiles, setSlabCopies, setTileSlabCopies } from '../engine/ops/matmul.js';
import { setLaneColumns, setRowTilesFirst } from '../engine/tune.js';
import { basicBlock } from './block.js';
import { layerProducts } from './conv.js';
import { checkAgainstNaive } from './harness.js';
import { naiveMatmul } from './matmul.js';
import { engineTimer, interleave } from './tfjs.js';

interface Problem {
  name: string;
  flops: number;
  /** One run; a returned tensor is disposed. */
  run: () => Tensor | void;
  /** The naive kernel's result that run()'s is checked against under both settings (none for the block). */
  reference?: () => Tensor;
}

/** ResNet-50's 1x1 convolutions: [C, H, O, stride]. */
const RESNET_1X1: [number, number, number, number][] = [
  [64, 56, 256, 1], [256, 56, 64, 1], [256, 56, 512, 2], [128, 28, 512, 1], [512, 28, 128, 1],
  [512, 28, 1024, 2], [256, 14, 1024, 1], [1024, 14, 256, 1], [512, 7, 2048, 1], [2048, 7, 512, 1],
];

function matmulProblem(M: number, K: number, N: number, aTransposed = false, bTransposed = false): Problem {
  const a = aTransposed ? transpose(randn([K, M]), 0, 1) : randn([M, K]);
  const b = bTransposed ? transpose(randn([N, K]), 0, 1) : randn([K, N]);
  const how = [aTransposed ? 'A' : '', bTransposed ? 'B' : ''].filter(Boolean).join(' and ');
  return { name: `matmul ${M}x${K}x${N}${how ? ` (${how} transposed)` : ''}`, flops: 2 * M * N * K, run: () => matmul(a, b), reference: () => naiveMatmul(a, b) };
}

function convProblems(shapes: [number, number, number, number][]): Problem[] {
  const out: Problem[] = [];
  for (const [C, H, O, s] of shapes) {
    const x = randn([2, C, H, H]);
    const w = randn([O, C, 1, 1]);
    const opts = { stride: s };
    const g = convGeometry('ab', x, w, opts);
    const dy = randn([2, O, g.OH, g.OW]);
    const flops = 2 * 2 * O * C * g.OH * g.OW;
    const tag = `1x1 ${C}->${O} @${H}${s > 1 ? `/${s}` : ''}`;
    const { ours, naive } = layerProducts(x, w, dy, g, opts);
    for (const kind of ['fwd', 'dx', 'dw'] as const) out.push({ name: `${tag} ${kind}`, flops, run: ours[kind], reference: naive[kind] });
  }
  return out;
}

/** Convolutions [N, C, H, O, k, stride, padding] and which products to time. */
function kxkProblems(shapes: [number, number, number, number, number, number, number][], kinds: ('fwd' | 'dx' | 'dw')[]): Problem[] {
  const out: Problem[] = [];
  for (const [N, C, H, O, k, s, pad] of shapes) {
    const x = randn([N, C, H, H]);
    const w = randn([O, C, k, k]);
    const opts = { stride: s, padding: pad };
    const g = convGeometry('ab', x, w, opts);
    const dy = randn([N, O, g.OH, g.OW]);
    const flops = 2 * N * O * C * k * k * g.OH * g.OW;
    const tag = `${k}x${k}${s > 1 ? `/${s}` : ''} ${C}->${O} @${H} b${N}`;
    const { ours, naive } = layerProducts(x, w, dy, g, opts);
    for (const kind of kinds) out.push({ name: `${tag} ${kind}`, flops, run: ours[kind], reference: naive[kind] });
  }
  return out;
}

/** bench/block.ts's basic residual block (3x3 conv, BN+ReLU, 3x3 conv, BN, skip add, ReLU), forward and backward. */
function blockProblem(N: number, C: number, H: number): Problem {
  const blk = basicBlock(N, C, H);
  const run = () => {
    tidy(blk.fwdBwd);
    blk.params.forEach((t) => t.zeroGrad());
  };
  // the two convolutions' forward, input-grad and weight-grad
  return { name: `basic block ${C} ch @${H} b${N} fwd+bwd`, flops: 3 * 2 * (2 * N * C * C * 9 * H * H), run };
}

const SETS: Record<string, { problems: () => Problem[]; names: [string, string]; on: () => void; off: () => void }> = {
  flat: {
    problems: () => [matmulProblem(256, 2048, 1000), matmulProblem(256, 1000, 2048), matmulProblem(2048, 256, 1000, true), matmulProblem(64, 500, 1000), ...convProblems(RESNET_1X1.filter(([, H, , s]) => s === 1 && (H === 28 || H === 14)))],
    names: ['flat copies', 'packed'],
    on: () => setFlatCopies(true),
    off: () => setFlatCopies(false),
  },
  slabs: {
    problems: () => [
      matmulProblem(2048, 2048, 2048), matmulProblem(1024, 1024, 1024), matmulProblem(256, 256, 256), matmulProblem(512, 512, 512),
      matmulProblem(256, 2048, 1000), matmulProblem(256, 2048, 2048), matmulProblem(256, 2048, 128), matmulProblem(2048, 1024, 512),
      matmulProblem(256, 2048, 1000, false, true), matmulProblem(256, 2048, 2048, false, true), matmulProblem(256, 2048, 128, false, true),
      ...convProblems(RESNET_1X1.filter(([C, , O]) => C >= 256 || O >= 512)),
    ],
    names: ['A slabs', 'rows'],
    on: () => setSlabCopies('A'),
    off: () => setSlabCopies('none'),
  },
  'slab-rule': {
    problems: () => [
      matmulProblem(2048, 2048, 2048), matmulProblem(1024, 1024, 1024), matmulProblem(256, 2048, 128),
      matmulProblem(256, 2048, 1000, false, true), matmulProblem(256, 2048, 2048, false, true), matmulProblem(256, 2048, 128, false, true),
      matmulProblem(2048, 2048, 2048, false, true), matmulProblem(512, 2048, 2048, false, true), matmulProblem(1024, 4096, 1024, false, true),
      matmulProblem(1024, 1152, 1024), matmulProblem(2048, 1152, 512), matmulProblem(1024, 1152, 1024, false, true), matmulProblem(1024, 1536, 1024),
      ...convProblems(RESNET_1X1.filter(([C, H]) => H === 56 || C >= 512)),
      ...kxkProblems([[2, 64, 56, 64, 3, 1, 1], [2, 128, 28, 128, 3, 1, 1], [2, 256, 14, 256, 3, 1, 1], [2, 512, 7, 512, 3, 1, 1]], ['fwd', 'dx', 'dw']),
    ],
    names: ['slab rule', 'A slabs'],
    on: () => setSlabCopies('auto'),
    off: () => setSlabCopies('A'),
  },
  'b-slabs': {
    problems: () => [matmulProblem(2048, 2048, 2048), matmulProblem(1024, 1024, 1024), matmulProblem(256, 2048, 2048), matmulProblem(2048, 1024, 512)],
    names: ['A and B slabs', 'slab rule'],
    on: () => setSlabCopies('both'),
    off: () => setSlabCopies('auto'),
  },
  'tile-slabs': {
    problems: () => [
      matmulProblem(2048, 2048, 2048), matmulProblem(1024, 1024, 1024), matmulProblem(256, 2048, 2048), matmulProblem(2048, 1024, 512),
      matmulProblem(512, 512, 512), matmulProblem(2048, 4096, 1024), matmulProblem(1000, 1000, 1000), matmulProblem(256, 256, 256),
      ...convProblems(RESNET_1X1),
    ],
    names: ['column-tile slabs', 'rows'],
    on: () => setTileSlabCopies('auto'),
    off: () => setTileSlabCopies('off'),
  },
  pointwise: { problems: () => convProblems(RESNET_1X1), names: ['matmul', 'implicit'], on: () => setConvPointwise('on'), off: () => setConvPointwise('off') },
  'flat-operands': {
    problems: () => [
      ...kxkProblems([[8, 64, 56, 64, 3, 1, 1], [32, 64, 28, 64, 3, 1, 1], [32, 16, 28, 16, 3, 1, 1], [32, 32, 14, 32, 3, 1, 1], [32, 32, 28, 64, 3, 2, 1]], ['fwd', 'dx']),
      ...kxkProblems([[2, 3, 224, 64, 7, 2, 3]], ['dx']),
      blockProblem(32, 64, 28),
    ],
    names: ['flat textures', 'buffers'],
    on: () => setConvFlatOperands('auto'),
    off: () => setConvFlatOperands('off'),
  },
  'dw-dy-texture': {
    problems: () => kxkProblems([[2, 64, 56, 64, 3, 1, 1], [8, 64, 56, 64, 3, 1, 1], [32, 64, 28, 64, 3, 1, 1], [32, 16, 28, 16, 3, 1, 1], [8, 256, 14, 256, 3, 1, 1]], ['dw']),
    names: ['dy texture', 'dy panel'],
    on: () => setConvWeightGradDyTexture('on'),
    off: () => setConvWeightGradDyTexture('auto'),
  },
  'dx-col2im-few': {
    problems: () => kxkProblems([[1, 512, 7, 512, 3, 1, 1], [2, 512, 7, 512, 3, 1, 1], [3, 512, 7, 512, 3, 1, 1], [4, 512, 7, 512, 3, 1, 1], [5, 512, 7, 512, 3, 1, 1], [1, 256, 14, 256, 3, 1, 1], [2, 256, 10, 256, 3, 1, 1], [2, 256, 7, 256, 3, 1, 1], [1, 128, 14, 128, 3, 1, 1], [1, 512, 14, 512, 3, 1, 1], [2, 1024, 7, 1024, 3, 1, 1]], ['dx']),
    names: ['col2im', 'phase'],
    on: () => setConvInputGradPath('col2im'),
    off: () => setConvInputGradPath('phase'),
  },
  'row-tiles-first': {
    problems: () => [
      ...kxkProblems([[2, 512, 7, 512, 3, 1, 1], [3, 512, 7, 512, 3, 1, 1], [4, 512, 7, 512, 3, 1, 1], [5, 512, 7, 512, 3, 1, 1]], ['fwd', 'dx']),
      matmulProblem(196, 512, 4608), matmulProblem(1024, 1024, 1024),
      blockProblem(4, 512, 7), blockProblem(2, 512, 7),
    ],
    names: ['rule', 'column tiles first'],
    on: () => setRowTilesFirst('auto'),
    off: () => setRowTilesFirst('off'),
  },
  'dyn-tiles': {
    problems: () => [
      matmulProblem(256, 256, 256), matmulProblem(1024, 1024, 1024), matmulProblem(2048, 2048, 2048),
      matmulProblem(256, 2048, 1000, false, true), matmulProblem(256, 2048, 2048, false, true), matmulProblem(256, 2048, 128, false, true),
      matmulProblem(67, 300, 130), matmulProblem(512, 512, 512),
      blockProblem(2, 64, 56), blockProblem(2, 512, 7), blockProblem(32, 64, 28),
    ],
    names: ['counter', 'grid'],
    on: () => setGemmDynamicTiles('on'),
    off: () => setGemmDynamicTiles('off'),
  },
  'lane-columns': {
    problems: () => [
      matmulProblem(256, 256, 256), matmulProblem(1024, 1024, 1024), matmulProblem(2048, 2048, 2048), matmulProblem(512, 512, 512),
      matmulProblem(256, 2048, 1000, false, true), matmulProblem(256, 2048, 2048, false, true), matmulProblem(256, 2048, 128, false, true),
      matmulProblem(1024, 512, 320), matmulProblem(2048, 1024, 512),
      ...convProblems(RESNET_1X1),
      blockProblem(2, 64, 56), blockProblem(2, 512, 7), blockProblem(32, 64, 28),
    ],
    names: ['8', '4'],
    on: () => setLaneColumns(8),
    off: () => setLaneColumns(4),
  },
  'dw-texture-large': {
    problems: () => kxkProblems([[256, 64, 28, 64, 3, 1, 1]], ['dw']),
    names: ['shifted textures', 'gathers'],
    on: () => setConvWeightGradTexture('auto'),
    off: () => setConvWeightGradTexture('off'),
  },
};

async function main(): Promise<void> {
  const [what, roundsArg, only] = process.argv.slice(2);
  const rounds = Number(roundsArg ?? 5);
  const set = SETS[what];
  if (!set || !(rounds >= 1)) {
    console.error(`ab_shapes: usage: ab_shapes.js <${Object.keys(SETS).join('|')}> [rounds] [name filter]`);
    process.exit(2);
  }
  await initDevice();
  // a third argument keeps the problems whose names contain it (the others' tensors are made all the same)
  const problems = set.problems().filter((p) => !only || p.name.includes(only));
  const { on, off, names } = set;
  console.log(`ab_shapes ${what}: ${rounds} interleaved rounds; ${names[0]} against ${names[1]}`);
  for (const p of problems) {
    const timer = engineTimer(() => p.run()?.dispose());
    const r = await interleave(
      {
        a: async (iters) => (on(), timer(iters)),
        b: async (iters) => (off(), timer(iters)),
      },
      { warmup: 1, runs: rounds },
    );
    const gf = (ms: number) => (p.flops / ms / 1e6).toFixed(1);
    console.log(`${p.name.padEnd(34)} ${names[0]} ${r.a.toFixed(2)} ms ${gf(r.a)} GFLOP/s | ${names[1]} ${r.b.toFixed(2)} ms ${gf(r.b)} | ${(r.b / r.a).toFixed(2)}x`);
    // each setting's result against the naive kernel's: a fast wrong kernel must not pass for a win
    if (!p.reference) continue;
    for (const [i, apply] of [on, off].entries()) {
      apply();
      await checkAgainstNaive(names[i], p.run() as Tensor, p.reference());
    }
  }
  on();
  process.exit(process.exitCode ?? 0);
}

await main();
