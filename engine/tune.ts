// Autotuner for the generated kernels: which blocking variant each GEMM-shaped op uses on this adapter.
//
// Every variant computes the same result; only speed differs. Without a tuning cache the engine uses
// a fixed default per adapter family (deterministic: tests never depend on tuning). `tuneGemm()` (run
// by `npm run bench`, or explicitly) times a few candidate variants on representative shapes and
// stores the winners per shape class in a JSON cache on disk, keyed by adapter + driver + subgroup
// size (and, for a CPU driver, the host CPU's model, vector extensions and count), so the choice is
// made once per machine:
//   $WEBGPU_DL_CACHE_DIR, else $XDG_CACHE_HOME/webgpu-dl, else ~/.cache/webgpu-dl  (tune-<hash>.json)
// WEBGPU_DL_TUNE=off ignores the cache (defaults only); WEBGPU_DL_TUNE=readonly never writes it.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { join } from 'node:path';
import { deviceContext } from './device.js';
import { hostCpuinfo, type CpuinfoFields } from './host_cpu.js';
import { narrowCpuSubgroups, texturePanelsAt } from './kernels.js';

export interface GemmVariant {
  /**
   * bcast: subgroup-broadcast rows (CPU drivers); reg: per-invocation register blocking (no subgroups);
   * tiled: workgroup-memory tiles of 16 tm x 16 tn, tm x tn per invocation (discrete GPUs).
   */
  family: 'bcast' | 'reg' | 'tiled';
  /** Output rows per subgroup (bcast, a multiple of `subgroup`) or per invocation (reg, tiled: 4 or 8). */
  tm: number;
  /**
   * Output columns per invocation, 4 (default) or 8: tiled; and bcast with a packed B operand, where a
   * lane keeps two groups of 4 columns (each B load then serves twice the rows' broadcasts).
   */
  tn?: number;
  /**
   * bcast with a packed B operand: the B panel lives in an rgba32uint texture (one 16-byte texel load per
   * lane instead of 4 scalar loads on lavapipe), its texels bit-cast to f32.
   */
  tex?: boolean;
  /** tiled: k step staged in workgroup memory, 16 (default) or 8. */
  bk?: number;
  /** Subgroups (bcast) or rows of 8 invocations (reg) per workgroup, stacked along M. */
  wg: number;
  /** Subgroup size the code is generated for (1 for reg). */
  subgroup: number;
  /** Grid order: false = workgroups walk N fastest (share A rows), true = M fastest (share B columns). */
  swap?: boolean;
  /**
   * Operand panels: true packs A and B into tile-major panels first (one contiguous vec4 load per lane
   * per operand; pays off when several column tiles reuse the A panel), 'B' packs only B (the
   * operand each lane loads its own columns of), false reads both where they live.
   */
  pack?: boolean | 'B';
  /**
   * bcast: tm is the largest tile height; a GEMM of M rows uses as many row tiles as tm would make,
   * each the smallest multiple of 4 rows (at least the subgroup size) that covers M (fitVariant):
   * M = 98 with tm 128 runs one tile of 100 rows, not two of 64 (23% of them padding). A height that
   * is not a multiple of the subgroup size leaves the last subgroup slot of A rows partial (matmul.ts).
   */
  fit?: boolean;
  /**
   * bcast, grid not swapped: each subgroup takes the next tile from a counter instead of its own grid
   * position, and the grid has half as many rows of workgroups again as row tiles (subgroups that find
   * none left return), so a CPU driver's thread on a slower core does fewer tiles (engine/ops/matmul.ts
   * setGemmDynamicTiles: by default on CPU drivers).
   */
  dyn?: boolean;
}

let fitQuantum: 'rows4' | 'subgroup' = 'rows4';

/**
 * Balanced tile heights in multiples of 4 rows or of the subgroup size (the rule before; bench/ab.ts
 * fit-rows). Interleaved at stage 5 (98 rows: one tile of 100 against 112, 16 lanes, 9 rounds): the
 * forward 1.06x as fast, the input-grad 1.01x.
 */
export function setFitQuantum(q: 'rows4' | 'subgroup'): void {
  fitQuantum = q;
}

/** A variant as it runs for M rows: a 'fit' variant's tile height balanced over its row tiles. */
export function fitVariant(v: GemmVariant, M: number): GemmVariant {
  if (!v.fit || v.family !== 'bcast') return v;
  const { fit: _fit, ...rest } = v;
  const S = v.subgroup;
  const tiles = Math.max(1, Math.ceil(M / (v.tm * v.wg)));
  const q = fitQuantum === 'subgroup' ? S : 4;
  return { ...rest, tm: Math.min(v.tm, Math.max(S, q * Math.ceil(M / (tiles * v.wg * q)))) };
}

export type GemmOp = 'matmul' | 'conv.fwd' | 'conv.dx' | 'conv.dw';

interface CacheFile {
  adapter: string;
  created: string;
  gemm: Record<string, GemmVariant>;
}

let cache: CacheFile | null = null;
let cacheLoaded = false;

/**
 * Version of the kernel generator and its variant space: bumped when either changes, so choices tuned
 * for older kernels are not reused (a cache of another version is ignored, then overwritten by tuning).
 */
export const TUNE_VERSION = 3;

/** Vector extensions that change which code a CPU driver generates (and so which variant wins). */
const CPU_FLAGS = ['avx', 'avx2', 'fma', 'avx512f', 'avx512vl', 'avx512bw', 'avx512_bf16', 'avx512_vnni', 'avxvnni'];

/**
 * The host CPU as a CPU driver's speed depends on it: vendor, family, model, stepping and vector
 * extensions of /proc/cpuinfo's first processor (parseCpuinfo), and the number of CPUs; elsewhere the
 * CPU's model string. lavapipe's adapter description names only LLVM's vector width, which reads the
 * same on an AVX2 Zen 3 and an AVX-512 Zen 4, so a cache tuned on one would otherwise steer the other.
 */
export function cpuFingerprint(c: CpuinfoFields | null, count: number, fallbackModel: string): string {
  if (!c) return `${fallbackModel.trim()}:${count}cpu`;
  const ext = CPU_FLAGS.filter((f) => c.flags.has(f)).join('+') || 'novec';
  return `${c.vendor}:${c.family}:${c.model}:${c.stepping}:${ext}:${count}cpu`;
}

function hostCpu(): string {
  const list = cpus();
  return cpuFingerprint(hostCpuinfo(), list.length, list[0]?.model ?? 'unknown');
}

export function adapterKey(): string {
  const { summary, features } = deviceContext();
  const vw = process.env.LP_NATIVE_VECTOR_WIDTH ?? '';
  const host = summary.isSoftware ? [hostCpu(), `t${summary.driverThreads}`] : [];
  return [`v${TUNE_VERSION}`, summary.vendor, summary.architecture, summary.device, summary.description, summary.backend, `sg${summary.subgroupSize}`, features.has('subgroups') ? 'subgroups' : 'nosubgroups', vw ? `vw${vw}` : '', ...host].join('|');
}

export function tuneCachePath(): string {
  const dir = process.env.WEBGPU_DL_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'webgpu-dl');
  const hash = createHash('sha256').update(adapterKey()).digest('hex').slice(0, 16);
  return join(dir, `tune-${hash}.json`);
}

function loadCache(): CacheFile | null {
  if (cacheLoaded) return cache;
  cacheLoaded = true;
  if (process.env.WEBGPU_DL_TUNE === 'off') return null;
  try {
    const path = tuneCachePath();
    if (existsSync(path)) {
      const c = JSON.parse(readFileSync(path, 'utf8')) as CacheFile;
      if (c.adapter === adapterKey() && c.gemm && typeof c.gemm === 'object') cache = c;
    }
  } catch {
    cache = null; // an unreadable cache is ignored: defaults are always correct
  }
  return cache;
}

function saveCache(): void {
  if (!cache || process.env.WEBGPU_DL_TUNE === 'off' || process.env.WEBGPU_DL_TUNE === 'readonly') return;
  const path = tuneCachePath();
  mkdirSync(join(path, '..'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(cache, null, 1));
  renameSync(tmp, path);
}

/** Shape class: log2 buckets of M, N, K (clamped), so one tuning run covers similar shapes. */
export function shapeClass(op: GemmOp, M: number, N: number, K: number): string {
  const b = (x: number) => Math.min(12, Math.max(3, Math.round(Math.log2(Math.max(x, 1)))));
  return `${op}:${b(M)}:${b(N)}:${b(K)}`;
}

/** The subgroup-broadcast family: CPU drivers with subgroups of one fixed size (its code assumes it). */
export function useBcast(): boolean {
  const { summary, features, adapter } = deviceContext();
  const maxSize = (adapter.info as GPUAdapterInfo & { subgroupMaxSize?: number }).subgroupMaxSize;
  const fixed = maxSize === undefined || maxSize === summary.subgroupSize;
  return features.has('subgroups') && summary.subgroupSize >= 4 && summary.isSoftware && fixed;
}

/**
 * The variant used when nothing was tuned: fixed per adapter family and shape size. On CPU drivers
 * (subgroup broadcast): tall tiles (64 rows) for large problems, since every per-lane B load is then
 * shared by more rows; B in vec4 panels (the per-lane loads are the cost); A packed too for matmul
 * when several column tiles reuse its panel. Small problems get small tiles (fast to compile).
 */
export function defaultGemmVariant(op: GemmOp, M: number, N: number, K: number): GemmVariant {
  const S = deviceContext().summary.subgroupSize;
  if (useBcast()) {
    const big = M * N * K >= 1 << 24 && K >= 16;
    const large = (big && M >= 64) || (midProduct(op, M, N, K) && M >= 16);
    if (S >= 16 && large) return wideDefault(op, M, N, S);
    if (narrowCpuSubgroups() && large) return storagePanelDefault(op, M, N, K, S);
    // 16 lanes: 64-row tiles from 256 rows (the tuner's pick for the fc and projection-head shapes)
    const tall = big && (M >= 512 || (S >= 16 && M >= 256));
    const tm = tall ? 64 : M >= 24 ? Math.max(S, 32 - (32 % S)) : S * Math.max(1, Math.ceil(M / S));
    const wg = tm >= 64 ? 1 : M >= 256 ? 2 : 1;
    // B panels pay for their packing pass when several row tiles reuse them
    let pack: GemmVariant['pack'] = false;
    if (big && M >= 4 * tm * wg) pack = op === 'matmul' && N > 8 * S ? true : 'B';
    // at 16 lanes (512-bit lavapipe) large matmuls read B panels from a texture and keep as many
    // columns a lane as suit the host CPU (hostLaneColumns): 2048^3 went from 58 to 74 GFLOP/s, 1024^3
    // from 50 to 65 with 8 on Zen 4 (commit 90045b3)
    if (pack === true && S >= 16 && tm === 64 && N >= 16 * S) return { family: 'bcast', tm, ...(laneColumns16() === 8 ? { tn: 8 } : {}), wg, subgroup: S, pack, tex: true };
    // the tuner picked texture B panels for 14 of the 21 conv rows of the bench at 16 lanes
    const tex = pack === 'B' && S >= 16;
    return { family: 'bcast', tm, wg, subgroup: S, ...(pack ? { pack } : {}), ...(tex ? { tex } : {}) };
  }
  if (!deviceContext().summary.isSoftware) {
    // the largest tile that still gives a big GPU ~2 workgroups per multiprocessor (256 in all):
    // measured on an H200, 128 x 128 won at 2048^3 and 4096^3 (29-30 TFLOP/s), 64 x 64 at 1024^3
    const tiles = (r: number, c: number) => Math.ceil(M / r) * Math.ceil(N / c);
    if (K >= 64 && tiles(128, 128) >= 256) return { family: 'tiled', tm: 8, tn: 8, wg: 1, subgroup: 1 };
    if (K >= 64 && tiles(128, 64) >= 256) return { family: 'tiled', tm: 8, wg: 1, subgroup: 1 };
    return { family: 'tiled', tm: 4, wg: 1, subgroup: 1 };
  }
  return { family: 'reg', tm: 4, wg: 8, subgroup: 1 };
}

/**
 * A product of at least 2^22 multiply-adds that the wide texture variant serves better than 32-row
 * tiles of 4 columns with direct loads, at 16 lanes, even below 2^24 or with fewer than 64 rows (from
 * 16; interleaved, fastest of 3 runs a round):
 * - a matmul whose operands copy straight into textures (K and N multiples of 64 floats): 256x64x256,
 *   128x128x512, 64x512x256, 128x128x256 (M x K x N) 1.56 / 1.37 / 1.65 / 1.55x by median
 *   (`ab.js matmul`); a 96x200x300 one, which must be packed first, ran 0.78x;
 * - a conv product with K >= 64: the 13 such products of 3x3 and 1x1 layers at 7x7 and 14x14 (batches
 *   2-8, 4.8-13.8M) 1.00-1.85x by median against the old default forced (bench/NOTES.md); with K < 64 (3 or 36
 *   channels) 0.79-1.39x, and under 2^22 0.73-1.30x, so those keep the default;
 * - with 16-63 rows (a batch of one at ResNet's last stages, a small-batch linear layer): the 3x3 and
 *   1x1 forwards and input-grads at 7x7, batch 1 (49 rows, 8 products) 1.23-2.01x by median against
 *   the old default forced, matmuls 48x512x512, 16x1024x1024, 32x2048x2048, 32x1024x512 1.42 / 1.20 /
 *   1.42 / 1.46x; 32x2048x1000 (N not a multiple of 64) ran 0.74x with B alone packed, and with A
 *   packed too (N > 16 S, wideDefault) 1.64 / 1.58x (median / fastest), 16x2048x1000 1.30 / 1.34x,
 *   16x4096x1000 1.22 / 1.21x, 50x784x1000 1.37 / 1.24x; 96x200x300 (under 2^24) read 1.22 / 0.90x
 *   and keeps the default.
 */
function midProduct(op: GemmOp, M: number, N: number, K: number): boolean {
  if (M * N * K < 1 << 22) return false;
  if (op !== 'matmul') return K >= 64;
  // at 8 lanes operands copy flat where their rows are whole texels (flat_texture.ts): 128x100x512,
  // 32x1000x2048, 200x300x400 ran 1.44 / 1.79 / 1.66x under storagePanelDefault's variant against the
  // small default they had (`ab.js matmul`, Zen 3, median of 5 rounds)
  if (narrowCpuSubgroups()) return K % 4 === 0 && N % 4 === 0;
  // at 16 lanes also from 2^24 where A's panel serves more than two column tiles (wideDefault packs it)
  return (K % 64 === 0 && N % 64 === 0) || (N > 16 * deviceContext().summary.subgroupSize && M * N * K >= 1 << 24);
}

/**
 * The untuned variant of a large product at 16 lanes (512-bit lavapipe), from what the tuner picked for
 * every bench shape there: B from a texture (A too for some matmuls, below), 8 columns a lane where
 * N fills 8 S-column tiles well (wideColumns), and the tile height of tileHeight. A matmul's A
 * is packed (a texture copy where K % 64 == 0) from 256 rows, and with fewer where more than two column
 * tiles share its panel: interleaved against B panels alone (`ab.js matmul`, Zen 4, 7 rounds, median /
 * fastest), 64x2048x2048 1.24 / 1.25x, 128x2048x2048 1.34 / 1.19x, 32x2048x2048 1.18 / 1.35x,
 * 16x1024x1024 1.22 / 1.30x, 64x1024x512 1.17 / 1.15x, 128x512x384 1.20 / 1.08x, 200x256x4096 1.24 /
 * 1.17x, 200x500x1000 1.28 / 1.16x (M x K x N); with two column tiles 64x512x256 0.85 / 0.92x, one
 * 128x2048x128 0.94 / 0.96x.
 * At ResNet stage 5, batch 4 (M = 196) the previous default (32-row tiles, 4 columns a lane) took
 * 28-29 ms for the forward and the input-grad, this one 19-20 ms.
 */
function wideDefault(op: GemmOp, M: number, N: number, S: number): GemmVariant {
  const pack: GemmVariant['pack'] = op === 'matmul' && N > 8 * S && (M >= 256 || N > 16 * S) ? true : 'B';
  return tileHeight({ family: 'bcast', tm: 64, ...(wideColumns(N, S) ? { tn: 8 } : {}), wg: 1, subgroup: S, pack, tex: true }, M);
}

/**
 * Whether 8 columns a lane (tiles of 8 S columns) serve N columns better than 4: where N fills such
 * tiles to within 15% of what 4 S-column tiles pad to. Interleaved with 4 columns against 8 (16 lanes,
 * medians of 5-7 rounds): the stem's input-grad (dcol, N = 147: 256 columns against 192) 1.10x and
 * 1.05x (`ab.js variant 0 dx`), matmuls 1024x512xN (`ab.js matmul`) N = 192 1.09x, 320 (384 against
 * 320) 1.19x, 448 (512 against 448) 0.94x.
 */
function wideColumns(N: number, S: number): boolean {
  if (laneColumnsMode !== 'auto') return laneColumnsMode === 8 && N >= 8 * S;
  const padded = (cols: number) => Math.ceil(N / cols) * cols;
  return N >= 8 * S && padded(8 * S) <= 1.15 * padded(4 * S);
}

/**
 * The untuned variant of a large product at 8 lanes where panels are storage textures (256-bit
 * lavapipe): 32-row tiles of 8 columns a lane, up to 4 subgroups a workgroup, B (and a matmul's A when
 * several row tiles share it) from texture panels. On 2 Zen 3 cores 1024^3 ran 25.1 GFLOP/s this way
 * against 13.5 for the previous 8-lane default (64-row tiles from buffer panels) and 14.5-16.5 for the
 * 16-lane texture variants; 2048^3 26.2 against 15.8 (bench/NOTES.md, "Storage-texture panels at 8 lanes").
 */
function storagePanelDefault(op: GemmOp, M: number, N: number, K: number, S: number): GemmVariant {
  // A from a texture too where K % 4 == 0 (a plain A is then copied, flat unless K % 64 == 0, not
  // packed), with fewer than 256 rows as well; interleaved against B panels only (`ab.js matmul`,
  // Zen 3, median of 5-7 rounds): 64x500x1000 1.13x (A flat); where K % 64 == 0 64x256x6272 (the 1x1
  // expand's input-grad) 1.28x, 128x128x3136 1.32x, 128x512x1568 1.15x, 32x2048x2048 1.45x,
  // 16x1024x1024 1.22x (M x K x N)
  const pack: GemmVariant['pack'] = op === 'matmul' && (M >= 256 || K % 4 === 0) && N > 8 * S ? true : 'B';
  // the most subgroups (4 down to 1) whose tiles pad at most 10% more rows than one subgroup's would:
  // ResNet's stage 5 at batch 2 (98 rows) ran 1.32x as fast with 4 (one 128-row tile) as with 3 (two
  // of 96), stage 4 (392 rows) 1.09-1.14x with 2 (448 rows) as with 4 (512) (`ab.js variant`, Zen 3)
  const padded = (wg: number) => Math.ceil(M / (32 * wg)) * 32 * wg;
  const wg = [4, 3, 2, 1].find((w) => padded(w) <= 1.1 * padded(1)) ?? 1;
  const tn = N >= 8 * S ? 8 : 4;
  const swap = rowTilesFirst(M, N, K, 32 * wg, tn * S);
  return { family: 'bcast', tm: 32, ...(tn === 8 ? { tn: 8 } : {}), wg, subgroup: S, pack, tex: true, ...(swap ? { swap } : {}) };
}

let laneColumnsMode: 'auto' | 4 | 8 = 'auto';

/**
 * Benchmarks and tests: the output columns a lane of the untuned 16-lane GEMMs, as the host CPU
 * decides ('auto': hostLaneColumns for large matmuls and 1x1 conv matmuls, wideColumns for the
 * rest) or always 4 or 8 (where N fills 8-column tiles at all).
 */
export function setLaneColumns(mode: 'auto' | 4 | 8): void {
  if (mode !== 'auto' && mode !== 4 && mode !== 8) throw new Error(`setLaneColumns: expected 'auto', 4 or 8, got ${String(mode)}`);
  laneColumnsMode = mode;
}

/**
 * Columns a lane for the untuned large 16-lane matmuls (64-row tiles, both operands from textures) on
 * a host CPU: 8 (two vec4 groups a broadcast A value feeds) on AMD's cores, where 2048^3 went from 58
 * to 74 GFLOP/s with it (Zen 4, commit 90045b3; on Zen 5, 2026-12-02, 4 columns ran 0.94x), and 4 on
 * Intel's: on a Sapphire Rapids Xeon (2026-12-01, `ab.js`, interleaved) 4 ran 2048^3 1.18x by median
 * (384.8 against 455.4 ms), 1024^3 1.05x, and the 1x1 expand's forward 1.16-1.21x.
 */
export function hostLaneColumns(c: CpuinfoFields | null): 4 | 8 {
  return c?.vendor === 'GenuineIntel' ? 4 : 8;
}

/** Columns a lane for the untuned wide 16-lane GEMMs (large matmuls, 1x1 conv matmuls): hostLaneColumns unless set. */
export function laneColumns16(): 4 | 8 {
  return laneColumnsMode === 'auto' ? hostLaneColumns(hostCpuinfo()) : laneColumnsMode;
}

let rowTilesFirstMode: 'auto' | 'on' | 'off' = 'auto';

/** Benchmarks and tests: the untuned 8-lane GEMMs' grid order by rowTilesFirst ('auto'), always row tiles first ('on') or never ('off'). */
export function setRowTilesFirst(mode: 'auto' | 'on' | 'off'): void {
  rowTilesFirstMode = mode;
}

/**
 * Whether a GEMM of rows x cols tiles should walk its row tiles first (variant `swap`): then the
 * workgroups that run one after another on a driver thread share B's column tile and stream A, instead of
 * sharing A's row tile and streaming all of B once per row tile.
 */
export function rowTilesFirst(M: number, N: number, K: number, rows: number, cols: number): boolean {
  if (rowTilesFirstMode !== 'auto') return rowTilesFirstMode === 'on';
  const gm = Math.ceil(M / rows);
  const gn = Math.ceil(N / cols);
  // floats read from memory under each order: B once per row tile, or A once per column tile; only
  // where B is far larger than a core's caches (8 MB): below that the order measured level
  return gm > 1 && K * N >= 1 << 21 && (gm - 1) * K * N > (gn - 1) * M * K;
}

/** Rows that a variant's tiles cover for M rows (a fit variant's tiles as short as its row count allows). */
function paddedRows(v: GemmVariant, M: number): number {
  return fitVariant(v, M).tm * Math.ceil(M / v.tm);
}

/**
 * The tile height for M rows among 64-row tiles and balanced tiles of up to 96 or 128 rows
 * (fitVariant): the one that pads the fewest rows, balanced 96 on a tie with 64. Interleaved A/Bs at
 * 16 lanes (batch 2, fastest of 9-15 rounds): balanced 96-row tiles ran the 3x3 weight-grads of stages
 * 2-5 (576-4608 rows, no padding either way) 1.07 / 1.07 / 1.08 / 1.07x as fast as 64-row ones and
 * stage 4's forward and input-grad (392 rows: 400 against 448) 1.07 / 1.15x; 98 rows keep one tile (of
 * 100 rows; two tiles from 96 ran stage 5's forward 0.84x), and stages 2-3 (6272, 1568 rows) 64-row tiles (level).
 */
function tileHeight(v: GemmVariant, M: number): GemmVariant {
  let best = v;
  const f96: GemmVariant = { ...v, tm: 96, fit: true };
  const f128: GemmVariant = { ...v, tm: 128, fit: true };
  if (paddedRows(f96, M) <= paddedRows(best, M)) best = f96;
  if (paddedRows(f128, M) < paddedRows(best, M)) best = f128;
  return best;
}

/** The variant for a GEMM of this shape: the tuned one if the cache has its class, else the default. */
export function chooseGemmVariant(op: GemmOp, M: number, N: number, K: number): GemmVariant {
  const c = loadCache();
  const hit = c?.gemm[shapeClass(op, M, N, K)];
  if (hit && validVariant(hit)) return hit;
  return defaultGemmVariant(op, M, N, K);
}

/** Whether a variant is one the GEMM generator accepts on this adapter (tuned cache entries are checked with it). */
export function validVariant(v: GemmVariant): boolean {
  const S = deviceContext().summary.subgroupSize;
  const packOk = v.pack === undefined || typeof v.pack === 'boolean' || v.pack === 'B';
  const tn = v.tn ?? 4;
  const packedB = v.pack === true || v.pack === 'B';
  if (v.family === 'bcast') {
    const colsOk = (tn === 4 || (tn === 8 && packedB)) && (!v.tex || (packedB && texturePanelsAt(S)));
    return packOk && colsOk && useBcast() && v.subgroup === S && v.tm % S === 0 && v.tm >= S && v.tm <= (v.fit ? 128 : 64) && v.wg >= 1 && v.wg * S <= 256;
  }
  if (v.family === 'tiled') return validTiled(v);
  return packOk && v.family === 'reg' && v.tm >= 1 && v.tm <= 16 && v.wg >= 1 && v.wg <= 16;
}

/** tiled: tm, tn in {4, 8}, bk in {8, 16}, and each tile's staging divides among 256 invocations. */
function validTiled(v: GemmVariant): boolean {
  const tn = v.tn ?? 4;
  const bk = v.bk ?? 16;
  const ok = (x: number) => x === 4 || x === 8;
  return ok(v.tm) && ok(tn) && (bk === 8 || bk === 16) && v.wg === 1 && (16 * v.tm * bk) % 1024 === 0 && (16 * tn * bk) % 1024 === 0;
}

/** The tiled family's candidate blockings (discrete GPUs): 64..128-wide tiles, k step 8 or 16. */
export function tiledVariants(): GemmVariant[] {
  return [[4, 4, 16], [8, 4, 16], [4, 8, 16], [8, 8, 8], [8, 8, 16]].map(([tm, tn, bk]) => ({ family: 'tiled', tm, wg: 1, subgroup: 1, ...(tn !== 4 ? { tn } : {}), ...(bk !== 16 ? { bk } : {}) }));
}

/** Candidate variants the tuner times for one shape (small, so tuning stays a few seconds per class). */
export function gemmCandidates(op: GemmOp, M: number, N: number, K: number): GemmVariant[] {
  const S = deviceContext().summary.subgroupSize;
  const out: GemmVariant[] = [defaultGemmVariant(op, M, N, K)];
  const add = (v: GemmVariant) => {
    if (!out.some((o) => JSON.stringify(o) === JSON.stringify(v))) out.push(v);
  };
  if (useBcast()) {
    const small = M < 32;
    const tms = small ? [S * Math.max(1, Math.ceil(M / S))] : [32 - (32 % S) || S, 64 - (64 % S)];
    // conv kernels unroll gathers, so each candidate costs seconds to compile: only B panels there
    const packs: GemmVariant['pack'][] = op === 'matmul' ? [false, 'B', true] : M < 1024 ? [false, 'B'] : ['B'];
    for (const tm of tms) {
      for (const pack of packs) {
        add({ family: 'bcast', tm, wg: tm >= 64 ? 1 : 2, subgroup: S, ...(pack ? { pack } : {}) });
      }
    }
    add({ family: 'bcast', tm: tms[tms.length - 1], wg: 1, subgroup: S, swap: true, ...(op === 'matmul' ? { pack: true } : { pack: 'B' as const }) });
    if (texturePanelsAt(S) && !small) {
      const pack = op === 'matmul' ? true : ('B' as const);
      // 8 lanes (storage-texture panels): 32-row tiles of 8 columns, 4 subgroups a workgroup
      if (S < 16) add({ family: 'bcast', tm: 32, ...(N >= 8 * S ? { tn: 8 } : {}), wg: 4, subgroup: S, pack, tex: true });
      add({ family: 'bcast', tm: 64, tn: 8, wg: 1, subgroup: S, pack, tex: true });
      add({ family: 'bcast', tm: 64, wg: 1, subgroup: S, pack, tex: true });
      // balanced tiles of up to 96 and 128 rows (a 7x7 map at batch 2: 98 rows, one tile of 100)
      for (const tm of [96, 128]) add({ family: 'bcast', tm, ...(N >= 8 * S ? { tn: 8 } : {}), wg: 1, subgroup: S, pack, tex: true, fit: true });
      // matmul: A read in place, B a texture copied as it is (no pack kernel at all where B is plain)
      if (op === 'matmul') {
        add({ family: 'bcast', tm: 32, wg: 2, subgroup: S, pack: 'B', tex: true });
        add({ family: 'bcast', tm: 64, tn: 8, wg: 1, subgroup: S, pack: 'B', tex: true });
      }
    }
    return out;
  }
  if (!deviceContext().summary.isSoftware) {
    tiledVariants().forEach(add);
    return out;
  }
  add({ family: 'tiled', tm: 4, wg: 1, subgroup: 1 });
  add({ family: 'reg', tm: 4, wg: 8, subgroup: 1, pack: 'B' });
  add({ family: 'reg', tm: 8, wg: 4, subgroup: 1 });
  return out;
}

/**
 * Times each candidate with `time(v)` (median milliseconds, provided by the caller, who owns the
 * data) and records the fastest for the shape's class. Returns all timings, best first.
 * Noise on a shared machine comes in bursts that only ever add time, so candidates are timed in
 * interleaved rounds (alternate rounds in reverse order) and each keeps its fastest round; after the
 * first round only candidates within 2x of the best are timed again (`rounds` = 1: one pass). With
 * 1.5x, a burst during the first timing of ResNet stage 5's weight-grad variant dropped it, and the
 * tuner kept one that an interleaved A/B then measured 1.21x slower (10.70 against 8.82 ms).
 */
export async function tuneGemm(op: GemmOp, M: number, N: number, K: number, time: (v: GemmVariant) => Promise<number>, candidates = gemmCandidates(op, M, N, K), rounds = 3): Promise<{ variant: GemmVariant; ms: number }[]> {
  const results: { variant: GemmVariant; ms: number }[] = [];
  for (const v of candidates) results.push({ variant: v, ms: await time(v) });
  for (let r = 1; r < rounds; r++) {
    const best = Math.min(...results.map((x) => x.ms));
    const order = r % 2 ? [...results].reverse() : results;
    for (const x of order) if (x.ms <= 2 * best) x.ms = Math.min(x.ms, await time(x.variant));
  }
  results.sort((a, b) => a.ms - b.ms);
  loadCache();
  if (!cache) cache = { adapter: adapterKey(), created: new Date().toISOString(), gemm: {} };
  cache.gemm[shapeClass(op, M, N, K)] = results[0].variant;
  saveCache();
  return results;
}

/** True when a tuned choice exists for the shape's class. */
export function isTuned(op: GemmOp, M: number, N: number, K: number): boolean {
  return Boolean(loadCache()?.gemm[shapeClass(op, M, N, K)]);
}

/** Forgets the in-memory cache (tests; the file is untouched). */
export function resetTuneCache(): void {
  cache = null;
  cacheLoaded = false;
}

export function describeVariant(v: GemmVariant): string {
  const pack = v.pack === 'B' ? ' packB' : v.pack ? ' packed' : '';
  if (v.family === 'tiled') return `tiled ${16 * v.tm}x${16 * (v.tn ?? 4)}x${v.bk ?? 16}`;
  const cols = v.tn && v.tn !== 4 ? ` tn${v.tn}` : '';
  return (v.family === 'bcast' ? `bcast tm${v.fit ? '<=' : ''}${v.tm}${cols} wg${v.wg} sg${v.subgroup}` : `reg tm${v.tm} wg${v.wg}`) + (v.swap ? ' swap' : '') + pack + (v.tex ? ' tex' : '') + (v.dyn ? ' dyn' : '');
}
