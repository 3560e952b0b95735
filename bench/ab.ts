// Interleaved A/B runs of one engine choice in one process, the way the A/B figures of bench/NOTES.md were
// measured (on a shared machine whose speed drifts by tens of percent, only interleaved runs compare):
//   WEBGPU_VECTOR_WIDTH=512 node dist/bench/ab.js <choice> [rounds]
// choices (each toggles one switch of engine/ops/conv2d.ts, at the bench's conv layers, batch 2):
//   pointwise  1x1 convs as batched matmuls wherever possible ('on') or implicit GEMMs ('off'): forward,
//              input-grad (a strided input-grad has no matmul form: both settings run the same code there),
//              weight-grad
//   fwd-nhwc   forwards (3x3; 1x1 at 8 lanes, where not matmuls) on a channels-last copy of x ('auto') or NCHW gathers ('off')
//   dx-nhwc    input-grads (3x3; 1x1 at 8 lanes, where not matmuls) on a channels-last copy of dy ('auto') or NCHW gathers ('off')
//   dx-col2im  stride-1 3x3 input-grads as dcol = dy x weight then col2im, or as the phase GEMM (weight re-laid out)
//   nhwc-copy  3x3 channels-last copies by the 4 x 4 block kernel or the generic strided copy
//   relayout   3x3 texture GEMMs reading the weight re-laid out tap-major (true) or packed (false)
//   dw-texture weight-grads reading x from 4 shifted texture copies ('auto', where it applies) or
//              with masked gathers ('off')
//   col2im-phase the stem's input-grad with strided col2im by its phase kernel (true) or the general one
//   dw-dy-texture weight-grads reading dy from a flat texture copy ('auto', output planes of a multiple
//              of 4 pixels) or from the variant's panel or gathers ('off')
//   pad-channels the stem's forward with its 3 channels padded to 4, channels-last from a flat texture
//              ('auto') or on NCHW gathers ('off')
//   dw-splits  weight-grads split over K only to spread their tiles evenly over the CPU driver's threads
//              ('even') or until the grid has 32 workgroups ('fill', the previous rule)
//   flat-copies GEMM operands whose rows start on whole texels but not 256 bytes apart (the downsample's
//              subsampled 28x28 planes, the stem's padded weight) copied flat into textures, or packed
//              (engine/ops/matmul.ts setFlatCopies; bench/ab_shapes.ts flat times more such shapes)
//   panel-binding every layer's operand and panel textures read as read-only storage textures or as
//              sampled ones (engine/kernels.ts setPanelTextureBinding)
//   fit-rows   stage 5's balanced tile heights in multiples of 4 rows or of the subgroup size
//              (engine/tune.ts setFitQuantum)
//   store4     every layer's GEMMs storing vec4s where the output layout allows (on) or scalars (off):
//              forward, input-grad and weight-grad (engine/ops/matmul.ts setGemmStore4)
//   lane-columns the untuned 16-lane GEMMs keeping 8 output columns a lane wherever N fills 8-column
//              tiles ('8') or 4 everywhere ('4'; engine/tune.ts setLaneColumns)
//   dyn-tiles  every subgroup GEMM taking its tiles from a counter, so that a faster driver thread does
//              more of them ('counter', the default on CPU drivers), or each workgroup its own grid position ('grid';
//              engine/ops/matmul.ts setGemmDynamicTiles)
// A third argument limits the rows to some products, e.g. '1:fwd,5:dw' (layer index into bench/conv.ts
// LAYERS, and kind). Each row prints the median ms and GFLOP/s of both settings over `rounds` (default 5) interleaved
// timed runs, and how many times faster the first is; a setting whose result differs from the naive
// kernel's by more than the bench's tolerance prints WRONG and makes the exit status 1. Variants come from the tune cache, as in `npm run bench`.
// A second form compares GEMM variants on one bench conv layer (index into bench/conv.ts LAYERS):
//   WEBGPU_VECTOR_WIDTH=512 node dist/bench/ab.js variant <layer 0-6> <fwd|dx|dw> '<variant JSON>' [rounds]
// e.g. '{"tm":96,"fit":true,"pack":"B","tex":true}' (family bcast, wg 1 and the adapter's subgroup size
// filled in) against the layer's tuned variant: per round each is timed as the fastest of 3 runs
// (bursts on this machine only add time); prints the median and the fastest round of each, and WRONG
// (exit status 1) for a variant whose result differs from the naive kernel's.
// A third form does the same for a matmul, its chosen variant (tuned, else the untuned default) against
// a given one; --ta / --tb store A / B transposed (read in place, as linear's backward does):
//   WEBGPU_VECTOR_WIDTH=512 node dist/bench/ab.js matmul <M> <K> <N> '<variant JSON>' [rounds] [--ta] [--tb]
// e.g. '{"tm":32,"wg":2}' is the untuned default that mid-size matmuls had before midProduct.
import { initDevice } from '../engine/device.js';
import { matmul, randn, transpose, type Tensor } from '../engine/index.js';
import { convGemmDims, convGeometry, convTuneOp, setConvChannelsLast, setConvCol2imPhased, setConvInputGradPath, setConvNhwcKernel, setConvPadChannels, setConvPointwise, setConvVariants, setConvWeightGradDyTexture, setConvWeightGradSplits, setConvWeightGradTexture, setConvWeightRelayout } from '../engine/ops/conv2d.js';
import { chooseGemmVariant, describeVariant, setFitQuantum, setLaneColumns, validVariant, type GemmVariant } from '../engine/tune.js';
import { checkAgainstNaive, median, timeGpu } from './harness.js';
import { naiveMatmul } from './matmul.js';
import { setFlatCopies, setGemmDynamicTiles, setGemmStore4, setMatmulKernel } from '../engine/ops/matmul.js';
import { setPanelTextureBinding } from '../engine/kernels.js';
import { LAYERS, layerProducts, OPS, type Kind } from './conv.js';
import { engineTimer, interleave } from './tfjs.js';

type Setting = { name: string; apply: () => void };

const CHOICES: Record<string, { layers: number[]; kinds: Kind[]; settings: [Setting, Setting] }> = {
  pointwise: {
    layers: LAYERS.flatMap((L, i) => (L.k === 1 ? [i] : [])),
    kinds: ['fwd', 'dx', 'dw'],
    settings: [
      { name: 'matmul', apply: () => setConvPointwise('on') },
      { name: 'implicit', apply: () => setConvPointwise('off') },
    ],
  },
  'fwd-nhwc': {
    layers: LAYERS.flatMap((L, i) => (L.C % 4 === 0 ? [i] : [])),
    kinds: ['fwd'],
    settings: [
      { name: 'channels-last', apply: () => setConvChannelsLast('auto', 'fwd') },
      { name: 'nchw', apply: () => setConvChannelsLast('off', 'fwd') },
    ],
  },
  'dx-nhwc': {
    layers: LAYERS.flatMap((L, i) => (L.C % 4 === 0 ? [i] : [])),
    kinds: ['dx'],
    settings: [
      { name: 'channels-last', apply: () => setConvChannelsLast('auto', 'dx') },
      { name: 'nchw', apply: () => setConvChannelsLast('off', 'dx') },
    ],
  },
  'dx-col2im': {
    layers: LAYERS.flatMap((L, i) => (L.k === 3 && L.stride === 1 ? [i] : [])),
    kinds: ['dx'],
    settings: [
      { name: 'dcol + col2im', apply: () => setConvInputGradPath('col2im') },
      { name: 'phase GEMM', apply: () => setConvInputGradPath('phase') },
    ],
  },
  'nhwc-copy': {
    layers: LAYERS.flatMap((L, i) => (L.k === 3 ? [i] : [])),
    kinds: ['fwd', 'dx'],
    settings: [
      { name: 'block kernel', apply: () => setConvNhwcKernel(true) },
      { name: 'strided copy', apply: () => setConvNhwcKernel(false) },
    ],
  },
  relayout: {
    layers: LAYERS.flatMap((L, i) => (L.k === 3 ? [i] : [])),
    kinds: ['fwd', 'dx'],
    settings: [
      { name: 'relayout', apply: () => setConvWeightRelayout('on') },
      { name: 'packed', apply: () => setConvWeightRelayout('off') },
    ],
  },
  'dw-texture': {
    layers: LAYERS.flatMap((L, i) => (L.stride === 1 ? [i] : [])),
    kinds: ['dw'],
    settings: [
      { name: 'texture', apply: () => setConvWeightGradTexture('auto') },
      { name: 'gathers', apply: () => setConvWeightGradTexture('off') },
    ],
  },
  'col2im-phase': {
    layers: LAYERS.flatMap((L, i) => (L.C < 8 ? [i] : [])),
    kinds: ['dx'],
    settings: [
      { name: 'phase col2im', apply: () => setConvCol2imPhased(true) },
      { name: 'general col2im', apply: () => setConvCol2imPhased(false) },
    ],
  },
  'dw-dy-texture': {
    layers: LAYERS.map((_L, i) => i),
    kinds: ['dw'],
    settings: [
      { name: 'dy texture', apply: () => setConvWeightGradDyTexture('auto') },
      { name: 'dy panel/gathers', apply: () => setConvWeightGradDyTexture('off') },
    ],
  },
  'pad-channels': {
    layers: LAYERS.flatMap((L, i) => (L.C % 4 !== 0 ? [i] : [])),
    kinds: ['fwd'],
    settings: [
      { name: 'padded, flat texture', apply: () => setConvPadChannels('auto') },
      { name: 'NCHW gathers', apply: () => setConvPadChannels('off') },
    ],
  },
  'dw-splits': {
    layers: LAYERS.map((_L, i) => i),
    kinds: ['dw'],
    settings: [
      { name: 'even', apply: () => setConvWeightGradSplits('even') },
      { name: 'fill 32', apply: () => setConvWeightGradSplits('fill') },
    ],
  },
  'flat-copies': {
    layers: LAYERS.map((_L, i) => i),
    kinds: ['fwd', 'dx', 'dw'],
    settings: [
      { name: 'flat copies', apply: () => setFlatCopies(true) },
      { name: 'packed', apply: () => setFlatCopies(false) },
    ],
  },
  'panel-binding': {
    layers: LAYERS.map((_L, i) => i),
    kinds: ['fwd', 'dx', 'dw'],
    settings: [
      { name: 'storage', apply: () => setPanelTextureBinding('storage') },
      { name: 'sampled', apply: () => setPanelTextureBinding('sampled') },
    ],
  },
  'fit-rows': {
    // stage 5 (98 rows): the one bench layer whose balanced tile heights differ
    layers: [4],
    kinds: ['fwd', 'dx', 'dw'],
    settings: [
      { name: 'rows of 4', apply: () => setFitQuantum('rows4') },
      { name: 'subgroups', apply: () => setFitQuantum('subgroup') },
    ],
  },
  store4: {
    layers: LAYERS.map((_L, i) => i),
    kinds: ['fwd', 'dx', 'dw'],
    settings: [
      { name: 'vec4', apply: () => setGemmStore4(true) },
      { name: 'scalar', apply: () => setGemmStore4(false) },
    ],
  },
  'dyn-tiles': {
    layers: LAYERS.map((_L, i) => i),
    kinds: ['fwd', 'dx', 'dw'],
    settings: [
      { name: 'counter', apply: () => setGemmDynamicTiles('on') },
      { name: 'grid', apply: () => setGemmDynamicTiles('off') },
    ],
  },
  'lane-columns': {
    layers: LAYERS.map((_L, i) => i),
    kinds: ['fwd', 'dx', 'dw'],
    settings: [
      { name: '8', apply: () => setLaneColumns(8) },
      { name: '4', apply: () => setLaneColumns(4) },
    ],
  },
};

/** A bench conv layer's tensors and geometry, and the call that runs one of its products. */
function layerProblem(L: (typeof LAYERS)[number]) {
  const opts = { stride: L.stride, padding: L.pad };
  const x = randn([L.N, L.C, L.H, L.H]);
  const w = randn([L.O, L.C, L.k, L.k]);
  const g = convGeometry('ab', x, w, opts);
  const gy = randn([L.N, L.O, g.OH, g.OW]);
  const flops = 2 * L.N * L.O * g.OH * g.OW * L.C * L.k * L.k;
  const { ours, naive } = layerProducts(x, w, gy, g, opts);
  const once = (kind: Kind) => () => ours[kind]().dispose();
  return { g, flops, once, ours, naive, dispose: () => [x, w, gy].forEach((t) => t.dispose()) };
}

/** A variant given as JSON, with family bcast, wg 1, tm 64 and the adapter's subgroup size filled in. */
function givenVariant(form: string, json: string, S: number): GemmVariant {
  const given: GemmVariant = { family: 'bcast', wg: 1, subgroup: S, tm: 64, ...(JSON.parse(json) as Partial<GemmVariant>) };
  if (!validVariant(given)) throw new Error(`ab ${form}: ${json} is not a valid variant on this adapter`);
  return given;
}

function roundsOf(form: string, arg: string | undefined, byDefault = 9): number {
  const rounds = Number(arg ?? byDefault);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`ab${form ? ` ${form}` : ''}: rounds must be a positive integer, got ${arg}`);
  return rounds;
}

/** What a variant A/B checks each variant's result against: the product under it, and the naive kernel's. */
interface ResultCheck {
  ours: () => Tensor;
  naive: () => Tensor;
}

/**
 * Times `once` under the chosen variant and under a given one, interleaved; each round counts the
 * fastest of 3 runs (bursts only add time). `use` installs a variant (null: back to the choice).
 */
async function compareVariants(title: string, flops: number, once: () => void, use: (v: GemmVariant | null) => void, chosen: GemmVariant, given: GemmVariant, rounds: number, check: ResultCheck): Promise<void> {
  const vs = [chosen, given];
  const times: number[][] = [[], []];
  console.log(`${title}, ${rounds} interleaved rounds`);
  for (let r = 0; r < rounds; r++) {
    for (const i of r % 2 ? [1, 0] : [0, 1]) {
      use(vs[i]);
      times[i].push(await timeGpu(once, { warmup: 1, runs: 3, stat: 'min' }));
    }
  }
  use(null);
  ['chosen', 'given'].forEach((name, i) => {
    const best = Math.min(...times[i]);
    console.log(`${`${name} ${describeVariant(vs[i])}`.padEnd(48)} median ${median(times[i]).toFixed(3)} ms, fastest ${best.toFixed(3)} ms (${(flops / best / 1e6).toFixed(1)} GFLOP/s)`);
  });
  console.log(`given / chosen speed: median ${(median(times[0]) / median(times[1])).toFixed(2)}x, fastest ${(Math.min(...times[0]) / Math.min(...times[1])).toFixed(2)}x`);
  // each variant's result against the naive kernel's, as the choices' form checks
  for (const [i, name] of ['chosen', 'given'].entries()) {
    use(vs[i]);
    const ours = check.ours();
    use(null);
    await checkAgainstNaive(name, ours, check.naive());
  }
}

/** `ab.js variant`: the layer's tuned GEMM variant against one given as JSON, interleaved. */
async function variantAB(args: string[]): Promise<void> {
  const [li, kind, json, roundsArg] = args;
  const L = LAYERS[Number(li)];
  if (!L || !['fwd', 'dx', 'dw'].includes(kind) || !json) {
    console.error(`ab variant: usage: ab.js variant <layer 0-${LAYERS.length - 1}> <fwd|dx|dw> '<variant JSON>' [rounds]`);
    process.exit(2);
  }
  const rounds = roundsOf('variant', roundsArg);
  const ctx = await initDevice();
  const k = kind as Kind;
  const given = givenVariant('variant', json, ctx.summary.subgroupSize);
  const { g, flops, once, ours, naive } = layerProblem(L);
  const [M, N, K] = convGemmDims(k, g);
  const title = `${L.name} ${kind}: GEMM ${M} x ${N} x ${K}, ${ctx.summary.description}`;
  await compareVariants(title, flops, once(k), (v) => setConvVariants(v ? { [OPS[k]]: v } : {}), chooseGemmVariant(convTuneOp(k, g), M, N, K), given, rounds, { ours: ours[k], naive: naive[k] });
  process.exit(process.exitCode ?? 0);
}

/** `ab.js matmul`: a matmul's chosen variant (tuned, else the default) against one given as JSON, interleaved. */
async function matmulAB(args: string[]): Promise<void> {
  const [m, k, n, json, roundsArg, ...flags] = args;
  const [M, K, N] = [m, k, n].map(Number);
  if (![M, K, N].every((d) => Number.isInteger(d) && d >= 1) || !json || flags.some((f) => f !== '--ta' && f !== '--tb')) {
    console.error(`ab matmul: usage: ab.js matmul <M> <K> <N> '<variant JSON>' [rounds] [--ta] [--tb] (--ta / --tb: A / B stored transposed, read in place)`);
    process.exit(2);
  }
  const rounds = roundsOf('matmul', roundsArg);
  const ctx = await initDevice();
  const given = givenVariant('matmul', json, ctx.summary.subgroupSize);
  const a = flags.includes('--ta') ? transpose(randn([K, M]), 0, 1) : randn([M, K]);
  const b = flags.includes('--tb') ? transpose(randn([N, K]), 0, 1) : randn([K, N]);
  const title = `matmul ${M} x ${K} x ${N}${flags.length ? ` (${flags.join(' ')})` : ''}, ${ctx.summary.description}`;
  await compareVariants(title, 2 * M * N * K, () => matmul(a, b).dispose(), (v) => setMatmulKernel('gemm', v), chooseGemmVariant('matmul', M, N, K), given, rounds, { ours: () => matmul(a, b), naive: () => naiveMatmul(a, b) });
  process.exit(process.exitCode ?? 0);
}

async function main(): Promise<void> {
  if (process.argv[2] === 'variant') return variantAB(process.argv.slice(3));
  if (process.argv[2] === 'matmul') return matmulAB(process.argv.slice(3));
  const choice = process.argv[2] ?? '';
  const spec = CHOICES[choice];
  if (!spec) {
    console.error(`ab: unknown choice '${choice}'; choices: ${Object.keys(CHOICES).join(', ')}`);
    process.exit(2);
  }
  const rounds = roundsOf('', process.argv[3], 5);
  const ctx = await initDevice();
  console.log(`${choice}: ${ctx.summary.description}, subgroup size ${ctx.summary.subgroupSize}, ${rounds} interleaved rounds`);
  const [A, B] = spec.settings;
  // optional third argument: only these products, e.g. '1:fwd,5:dw' (layer index: kind)
  const only = process.argv[4]?.split(',');
  const wanted = (li: number, kind: Kind) => !only || only.includes(`${li}:${kind}`);
  for (const li of spec.layers) {
    if (!spec.kinds.some((kind) => wanted(li, kind))) continue;
    const L = LAYERS[li];
    const problem = layerProblem(L);
    const { flops } = problem;
    for (const kind of spec.kinds) {
      if (!wanted(li, kind)) continue;
      const once = problem.once(kind);
      const timer = (s: Setting) => {
        const t = engineTimer(once);
        return async (iters = 1) => {
          s.apply();
          return t(iters);
        };
      };
      const med = await interleave({ [A.name]: timer(A), [B.name]: timer(B) }, { warmup: 1, runs: rounds });
      const row = [A, B].map((s) => `${s.name} ${med[s.name].toFixed(2)} ms ${(flops / med[s.name] / 1e6).toFixed(1)} GFLOP/s`).join(' | ');
      console.log(`${`${L.name} ${kind}`.padEnd(36)} ${row} | ${A.name} ${(med[B.name] / med[A.name]).toFixed(2)}x as fast`);
      // each setting's result against the naive kernel: a fast wrong kernel must not pass for a win
      for (const s of [A, B]) {
        s.apply();
        await checkAgainstNaive(s.name, problem.ours[kind](), problem.naive[kind]());
      }
    }
    problem.dispose();
  }
  setConvPointwise('auto');
  setConvChannelsLast('auto');
  setConvWeightRelayout('auto');
  setGemmStore4(true);
  process.exit(process.exitCode ?? 0);
}

await main();
