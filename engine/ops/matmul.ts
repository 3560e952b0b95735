// Matrix products: the GEMM kernel generator every product op uses (matmul, linear, and conv2d's
// forward / input-grad / weight-grad as implicit GEMMs), plus matmul (2-D, batched with
// broadcasting, 1-D operands as in torch.matmul) and linear.
// Templates: shaders/matmul_gemm.wgsl (subgroup-broadcast and register-blocked families),
// shaders/matmul_tiled.wgsl (workgroup-memory tiles, for discrete GPUs), shaders/matmul_pack.wgsl
// (panel packing), shaders/matmul_naive.wgsl (the naive reference the benchmark compares against).
// The op describes its operands with a GemmSpec (how an element of A and a vec4 of B are loaded, how C
// is stored); kernels of every family, and the pack kernels, are generated from that one description.
// Transposed or otherwise strided operands are read through their strides; the packed variants copy
// them into tile-major panels (a layout transform inside the product, as BLAS libraries do), never into
// a contiguous copy of the operand. The variant (family, rows per tile, subgroups per workgroup,
// operand panels, grid order) is chosen per adapter by engine/tune.ts.
import { copyBufferToTexture, dispatch, type Binding } from '../commands.js';
import { acquireTexture, releaseTexture, textureView } from '../memory.js';
import { deviceContext } from '../device.js';
import { kernel, panelBinding, renderTemplate, shaderSource, texturePanelsAt, type Kernel } from '../kernels.js';
import { broadcastShapes, fmtShape, numel } from '../shape.js';
import { empty, record, Tensor } from '../tensor.js';
import { chooseGemmVariant, fitVariant, type GemmVariant } from '../tune.js';
import { add, copy } from './elementwise.js';
import { flatBufferTexture, flatTextureLayout, wrapWidth } from './flat_texture.js';
import { sum, sumTo } from './reduce.js';
import { expand, reshape, transpose } from './shape.js';
import { gcd } from './conv_geometry.js';

export type { GemmVariant } from '../tune.js';

/** A GEMM-family template with the shared head (shaders/matmul_common.wgsl) spliced in. */
function gemmTemplate(name: 'matmul_gemm' | 'matmul_tiled' | 'matmul_pack'): string {
  return shaderSource(name).replace('{{GEMM_COMMON}}', shaderSource('matmul_common'));
}

/**
 * How an op's operands map onto C = A @ B (A: M x K, B: K x N). Generated WGSL may use: `p.<field>`
 * (uniform params: M, N, K and the spec's own), `batch`, `split`, `m0`, `n0`, `nc0..nc3` (columns
 * n0..n0+3 clamped to N - 1), and the names the spec's own snippets define.
 */
export interface GemmSpec {
  /** Names every value baked into the generated code besides the variant (kernel cache key). */
  key: string;
  /** Extra u32 uniform fields, in order (their values follow M, N, K, ... in `gemm()`'s params). */
  params: string[];
  /** Storage declarations bound at 1..n, e.g. 'var<storage, read_write> c: array<f32>'. */
  bindings: string[];
  /** Statements run once per invocation before the k loop (after batch, split, m0, n0, nc*). */
  prologue?: string;
  /** Statements for A row slot j, whose (clamped) row index is the u32 variable `row`. */
  rowPrep(j: number, row: string): string;
  /** Statements computing what the loads of k index `k` (a u32 expression) need, for slot q = 0..3. */
  kPrep?(q: number, k: string): string;
  /** f32 expression: A[row of slot j][k of slot q]. */
  loadA(j: number, q: number, k: string): string;
  /** Optional vec4 expression: A[row of slot j][k .. k + 3] (k a multiple of 4), used instead of 4 loadA. */
  loadA4?(j: number, k: string): string;
  /** K is padded to a multiple of 4 with zeros by the operand layout: no tail step is generated. */
  noTail?: boolean;
  /** Statements run once before the k loop for the 4 columns n0..n0+3 (clamped: nc0..nc3). */
  colPrep?: string;
  /** vec4<f32> expression: B[k of slot q][n0 .. n0 + 3]. */
  loadB(q: number, k: string): string;
  /**
   * Optional vec4<f32> expression: B[k .. k + 3][col] for one column `col` (a clamped u32 expression),
   * k a multiple of 4 with all 4 below K: B read down its columns from a texture the op provides
   * (BOperand layout 'spec'), regrouped into rows by the template.
   */
  loadBk4?(col: string, k: string): string;
  /** A statement storing f32 `v` at C[m][n] (m < M and n < N are guaranteed); `col` suffixes storeCol's names for column n. */
  store1(m: string, n: string, v: string, col: string): string;
  /**
   * Statements computing what the stores of column `n` (clamped below N) need, e.g. its bias, in names
   * suffixed by `col`: run once per column a lane stores (bcast, reg), not once per stored element.
   */
  storeCol?(n: string, col: string): string;
  /** Statements run once per stored row `m` before its store1 calls. */
  storeRowPrep?(m: string): string;
  /**
   * Optional vec4 store (bcast family), used when the op passes GemmDims.store4 because the output's
   * layout allows it: 'cols' stores C[m][n .. n+3] (a lane's 4 columns), 'rows' stores C[m .. m+3][n]
   * (4 rows of one column, m a multiple of 4). `binding` replaces the output's declaration (binding
   * 1) with a vec4 array; `rowPrep` runs once per stored row (of 4 for 'rows') before the stores.
   * One 16-byte store instead of 4 scalar ones: lavapipe issues every storage access per lane and component.
   */
  store4?: { along: 'cols' | 'rows'; binding: string; rowPrep?(m: string): string; store(m: string, n: string, v: string, col: string): string };
  /** Extra WGSL functions. */
  functions?: string;
}

const ACC = (r: number) => `acc${r}`;
const HEADER_FIELDS = 20; // M, N, K, kChunk, nb, splits, mOff, splitBase, kOff, K4, MT, NT, texShift, k0, bRows, aRows, aStride4, aShift, bStride4, bShift

function paramsDecl(spec: GemmSpec): string {
  const fields = spec.params.map((n) => `  ${n}: u32,`);
  const pad = (4 - (spec.params.length % 4)) % 4;
  for (let i = 0; i < pad; i++) fields.push(`  _q${i}: u32,`);
  return fields.join('\n');
}

/** The spec's bindings and `extra` from binding 1 on, panel textures in this adapter's form with their load functions (panelBinding). */
function bindingDecls(spec: GemmSpec, extra: string[] = []): string {
  const bound = [...spec.bindings, ...extra].map(panelBinding);
  return [...bound.map((b, i) => `@group(0) @binding(${i + 1}) ${b.decl};`), ...bound.map((b) => b.fn).filter(Boolean)].join('\n');
}

/** `_ = &x;` (`_ = t;` for a texture) for every spec binding: keeps each declared binding in the layout whatever the code reads. */
function bindingUses(spec: GemmSpec): string {
  return spec.bindings
    .map((b) => {
      const name = /var(?:<[^>]*>)?\s+(\w+)\s*:/.exec(b)?.[1];
      return name ? `  _ = ${/:\s*texture/.test(b) ? '' : '&'}${name};` : '';
    })
    .filter(Boolean)
    .join('\n');
}

/** Column groups (of 4) per lane: bcast variants with packed B may keep 8 columns a lane. */
function groupsOf(v: GemmVariant): number {
  return v.family === 'bcast' ? (v.tn ?? 4) / 4 : 1;
}

/** Column groups of 4 a workgroup covers: the B panel's width per column tile. */
function lanesOf(v: GemmVariant): number {
  return v.family === 'bcast' ? v.subgroup * groupsOf(v) : v.family === 'tiled' ? 16 : 8;
}

export type GemmSource = 'direct' | 'packB' | 'packed';

export function sourceOf(v: GemmVariant): GemmSource {
  return v.pack === 'B' ? 'packB' : v.pack ? 'packed' : 'direct';
}

/**
 * B read from a texture that is a straight copy of the operand itself (no pack kernel): 'kn' when B
 * is row-major K x N per batch (texel (n / 4, batch rows + k)), 'nk' when it is stored N x K (texel
 * (k / 4, batch rows + n); a lane's 4 texels of 4 k each are its 4 k rows of 4 columns, regrouped);
 * 'spec' when the op's spec reads B down its columns itself (GemmSpec.loadBk4, from a texture among
 * its own bindings), regrouped the same way, with A direct and no tail step (K % 4 == 0).
 */
export type BTexture = 'kn' | 'nk' | 'spec';

/**
 * How an operand's texture copy is laid out where it is not one texture row per matrix row: 'flat'
 * (flat_texture.ts: texel t = elements 4t .. 4t + 3 of the operand's run, wrapped into rows of 2^shift
 * texels) or 'slabs' (its texel columns cut into slabs of 2^shift texels stacked one under the other:
 * texel (c, r) at (c mod 2^shift, (c >> shift) * rows + r); see slabLayout) or 'tiles' (a 'kn' B cut into
 * slabs one column tile wide, L texels, each slab's rows paired 2^shift to a texture row so that a tile's
 * panel is contiguous: texel (c, r) at ((r mod 2^shift) * L + c mod L, (c / L) * rows + r >> shift); see
 * tileSlabLayout).
 */
export type CopyLayout = 'flat' | 'slabs' | 'tiles';
export interface FlatCopies {
  a?: CopyLayout;
  b?: CopyLayout;
}

/** Renders the GEMM kernel for a spec, a blocking variant and an operand source. */
export function gemmSource(spec: GemmSpec, v: GemmVariant, source: GemmSource = sourceOf(v), btex?: BTexture, atex = false, store4 = false, flat: FlatCopies = {}): string {
  if (v.family === 'tiled') return tiledSource(spec, v);
  const s4 = store4 && v.family === 'bcast' ? spec.store4 : undefined;
  const outSpec = s4 ? { ...spec, bindings: [s4.binding, ...spec.bindings.slice(1)] } : spec;
  const S = v.family === 'bcast' ? v.subgroup : 1;
  const L = lanesOf(v);
  const TM = v.tm;
  // A rows loaded per invocation; a bcast tile whose height is not a multiple of S has a partial last
  // slot, whose lanes past the tile (lane >= TM % S) load clamped rows that are never broadcast
  const slots = v.family === 'bcast' ? Math.ceil(TM / S) : TM;
  const isPartial = (j: number) => TM % S > 0 && j === slots - 1;
  if (v.family === 'bcast' && (TM % 4 !== 0 || TM < 4 || S < 1)) throw new Error(`gemm: tm ${TM} must be a positive multiple of 4`);
  const packed = source === 'packed';
  const packB = source === 'packB';
  const G = groupsOf(v);
  const tex = Boolean(v.tex) && (packed || packB);
  const direct = tex ? btex : undefined;
  // packed A read from a texture copy of a plain row-major A: texel (k / 4, batch * aRows + row)
  const aTex = packed && tex && atex;
  // a copied operand's texel holding elements [4 c, 4 c + 4) of its row r: (c, r), in a flat copy
  // t = r * stride4 + c at (t mod 2^shift, t >> shift), in a slab copy (c mod 2^shift, (c >> shift) * rows + r)
  const aLayout = aTex ? flat.a : undefined;
  const bLayout = direct === 'kn' || direct === 'nk' ? flat.b : undefined;
  const coordIn = (layout: CopyLayout | undefined, x: 'a' | 'b') => (col: string, row: string) =>
    layout === 'flat' ? `flatCoord((${row}) * p.${x}Stride4 + ${col}, p.${x}Shift)` : layout === 'slabs' ? `slabCoord(${col}, ${row}, ${x}SlabRows, ${x}SlabShift)` : `vec2<u32>(${col}, ${row})`;
  const aCoord = coordIn(aLayout, 'a');
  const bCoord = coordIn(bLayout, 'b');
  const specB = btex === 'spec';
  if (specB && (packed || packB || v.tex || !spec.loadBk4)) throw new Error('gemm: internal: B read by the spec needs A direct, no panels and spec.loadBk4');
  if ((G > 1 || v.tex) && !(packed || packB) && !specB) throw new Error('gemm: 8 columns a lane and texture panels need a packed B operand');
  const dyn = Boolean(v.dyn) && v.family === 'bcast' && !v.swap;
  const [tn, tmx] = dyn ? ['dynX', ''] : v.swap ? ['wid.y', 'wid.x'] : ['wid.x', 'wid.y'];
  // dyn: each subgroup takes its tile (column tile, row tile of TM rows, z) from the counter, in the
  // grid's order; lane 0 takes it and the subgroup shares it. The grid has more subgroups than tiles:
  // those that find none left return.
  const tileId = dyn
    ? [
        'var dynTaken = 0u;',
        'if (sgLane == 0u) { dynTaken = atomicAdd(&tileCount[0], 1u); }',
        'let dynT = subgroupBroadcast(dynTaken, 0u);',
        `let dynRows = (p.M + ${TM - 1}u) / ${TM}u;`,
        'let dynTiles = nwg.x * dynRows * nwg.z;',
        'if (dynT >= dynTiles) {',
        '  // the last subgroup to find no tile left resets the counters for the next dispatch',
        `  if (sgLane == 0u && atomicAdd(&tileCount[1], 1u) == nwg.x * nwg.y * nwg.z * ${v.wg}u - dynTiles - 1u) { atomicStore(&tileCount[0], 0u); atomicStore(&tileCount[1], 0u); }`,
        '  return;',
        '}',
        'let dynX = dynT % nwg.x;',
        'let dynY = (dynT / nwg.x) % dynRows;',
        'let zid = dynT / (nwg.x * dynRows);',
      ]
    : ['let zid = wid.z;'];
  const tile =
    v.family === 'bcast'
      ? [`let lane = sgLane;`, `let sg = li / ${S}u;`, dyn ? `let m0 = dynY * ${TM}u;` : `let m0 = (${tmx} * ${v.wg}u + sg) * ${TM}u;`, `let n0 = (${tn} * ${L}u + lane) * 4u;`]
      : [`let lx = li % 8u;`, `let ly = li / 8u;`, `let m0 = (${tmx} * ${v.wg}u + ly) * ${TM}u;`, `let n0 = (${tn} * 8u + lx) * 4u;`];
  const slotExpr = (j: number) => (v.family === 'bcast' ? `${j * S}u + lane` : `${j}u`);
  const rowPrep: string[] = [];
  // texture panel: the buffer panel's texel order (column tile after column tile, k rows of L texels
  // each) wrapped into rows of L << texShift texels, so a column tile's k rows stay contiguous in memory
  const directPrep = ['let tbr = batch * p.bRows;'];
  const texPrep = ['let tq = (batch * p.NT + n0 / ' + `${4 * L}u) * 4u * p.K4;`, 'let tMask = (1u << p.texShift) - 1u;', `let tx = (n0 / 4u) % ${L}u;`];
  if (packed) {
    if (aTex) rowPrep.push('let abr = batch * p.aRows;');
    else rowPrep.push(`let pa = (batch * p.MT + m0 / ${TM}u) * p.K4 * ${TM}u;`);
    rowPrep.push(`let pb = (batch * p.NT + n0 / ${4 * L}u) * 4u * p.K4 * ${L}u + (n0 / 4u) % ${L}u;`);
    if (tex) rowPrep.push(...(direct ? directPrep : texPrep));
    for (let j = 0; j < slots; j++) rowPrep.push(aTex ? `let ar${j} = abr + min(m0 + ${slotExpr(j)}, p.M - 1u) + p.mOff;` : `let ar${j} = pa + ${isPartial(j) ? `min(${slotExpr(j)}, ${TM - 1}u)` : slotExpr(j)};`);
  } else {
    if (packB) rowPrep.push(`let pb = (batch * p.NT + n0 / ${4 * L}u) * 4u * p.K4 * ${L}u + (n0 / 4u) % ${L}u;`);
    if (packB && tex) rowPrep.push(...(direct ? directPrep : texPrep));
    for (let j = 0; j < slots; j++) {
      const rowExpr = v.family === 'bcast' ? `m0 + ${j * S}u + lane` : `m0 + ${j}u`;
      rowPrep.push(`let row${j} = min(${rowExpr}, p.M - 1u) + p.mOff;`);
      rowPrep.push(spec.rowPrep(j, `row${j}`));
    }
    // the lane's columns (group g: 4 S columns after group g - 1), clamped, for B read down its columns
    if (specB) for (let g = 0; g < G; g++) for (let j = 0; j < 4; j++) rowPrep.push(`let bcol${g}_${j} = min(n0 + ${j + 4 * S * g}u, p.N - 1u);`);
  }
  // slab copies: their uniforms read once here, not in the k loop (inside it each read costs: 2048^3
  // ran 1.05x as fast with them hoisted); a 'kn' B's slab column and first row per lane column group
  for (const [x, layout] of [['a', aLayout], ['b', bLayout]] as const) {
    if (layout === 'slabs') rowPrep.push(`let ${x}SlabRows = p.${x}Stride4;`, `let ${x}SlabShift = p.${x}Shift;`, `let ${x}SlabMask = (1u << ${x}SlabShift) - 1u;`);
  }
  if (bLayout === 'slabs' && direct === 'kn') {
    for (let g = 0; g < G; g++) rowPrep.push(`let bsc${g} = n0 / 4u + ${g * S}u;`, `let bsx${g} = bsc${g} & bSlabMask;`, `let bsy${g} = (bsc${g} >> bSlabShift) * bSlabRows + tbr + p.k0;`);
  }
  // a 'kn' B in column-tile slabs: the lane's texel column in its slab and the slab's first texture row
  if (bLayout === 'tiles' && direct === 'kn') {
    rowPrep.push('let bTileRows = p.bStride4;', 'let bPairShift = p.bShift;', 'let bPairMask = (1u << bPairShift) - 1u;', 'let btr0 = tbr + p.k0;');
    for (let g = 0; g < G; g++) rowPrep.push(`let bsc${g} = n0 / 4u + ${g * S}u;`, `let bsx${g} = bsc${g} % ${L}u;`, `let bsy${g} = (bsc${g} / ${L}u) * bTileRows;`);
  }
  if (bLayout === 'tiles' && direct !== 'kn') throw new Error("gemm: internal: column-tile slabs are for a 'kn' B");
  const acc = (r: number, g: number) => (g === 0 ? ACC(r) : `${ACC(r)}_${g}`);
  const accs: string[] = [];
  for (let g = 0; g < G; g++) for (let r = 0; r < TM; r++) accs.push(`var ${acc(r, g)} = vec4<f32>(0.0);`);
  const bName = (q: number, g: number) => (g === 0 ? `b${q}` : `b${q}_${g}`);
  // a panel load of B row `k` (relative to the panel's first k, p.k0 in B) for column group g
  const panelB = (k: string, g: number) =>
    direct === 'kn' && bLayout === 'tiles'
      ? `bitcast<vec4<f32>>(bt_texel(vec2<u32>(((btr0 + ${k}) & bPairMask) * ${L}u + bsx${g}, bsy${g} + ((btr0 + ${k}) >> bPairShift))))`
      : direct === 'kn'
      ? `bitcast<vec4<f32>>(bt_texel(${bLayout === 'slabs' ? `vec2<u32>(bsx${g}, bsy${g} + ${k})` : bCoord(`n0 / 4u + ${g * S}u`, `tbr + p.k0 + ${k}`)}))`
      : tex
      ? `bitcast<vec4<f32>>(bt_texel(vec2<u32>(((tq + ${k}) & tMask) * ${L}u + tx${g ? ` + ${g * S}u` : ''}, (tq + ${k}) >> p.texShift)))`
      : `bp[pb + ${k} * ${L}u${g ? ` + ${g * S}u` : ''}]`;
  // 'nk': B rows k .. k + 3 of group g from the 4 texels of its 4 columns (k a multiple of 4)
  const nkRows = (k: string, g: number, guard: (q: number, e: string) => string): string[] => {
    const t = (j: number) => `t${j}_${g}`;
    const rows = [0, 1, 2, 3].map((j) => `let ${t(j)} = bt_texel(${bCoord(`(p.k0 + ${k}) / 4u`, `tbr + min(n0 + ${j + 4 * S * g}u, p.N - 1u)`)});`);
    for (let q = 0; q < 4; q++) {
      const c = 'xyzw'[q];
      rows.push(`let ${bName(q, g)} = ${guard(q, `bitcast<vec4<f32>>(vec4<u32>(${t(0)}.${c}, ${t(1)}.${c}, ${t(2)}.${c}, ${t(3)}.${c}))`)};`);
    }
    return rows;
  };
  const step = (tail: boolean): string => {
    const out: string[] = [];
    const kq = (q: number) => (tail ? `kq${q}` : q === 0 ? 'k' : `(k + ${q}u)`);
    if (packed) {
      // a slab copy of A: the step's texel column and slab row, once for every row slot
      if (aLayout === 'slabs') out.push('let akc = (p.k0 + k) / 4u;', 'let akx = akc & aSlabMask;', 'let aky = (akc >> aSlabShift) * aSlabRows;');
      const aAt = (j: number) => (aLayout === 'slabs' ? `vec2<u32>(akx, aky + ar${j})` : aCoord('(p.k0 + k) / 4u', `ar${j}`));
      for (let j = 0; j < slots; j++) out.push(aTex ? `let a${j} = bitcast<vec4<f32>>(at_texel(${aAt(j)}));` : `let a${j} = ap[ar${j} + (k / 4u) * ${TM}u];`);
      for (let g = 0; g < G; g++) {
        if (direct === 'nk') out.push(...nkRows('k', g, (_q, e) => e));
        else for (let q = 0; q < 4; q++) out.push(`let ${bName(q, g)} = ${panelB(kq(q), g)};`);
      }
    } else {
      if (tail) for (let q = 0; q < 4; q++) out.push(`let kq${q} = min(k + ${q}u, kEnd - 1u);`, `let kv${q} = k + ${q}u < kEnd;`);
      if (spec.kPrep) for (let q = 0; q < 4; q++) out.push(spec.kPrep(q, kq(q)));
      const guardA = (q: number, e: string) => (tail ? `select(0.0, ${e}, kv${q})` : e);
      const guardB = (q: number, e: string) => (tail ? `select(vec4<f32>(0.0), ${e}, kv${q})` : e);
      for (let j = 0; j < slots; j++) {
        if (spec.loadA4 && !tail) out.push(`let a${j} = ${spec.loadA4(j, 'k')};`);
        else out.push(`let a${j} = vec4<f32>(${[0, 1, 2, 3].map((q) => guardA(q, spec.loadA(j, q, kq(q)))).join(', ')});`);
      }
      if (specB) {
        // 4 columns' vec4s of 4 k each, regrouped into 4 k rows of 4 columns (as 'nk')
        for (let g = 0; g < G; g++) {
          for (let j = 0; j < 4; j++) out.push(`let s${j}_${g} = ${spec.loadBk4!(`bcol${g}_${j}`, 'k')};`);
          for (let q = 0; q < 4; q++) {
            const c = 'xyzw'[q];
            out.push(`let ${bName(q, g)} = vec4<f32>(s0_${g}.${c}, s1_${g}.${c}, s2_${g}.${c}, s3_${g}.${c});`);
          }
        }
      } else if (direct === 'nk') {
        // K % 4 == 0 here, so the tail step never runs; it is generated (and guarded) all the same
        for (let g = 0; g < G; g++) out.push(...nkRows(`(k - p.kOff)`, g, guardB));
      } else {
        for (let q = 0; q < 4; q++) {
          for (let g = 0; g < G; g++) {
            const bq = packB ? panelB(`(${kq(q)} - p.kOff)`, g) : spec.loadB(q, kq(q));
            out.push(`let ${bName(q, g)} = ${guardB(q, bq)};`);
          }
        }
      }
    }
    for (let r = 0; r < TM; r++) {
      const av = v.family === 'bcast' ? `subgroupBroadcast(a${Math.floor(r / S)}, ${r % S}u)` : `a${r}`;
      const upd = [...Array(G).keys()].map((g) => `${acc(r, g)} = ${acc(r, g)} + v.x * ${bName(0, g)} + v.y * ${bName(1, g)} + v.z * ${bName(2, g)} + v.w * ${bName(3, g)};`);
      out.push(`{ let v = ${av}; ${upd.join(' ')} }`);
    }
    return indent(out.join('\n'), 4);
  };
  const store: string[] = [];
  const vec4Of = (r: number, g: number, c: string) => `vec4<f32>(${[0, 1, 2, 3].map((i) => `${acc(r + i, g)}.${c}`).join(', ')})`;
  // the lane's columns: group, component, offset from n0; storeCol's names get the suffix colId(off)
  const cols = [...Array(G).keys()].flatMap((g) => [0, 1, 2, 3].map((i) => ({ g, i, off: 4 * S * g + i })));
  const colExpr = (off: number) => (off === 0 ? 'n0' : `(n0 + ${off}u)`);
  const colId = (off: number) => `_c${off}`;
  if (spec.storeCol) for (const { off } of cols) store.push(indent(spec.storeCol(`min(${colExpr(off)}, p.N - 1u)`, colId(off)), 2));
  const rowStep = s4?.along === 'rows' ? 4 : 1;
  const storeRow = s4 ? s4.rowPrep : spec.storeRowPrep;
  for (let r = 0; r < TM; r += rowStep) {
    store.push(`  { let ml = m0 + ${r}u; if (ml < p.M) {`, `    let m = ml + p.mOff;`);
    if (storeRow) store.push(indent(storeRow('m'), 4));
    for (const { g, i, off } of cols) {
      const n = colExpr(off);
      const id = colId(off);
      if (s4?.along === 'cols') {
        if (i === 0) store.push(`    if (${n} < p.N) { ${s4.store('m', n, acc(r, g), id)} }`);
      } else if (s4?.along === 'rows') {
        store.push(`    if (${n} < p.N) { ${s4.store('m', n, vec4Of(r, g, 'xyzw'[i]), id)} }`);
      } else {
        store.push(`    if (${n} < p.N) { ${spec.store1('m', n, `${acc(r, g)}.${'xyzw'[i]}`, id)} }`);
      }
    }
    store.push(`  } }`);
  }
  const bPanel = tex ? 'var bt: texture_2d<u32>' : 'var<storage, read> bp: array<vec4<f32>>';
  const panels = packed ? [aTex ? 'var at: texture_2d<u32>' : 'var<storage, read> ap: array<vec4<f32>>', bPanel] : packB ? [bPanel] : [];
  if (dyn) panels.push('var<storage, read_write> tileCount: array<atomic<u32>, 2>');
  return renderTemplate(gemmTemplate('matmul_gemm'), {
    FAMILY: v.family,
    SOURCE: [source, aTex ? `A a ${aLayout ? `${aLayout} ` : ''}texture copy` : '', direct ? `B a ${bLayout ? `${bLayout} ` : ''}texture copy (${direct})` : '', specB ? 'B read down its columns by the op' : ''].filter(Boolean).join(', '),
    ENABLE: v.family === 'bcast' ? `enable subgroups;${dyn ? '\ndiagnostic(off, subgroup_uniformity);' : ''}` : '',
    PARAMS: paramsDecl(spec),
    BINDINGS: bindingDecls(outSpec, panels),
    FUNCTIONS: [spec.functions ?? '', aLayout === 'flat' || bLayout === 'flat' ? FLAT_COORD : '', aLayout === 'slabs' || bLayout === 'slabs' ? SLAB_COORD : ''].filter(Boolean).join('\n'),
    WGSIZE: v.family === 'bcast' ? S * v.wg : 8 * v.wg,
    LANE_BUILTIN: v.family === 'bcast' ? `, @builtin(subgroup_invocation_id) sgLane: u32${dyn ? ', @builtin(num_workgroups) nwg: vec3<u32>' : ''}` : '',
    TILE_ID: indent(tileId.join('\n'), 2),
    TILE: indent(tile.join('\n'), 2),
    PROLOGUE: indent([spec.prologue ?? '', packed || packB ? '' : spec.colPrep ?? ''].join('\n'), 2),
    ROWPREP: indent(rowPrep.join('\n'), 2),
    ACCS: indent(accs.join('\n'), 2),
    STEP: step(false),
    TAIL: packed || spec.noTail || specB ? '' : step(true),
    STORE: store.join('\n'),
    USES: bindingUses(outSpec),
  });
}

/** The tiled family's blocking: rows and columns per invocation (4 or 8) and the k step (8 or 16). */
export function tiledShape(v: GemmVariant): { TM: number; TN: number; BK: number; BM: number; BN: number } {
  const TM = v.tm;
  const TN = v.tn ?? 4;
  const BK = v.bk ?? 16;
  return { TM, TN, BK, BM: 16 * TM, BN: 16 * TN };
}

/** Renders the workgroup-memory tiled GEMM (discrete GPUs) for a spec: shaders/matmul_tiled.wgsl. */
export function tiledSource(spec: GemmSpec, v: GemmVariant): string {
  const { TM, TN, BK, BM, BN } = tiledShape(v);
  const BK4 = BK / 4;
  const BM4 = BM / 4;
  const BN4 = BN / 4;
  const aSlots = (BM * BK4) / 256; // A vec4s (4 k of one row) each invocation loads per step
  const bSlots = (BK * BN4) / 256; // B vec4s (4 columns of one k row) each invocation loads per step
  if (!Number.isInteger(aSlots) || !Number.isInteger(bSlots) || aSlots < 1 || bSlots < 1) {
    throw new Error(`gemm: tiled ${BM}x${BN}x${BK} does not divide among 256 invocations`);
  }
  const aRowStep = 256 / BK4;
  const bRowStep = 256 / BN4;
  const rowPrep: string[] = [];
  for (let j = 0; j < aSlots; j++) {
    rowPrep.push(`let row${j} = min(mTile + t / ${BK4}u + ${j * aRowStep}u, p.M - 1u) + p.mOff;`, spec.rowPrep(j, `row${j}`));
  }
  const regs = [...[...Array(aSlots).keys()].map((j) => `var av${j}: vec4<f32>;`), ...[...Array(bSlots).keys()].map((i) => `var bv${i}: vec4<f32>;`)];
  const loads: string[] = ['let kA = k0 + 4u * la;'];
  for (let q = 0; q < 4; q++) {
    loads.push(`let kq${q} = min(kA + ${q}u, kEnd - 1u);`);
    if (spec.kPrep) loads.push(spec.kPrep(q, `kq${q}`));
  }
  for (let j = 0; j < aSlots; j++) {
    loads.push(`av${j} = vec4<f32>(${[0, 1, 2, 3].map((q) => `select(0.0, ${spec.loadA(j, q, `kq${q}`)}, kA + ${q}u < kEnd)`).join(', ')});`);
  }
  for (let i = 0; i < bSlots; i++) {
    const q = 4 + i;
    loads.push(`let kB${i} = k0 + lk + ${i * bRowStep}u;`, `let kq${q} = min(kB${i}, kEnd - 1u);`);
    if (spec.kPrep) loads.push(spec.kPrep(q, `kq${q}`));
    loads.push(`bv${i} = select(vec4<f32>(0.0), ${spec.loadB(q, `kq${q}`)}, kB${i} < kEnd);`);
  }
  const stage: string[] = [];
  for (let j = 0; j < aSlots; j++) {
    stage.push(`{ let r = t / ${BK4}u + ${j * aRowStep}u; let ai = (4u * la) * ${BM4}u + r / 4u; let ac = r % 4u;`);
    for (let q = 0; q < 4; q++) stage.push(`  As[ai + ${q * BM4}u][ac] = av${j}[${q}];`);
    stage.push('}');
  }
  for (let i = 0; i < bSlots; i++) stage.push(`Bs[(lk + ${i * bRowStep}u) * ${BN4}u + t % ${BN4}u] = bv${i};`);
  const acc = (rb: number, r: number, cb: number) => `acc${rb * 4 + r}_${cb}`;
  const accs: string[] = [];
  for (let rb = 0; rb < TM / 4; rb++) for (let r = 0; r < 4; r++) for (let cb = 0; cb < TN / 4; cb++) accs.push(`var ${acc(rb, r, cb)} = vec4<f32>(0.0);`);
  const compute: string[] = [];
  for (let kk = 0; kk < BK; kk++) {
    const line: string[] = [];
    for (let rb = 0; rb < TM / 4; rb++) line.push(`let a${rb} = As[${kk * BM4}u + ty + ${rb * 16}u];`);
    for (let cb = 0; cb < TN / 4; cb++) line.push(`let b${cb} = Bs[${kk * BN4}u + tx + ${cb * 16}u];`);
    for (let rb = 0; rb < TM / 4; rb++)
      for (let r = 0; r < 4; r++) for (let cb = 0; cb < TN / 4; cb++) line.push(`${acc(rb, r, cb)} = fma(vec4<f32>(a${rb}[${r}]), b${cb}, ${acc(rb, r, cb)});`);
    compute.push(`{ ${line.join(' ')} }`);
  }
  const store: string[] = [];
  for (let rb = 0; rb < TM / 4; rb++) {
    for (let r = 0; r < 4; r++) {
      store.push(`  { let ml = m0 + ${rb * 64 + r}u; if (ml < p.M) {`, `    let m = ml + p.mOff;`);
      if (spec.storeRowPrep) store.push(indent(spec.storeRowPrep('m'), 4));
      for (let cb = 0; cb < TN / 4; cb++) {
        ['x', 'y', 'z', 'w'].forEach((c, i) => {
          const n = `(n0 + ${cb * 64 + i}u)`;
          store.push(`    if (${n} < p.N) { ${spec.storeCol ? `${spec.storeCol(n, '_t')} ` : ''}${spec.store1('m', n, `${acc(rb, r, cb)}.${c}`, '_t')} }`);
        });
      }
      store.push(`  } }`);
    }
  }
  return renderTemplate(gemmTemplate('matmul_tiled'), {
    PARAMS: paramsDecl(spec),
    BINDINGS: bindingDecls(spec),
    FUNCTIONS: spec.functions ?? '',
    AS_SIZE: BK * BM4,
    BS_SIZE: BK * BN4,
    BM,
    BN,
    BK,
    BK4,
    BN4,
    PROLOGUE: indent([spec.prologue ?? '', spec.colPrep ?? ''].join('\n'), 2),
    ROWPREP: indent(rowPrep.join('\n'), 2),
    ACCS: indent(accs.join('\n'), 2),
    REGS: indent(regs.join('\n'), 2),
    LOADS: indent(loads.join('\n'), 6),
    STAGE: indent(stage.join('\n'), 4),
    COMPUTE: indent(compute.join('\n'), 4),
    STORE: store.join('\n'),
    USES: bindingUses(spec),
  });
}

/** k rows of B a pack workgroup writes (one row: 0.96-1.0 ms for the stage-2 weight-grad's B, 6272 workgroups). */
const PACK_B_ROWS = 16;
/**
 * vec4 steps of k an A pack workgroup writes per row slot: one a workgroup packed the 1x1 expand's x
 * (6272 x 64) in 4.6 ms at 8 lanes (3136 workgroups of fixed cost each on a CPU driver), 16 in 3.5.
 */
const PACK_A_STEPS = 16;

/** Renders the kernel packing operand A (row slots of TM) or B (L lanes of 4 columns) of a spec into panels. */
export function packSource(spec: GemmSpec, which: 'A' | 'B', width: number): string {
  const body: string[] = [];
  if (which === 'A') {
    body.push('let mt = wid.y;', `let m0 = mt * ${width}u;`, 'let n0 = 0u;', 'let nc0 = 0u;', 'let nc1 = 0u;', 'let nc2 = 0u;', 'let nc3 = 0u;');
    body.push(spec.prologue ?? '');
    body.push(`let row0 = min(m0 + s, p.M - 1u) + p.mOff;`, spec.rowPrep(0, 'row0'));
    // PACK_A_STEPS vec4s of k a row slot per workgroup, as B's rows
    body.push(`for (var kk = 0u; kk < ${PACK_A_STEPS}u; kk = kk + 1u) {`, `let k4 = wid.x * ${PACK_A_STEPS}u + kk;`, 'if (k4 >= p.K4) { break; }');
    for (let q = 0; q < 4; q++) {
      body.push(`let kq${q} = p.kOff + 4u * k4 + ${q}u;`, `let kc${q} = min(kq${q}, p.K - 1u);`);
      if (spec.kPrep) body.push(spec.kPrep(q, `kc${q}`));
    }
    const comps = [0, 1, 2, 3].map((q) => `select(0.0, ${spec.loadA(0, q, `kc${q}`)}, kq${q} < p.K)`);
    body.push(`panel[((batch * p.MT + mt) * p.K4 + k4) * ${width}u + s] = vec4<f32>(${comps.join(', ')});`, '}');
  } else {
    body.push('let nt = wid.y;', 'let m0 = 0u;', `let n0 = (nt * ${width}u + s) * 4u;`);
    for (let i = 0; i < 4; i++) body.push(`let nc${i} = min(n0 + ${i}u, p.N - 1u);`);
    body.push(spec.prologue ?? '', spec.colPrep ?? '');
    // PACK_B_ROWS k rows a workgroup (CPU drivers start every workgroup separately)
    body.push(`for (var kk = 0u; kk < ${PACK_B_ROWS}u; kk = kk + 1u) {`, `let kl = wid.x * ${PACK_B_ROWS}u + kk;`, 'if (kl >= 4u * p.K4) { break; }');
    body.push('let kq0 = p.kOff + kl;', 'let kc0 = min(kq0, p.K - 1u);');
    if (spec.kPrep) body.push(spec.kPrep(0, 'kc0'));
    const value = `select(vec4<f32>(0.0), ${spec.loadB(0, 'kc0')}, kq0 < p.K)`;
    // a texture panel is this buffer copied into a texture (textureStore was once measured 3x slower than
    // buffer stores, at a time when Mesa's shader cache mixed vector widths: not re-measured)
    body.push(`panel[((batch * p.NT + nt) * 4u * p.K4 + kl) * ${width}u + s] = ${value};`, '}');
  }
  return renderTemplate(gemmTemplate('matmul_pack'), {
    PARAMS: paramsDecl(spec),
    BINDINGS: bindingDecls(spec, ['var<storage, read_write> panel: array<vec4<f32>>']),
    FUNCTIONS: spec.functions ?? '',
    WG: width,
    BODY: indent(body.join('\n'), 2),
    USES: bindingUses(spec),
  });
}

function indent(s: string, n: number): string {
  const pad = ' '.repeat(n);
  return s
    .split('\n')
    .map((l) => (l.trim() ? pad + l.trim() : ''))
    .filter(Boolean)
    .join('\n');
}

/** The texel coordinates of texel t of a flat texture copy whose rows hold 2^shift texels. */
const FLAT_COORD = `fn flatCoord(t: u32, shift: u32) -> vec2<u32> { return vec2<u32>(t & ((1u << shift) - 1u), t >> shift); }`;
/** The texel coordinates of texel (c, r) of a slab copy: slabs of 2^shift texel columns, each `rows` texture rows high. */
const SLAB_COORD = `fn slabCoord(c: u32, r: u32, rows: u32, shift: u32) -> vec2<u32> { return vec2<u32>(c & ((1u << shift) - 1u), (c >> shift) * rows + r); }`;

export function gemmKernel(spec: GemmSpec, v: GemmVariant, source: GemmSource = 'direct', btex?: BTexture, atex = false, store4 = false, flat: FlatCopies = {}): Kernel {
  const s4 = store4 && v.family === 'bcast' && spec.store4 !== undefined;
  const key = `gemm:${spec.key}:${source}:${v.family}:${v.tm}:${v.wg}:${v.subgroup}:${v.swap ? 1 : 0}:${v.tn ?? 4}:${v.bk ?? 16}:${v.tex ? 1 : 0}:${btex ?? ''}${flat.b?.[0] ?? ''}:${atex ? 1 : 0}${flat.a?.[0] ?? ''}:${s4 ? 1 : 0}${v.dyn ? ':dyn' : ''}`;
  return kernel(key, () => gemmSource(spec, v, source, btex, atex, s4, flat));
}

/** Rows covered by one workgroup and columns covered by one workgroup for a variant. */
export function gemmTile(v: GemmVariant): { rows: number; cols: number } {
  if (v.family === 'tiled') {
    const { BM, BN } = tiledShape(v);
    return { rows: BM, cols: BN };
  }
  return { rows: v.tm * v.wg, cols: 4 * lanesOf(v) };
}

export interface GemmDims {
  M: number;
  N: number;
  K: number;
  batch: number;
  /** Split-K within one dispatch (only for specs whose store writes partial outputs by `split`). */
  splits?: number;
  /**
   * The op's output layout allows the spec's vec4 store: 'cols' needs N % 4 == 0 and 16-byte aligned
   * rows; 'rows' needs M % 4 == 0 with every aligned group of 4 rows contiguous in memory.
   */
  store4?: boolean;
}

/** How a GEMM runs: operand source, row and K chunks, and how many partial outputs it writes. */
export interface GemmPlan {
  source: GemmSource;
  rowChunk: number;
  kChunk: number;
  kChunks: number;
  splits: number;
  totalSplits: number;
}

/** Floats per packed panel (64 MiB), so panels stay far below the storage-binding limit. */
const PANEL_BUDGET = 1 << 24;

/**
 * Plans a GEMM: packed variants pack panels per chunk of rows (and of K when the spec writes
 * split-K partials); the direct source runs in one dispatch. `splitK` says whether the spec's store
 * uses `split` (partial outputs), which is what allows K to be chunked.
 */
export function planGemm(v: GemmVariant, dims: GemmDims, splitK: boolean): GemmPlan {
  const { M, N, K, batch } = dims;
  v = fitVariant(v, M);
  const splits = Math.max(1, dims.splits ?? 1);
  const direct: GemmPlan = { source: 'direct', rowChunk: Math.max(M, 1), kChunk: Math.ceil(K / 4) * 4, kChunks: 1, splits, totalSplits: splits };
  if (!v.pack || v.family === 'tiled' || K === 0 || M === 0 || N === 0) return direct;
  const source = sourceOf(v);
  const maxG = deviceContext().limits.maxComputeWorkgroupsPerDimension;
  const L = lanesOf(v);
  const rowTile = gemmTile(v).rows;
  const Npad = Math.ceil(N / (4 * L)) * 4 * L;
  const Kpad = Math.ceil(K / 4) * 4;
  let kChunk = Kpad;
  const widest = batch * (source === 'packB' ? Npad : Math.max(Npad, rowTile));
  if (widest * kChunk > PANEL_BUDGET || kChunk > maxG - 3) {
    if (!splitK) return direct;
    kChunk = Math.max(4, Math.floor(Math.min(PANEL_BUDGET / widest, maxG - 3) / 4) * 4);
  }
  const kChunks = Math.ceil(Kpad / kChunk);
  let rowChunk = Math.floor(PANEL_BUDGET / (batch * kChunk) / rowTile) * rowTile;
  rowChunk = Math.max(rowTile, Math.min(rowChunk, Math.ceil(M / rowTile) * rowTile, Math.floor(maxG / Math.ceil(rowTile / v.tm)) * rowTile));
  const perChunk = Math.max(1, Math.ceil(splits / kChunks));
  if (source === 'packB') rowChunk = Math.max(M, 1);
  return { source, rowChunk, kChunk, kChunks, splits: perChunk, totalSplits: kChunks * perChunk };
}

/** Texture fields of the GEMM's params: B panel wrap, first k of the chunk, copied operands' rows per batch and flat layouts. */
interface TexParams {
  shift?: number;
  k0?: number;
  bRows?: number;
  aRows?: number;
  a?: FlatLayout;
  b?: FlatLayout;
}

function headerParams(M: number, N: number, K: number, kChunk: number, batch: number, splits: number, mOff: number, splitBase: number, kOff: number, K4: number, MT: number, NT: number, extra: number[], nExtra: number, tex: TexParams = {}): Uint32Array {
  const pad = (4 - (nExtra % 4)) % 4;
  const params = new Uint32Array(HEADER_FIELDS + nExtra + pad);
  params.set([M, N, K, kChunk, batch, splits, mOff, splitBase, kOff, K4, MT, NT, tex.shift ?? 0, tex.k0 ?? 0, tex.bRows ?? 0, tex.aRows ?? 0]);
  params.set([tex.a?.stride4 ?? 0, tex.a?.shift ?? 0, tex.b?.stride4 ?? 0, tex.b?.shift ?? 0], 16);
  params.set(extra, HEADER_FIELDS);
  return params;
}

/**
 * B as a plain row-major matrix in one of the op's bindings: a variant with a texture B may copy it
 * straight into a texture instead of packing it. `batchRows` 0: one B for every batch; otherwise the
 * batches follow each other (B's rows per batch: K for 'kn', N for 'nk').
 */
export interface BOperand {
  binding: number;
  /** Element offset of B in its buffer. */
  offset: number;
  layout: BTexture;
  batchRows: number;
  /** Elements from one stored row to the next (default: the row's length), e.g. rows padded to 64. */
  rowStride?: number;
}

let directTexturesOn = true;
const textureCopies = { A: 0, B: 0, x: 0, flatA: 0, flatB: 0, slabsA: 0, slabsB: 0, tilesB: 0 };

/** Tests and benchmarks: allow (default) or forbid copying plain operands straight into textures. */
export function setDirectTextures(enabled: boolean): void {
  directTexturesOn = enabled;
}

let slabMode: 'auto' | 'A' | 'both' | 'none' = 'auto';
/**
 * Tests and benchmarks: which operands wider than one slab are copied in slabs, the others one texture
 * row per matrix row: 'auto' (default: A and a B read down its columns, 'nk', where slabLayout's rule
 * says so), 'A' (every such A, no B: the rule before), 'both' (every such A and B) or 'none'.
 */
export function setSlabCopies(which: 'auto' | 'A' | 'both' | 'none'): void {
  slabMode = which;
}

/**
 * How a GEMM reads an operand it may copy in slabs: how many of its tiles read each of the operand's rows
 * (column tiles for A, row tiles for B), and whether it is a B read along its rows ('kn').
 */
export interface SlabUse {
  reads: number;
  kn?: boolean;
  /** A 'kn' B: the GEMM's column tile in texels (L), for column-tile slabs. */
  tileTexels?: number;
}

/**
 * The L1 sets that the same texel column of consecutive texture rows `pitch` bytes apart falls in: 64
 * sets of 64-byte lines (32 KiB 8-way on Zen 3 and 4, 48 KiB 12-way on recent Intel), so rows a multiple of
 * 4 KiB apart all share one set.
 */
function l1SetsOfRows(pitch: number): number {
  return 64 / gcd(64, Math.ceil(pitch / 64));
}

/**
 * The slabs of a texture copy of `rows` rows of `cols4` texels: slabs of 2^shift texel columns (64 from
 * wrapWidth, wider where the stacked slabs would not fit the device's texture height), or null for a
 * plain row copy. A GEMM step reads one texel of each of a tile's 64 rows (A, and a 'nk' B's 4 columns
 * a lane); in slabs those rows lie 1 KiB apart instead of a whole operand row. Slabs pay where the row
 * copy's rows crowd fewer L1 sets than the slabs' rows (a row of 2048 floats is 8 KiB, so its tile's
 * rows all share one set; slab rows spread over 4), and where more than one tile reads the copy, since
 * a slab copy costs more than a row copy (a copy per slab, ~60 ns more a texture row). Interleaved at 16
 * lanes (bench/NOTES.md "Slab copies by L1 sets"): A and 'nk' B at K of 1024-4096 floats 1.03-1.09x in
 * slabs, at K = 1152 (rows 4.5 KiB apart: 8 sets) 0.94-0.98x, K = 1536 (2 sets) level; stage 5's 3x3
 * weight (K = 4608, one row tile) 0.92x. A 'kn' B is read along its rows (a lane's 4 columns in one
 * texel), and ran 2048^3 0.94x as fast in slabs: it stays in rows.
 */
export function slabLayout(rows: number, cols4: number, role: 'A' | 'B', use: SlabUse = { reads: 2 }): { shift: number; slabs: number } | null {
  const forced = slabMode === 'both' || (slabMode === 'A' && role === 'A');
  if (!forced && (slabMode !== 'auto' || (role === 'B' && use.kn))) return null;
  const width = wrapWidth((w) => rows * Math.ceil(cols4 / w));
  const slabs = Math.ceil(cols4 / width);
  if (slabs < 2 || rows * slabs > deviceContext().limits.maxTextureDimension2D) return null;
  if (!forced && (use.reads < 2 || l1SetsOfRows(cols4 * 16) >= l1SetsOfRows(width * 16))) return null;
  return { shift: Math.log2(width), slabs };
}

/**
 * The least 'kn' B copied in column-tile slabs (1 MiB, a Zen core's L2): a smaller one stays in L2
 * whatever its layout, and the two ResNet 1x1 input-grads whose B (the weight) is under it, 256 and 512
 * KiB, ran no faster in tiles (0.86x - 1.02x; bench/NOTES.md "Column-tile slabs").
 */
const TILE_SLAB_MIN_BYTES = 1 << 20;
/**
 * The most copies a column-tile slab layout takes: 128 at 2048^3 at 8 lanes (32 slabs of 16 texels, rows
 * paired 4 to a texture row), measured 1.36x against rows; a very wide, short B would take hundreds.
 */
const MAX_TILE_SLAB_COPIES = 128;
let tileSlabMode: 'auto' | 'off' = 'auto';
/**
 * Tests and benchmarks: whether a 'kn' B read by several row tiles is copied in column-tile slabs ('auto',
 * the default where tileSlabLayout allows) or as slabLayout's rule says ('off': one texture row per row).
 */
export function setTileSlabCopies(mode: 'auto' | 'off'): void {
  tileSlabMode = mode;
}

/**
 * Column-tile slabs of a 'kn' B of `rows` rows (K, times the batches) of `cols4` texels, for a GEMM whose
 * column tiles are `tile` texels wide: slab s holds texel columns [s tile, (s + 1) tile), its rows paired
 * 2^pairs to a texture row (the least pairing that keeps the stacked slabs within the device's texture
 * height), so that a column tile's whole B panel is one contiguous run of memory. In a row copy a tile's
 * 4-k step reads 4 pieces of 512 bytes 8 KiB apart (N = 2048), and its panel spans 2048 pages; here the
 * panel is 256 pages, read front to back. Null where there is a single slab, it cannot fit, or it would
 * take more than MAX_TILE_SLAB_COPIES copies (one a slab and pairing: 32 at 2048^3 at 16 lanes, 128 at 8).
 */
export function tileSlabLayout(rows: number, cols4: number, tile: number): { pairs: number; slabs: number; slabRows: number } | null {
  const maxT = deviceContext().limits.maxTextureDimension2D;
  const slabs = Math.ceil(cols4 / tile);
  if (slabs < 2) return null;
  let pairs = 0;
  while (slabs * Math.ceil(rows / (1 << pairs)) > maxT && (tile << pairs) < maxT) pairs++;
  const slabRows = Math.ceil(rows / (1 << pairs));
  if (slabs * slabRows > maxT || tile << pairs > maxT || slabs << pairs > MAX_TILE_SLAB_COPIES) return null;
  return { pairs, slabs, slabRows };
}

let flatCopiesOn = true;
/** Tests and benchmarks: allow (default) or forbid flat texture copies of operands whose rows are not 256 bytes apart (packed instead). */
export function setFlatCopies(enabled: boolean): void {
  flatCopiesOn = enabled;
}

/**
 * How many operands so far were copied straight into textures: GEMM A and B (flat and slab copies
 * included), conv2d's x, and of the A and B copies how many were flat, how many in slabs and how many
 * B copies in column-tile slabs (tests).
 */
export function textureCopyCounters(): { A: number; B: number; x: number; flatA: number; flatB: number; slabsA: number; slabsB: number; tilesB: number } {
  return { ...textureCopies };
}

/**
 * Copies a plain row-major matrix (rows x cols floats at element `offset` of `buffer`, rows
 * `rowStride` floats apart) into an rgba32uint texture of cols / 4 x rows texels, or returns null
 * where it cannot be copied (the copy wants rows starting 256 bytes apart, whole texels and a 16-byte
 * aligned start; the texture must fit the device) or copies are off.
 */
export function matrixTexture(buffer: GPUBuffer, offset: number, rows: number, cols: number, role: 'A' | 'B' | 'x', op: string, rowStride = cols): GPUTexture | null {
  if (!copiesAsTexture(offset, rows, cols, rowStride)) return null;
  textureCopies[role]++;
  const tex = acquireTexture(cols / 4, rows, op);
  copyBufferToTexture(buffer, rowStride * 4, tex, offset * 4);
  return tex;
}

/** A as a plain row-major M x K matrix in one of the op's bindings (batchRows: 0, or M for batches that follow each other). */
export interface AOperand {
  binding: number;
  offset: number;
  batchRows: number;
  /** Elements from one stored row to the next (default: K). */
  rowStride?: number;
}

/** Whether matrixTexture copies a rows x cols matrix at element `offset` whose rows lie `rowStride` apart. */
export function copiesAsTexture(offset: number, rows: number, cols: number, rowStride = cols): boolean {
  const maxT = deviceContext().limits.maxTextureDimension2D;
  return directTexturesOn && rowStride % 64 === 0 && cols % 4 === 0 && cols <= rowStride && offset % 4 === 0 && cols / 4 <= maxT && rows <= maxT;
}

/** The texture rows of a plain operand of `rows` rows per batch, or null where its batches are not one matrix. */
function operandRows(o: AOperand, rows: number, batch: number): number | null {
  if (o.batchRows !== 0 && o.batchRows !== rows) return null;
  return (o.batchRows ? batch : 1) * rows;
}

/**
 * How the GEMM reads a flat or slab texture copy of an operand: log2 of the texture's width, and for
 * 'flat' the texels from one stored row to the next, for 'slabs' the texture rows of a slab.
 */
interface FlatLayout {
  kind: CopyLayout;
  stride4: number;
  shift: number;
}

/**
 * How operandTexture copies a plain operand of `rows` rows of `cols` floats per batch: a texture row
 * per matrix row where the copy allows it (matrixTexture), in slabs of such rows where it is wider
 * than one (slabLayout), else flat (flat_texture.ts) where rows
 * start on whole texels (row stride and offset multiples of 4 floats, whole texels a row), else not
 * at all (the operand is packed).
 */
function operandCopy(o: AOperand | undefined, rows: number, cols: number, batch: number, role: 'A' | 'B', use?: SlabUse): 'rows' | 'slabs' | 'flat' | null {
  const r = o ? operandRows(o, rows, batch) : null;
  if (r === null || !directTexturesOn) return null;
  const stride = o!.rowStride ?? cols;
  if (copiesAsTexture(o!.offset, r, cols, stride)) return slabLayout(r, cols / 4, role, use) ? 'slabs' : 'rows';
  const aligned = flatCopiesOn && cols % 4 === 0 && stride % 4 === 0 && stride >= cols && o!.offset % 4 === 0;
  return aligned && flatTextureLayout((r - 1) * stride + cols) !== null ? 'flat' : null;
}

/**
 * How operandTexture copies B (operandCopy; its rows are K for 'kn', N otherwise), or null. A 'kn' B
 * whose K is not a multiple of 4 is not copied, since the GEMM's last 4-k step would read rows past K,
 * i.e. the next batch's first rows (or the last row again), and A's zero padding times an infinity
 * there is NaN; packing pads those rows with zeros.
 */
function bOperandCopy(b: BOperand | undefined, N: number, K: number, batch: number, use?: SlabUse): 'rows' | 'slabs' | 'flat' | 'tiles' | null {
  if (!b || (b.layout === 'kn' && K % 4 !== 0)) return null;
  const how = operandCopy(b, ...bStoredShape(b, N, K), batch, 'B', use ?? bSlabUse(b, 2));
  if (how !== 'rows' || b.layout !== 'kn' || tileSlabMode === 'off' || !use?.tileTexels || use.reads < 2) return how;
  const rows = operandRows(b, K, batch)!;
  return rows * N * 4 >= TILE_SLAB_MIN_BYTES && tileSlabLayout(rows, N / 4, use.tileTexels) ? 'tiles' : how;
}

/** B's use for slabLayout: read by `reads` row tiles, and along its rows where it is 'kn'. */
function bSlabUse(b: BOperand | undefined, reads: number, tileTexels?: number): SlabUse {
  return { reads, kn: b?.layout === 'kn', tileTexels };
}

/** Rows and columns of B as stored: K x N for 'kn', N x K otherwise. */
function bStoredShape(b: BOperand, N: number, K: number): [number, number] {
  return b.layout === 'kn' ? [K, N] : [N, K];
}

/** A plain operand of `rows` rows of `cols` floats per batch copied into a texture as operandCopy decided, with its flat layout if flat. */
function operandTexture(buffers: Binding[], o: AOperand, rows: number, cols: number, batch: number, role: 'A' | 'B', how: 'rows' | 'slabs' | 'flat' | 'tiles', use?: SlabUse): { texture: GPUTexture; flat?: FlatLayout } {
  const buffer = buffers[o.binding] as GPUBuffer;
  const r = operandRows(o, rows, batch)!;
  if (how === 'rows') return { texture: matrixTexture(buffer, o.offset, r, cols, role, 'gemm', o.rowStride)! };
  const stride = o.rowStride ?? cols;
  if (how === 'tiles') {
    const tile = use!.tileTexels!;
    const { pairs, slabs, slabRows } = tileSlabLayout(r, cols / 4, tile)!;
    const P = 1 << pairs;
    textureCopies[role]++;
    textureCopies.tilesB++;
    const texture = acquireTexture(tile * P, slabs * slabRows, 'gemm');
    // rows j, j + P, j + 2P, ... of each slab go to texel columns [j tile, (j + 1) tile) of its texture rows
    for (let j = 0; j < P && j < r; j++) {
      for (let s = 0; s < slabs; s++) {
        copyBufferToTexture(buffer, P * stride * 4, texture, (o.offset + j * stride + s * tile * 4) * 4, s * slabRows, Math.ceil((r - j) / P), Math.min(tile, cols / 4 - s * tile), j * tile);
      }
    }
    return { texture, flat: { kind: 'tiles', stride4: slabRows, shift: pairs } };
  }
  if (how === 'slabs') {
    const { shift, slabs } = slabLayout(r, cols / 4, role, use)!;
    const width = 1 << shift;
    textureCopies[role]++;
    textureCopies[role === 'A' ? 'slabsA' : 'slabsB']++;
    const texture = acquireTexture(width, r * slabs, 'gemm');
    for (let s = 0; s < slabs; s++) copyBufferToTexture(buffer, stride * 4, texture, (o.offset + s * width * 4) * 4, s * r, r, Math.min(width, cols / 4 - s * width));
    return { texture, flat: { kind: 'slabs', stride4: r, shift } };
  }
  textureCopies[role]++;
  textureCopies[role === 'A' ? 'flatA' : 'flatB']++;
  const texture = flatBufferTexture(buffer, o.offset, (r - 1) * stride + cols, 'gemm');
  return { texture, flat: { kind: 'flat', stride4: stride / 4, shift: Math.log2(texture.width) } };
}

/**
 * Whether a variant reads its operands from textures: texture variants (subgroup-broadcast only) at
 * 16 lanes and up, and at 8 lanes on CPU drivers (narrowCpuSubgroups).
 */
export function readsTextures(v: GemmVariant): boolean {
  return Boolean(v.tex) && texturePanelsAt(v.subgroup);
}

/**
 * A kernel lavapipe (Mesa 25.0, LLVM 15, 512-bit) crashed on every run for a while, though not later
 * (bench/NOTES.md, "Still short of issue #3's lavapipe targets", where the GEMM's limits are): 64 x 8 tiles reading B's panel from a texture while A's panel is
 * a buffer, where a texel fetch stored its 64-byte result into a stack slot aligned to 32 bytes. No
 * other texture variant crashed in a sweep of them all (tm 16-128), and 48-row tiles run as fast, so
 * a packed texture GEMM whose A and B both need panels (neither can be copied straight into a texture:
 * see matrixTexture) uses 48-row tiles instead of 64. The likely cause, found later, was Mesa's shader
 * cache reusing code compiled at 256 bits (engine/device.ts separateShaderCache); the workaround stays
 * because it costs nothing.
 */
function avoidTextureCrash(v: GemmVariant, dims: GemmDims, aOperand?: AOperand, bOperand?: BOperand): GemmVariant {
  if (!deviceContext().summary.isSoftware || v.family !== 'bcast' || v.tm !== 64 || groupsOf(v) !== 2 || !readsTextures(v) || sourceOf(v) !== 'packed') return v;
  const { M, N, K, batch } = dims;
  const copied = operandCopy(aOperand, M, K, batch, 'A') !== null || bOperandCopy(bOperand, N, K, batch) !== null;
  return copied ? v : { ...v, tm: 48 };
}

let storeVec4 = true;
let store4Gemms = 0;

/** Benchmarks and tests: let GEMMs use their spec's vec4 store where the op allows it (default), or never. */
export function setGemmStore4(on: boolean): void {
  storeVec4 = on;
}

/** Tests: how many GEMMs have run with a vec4 store. */
export function gemmStore4Count(): number {
  return store4Gemms;
}

let dynTiles: 'auto' | 'on' | 'off' = 'auto';
/**
 * Which subgroup GEMMs take their tiles from a counter (GemmVariant.dyn): 'auto' those on CPU drivers,
 * whose threads each run a fixed share of a dispatch's workgroups (so a thread on a slower core holds
 * up the dispatch), and variants that ask for it; 'on' every one; 'off' none (bench/NOTES.md "Tiles
 * from a counter").
 */
export function setGemmDynamicTiles(mode: 'auto' | 'on' | 'off'): void {
  if (!['auto', 'on', 'off'].includes(mode)) throw new Error(`setGemmDynamicTiles: mode must be 'auto', 'on' or 'off', got ${JSON.stringify(mode)}`);
  dynTiles = mode;
}

/**
 * Whether tiles from a counter pay by default for a GEMM of `tiles` tiles: on a CPU driver, with at
 * least 4 tiles a driver thread (with fewer, the tiles balance the threads little and the workgroups
 * that find none left cost: 256 x 2048 x 128, 4 tiles, ran 0.93x; bench/NOTES.md "Tiles from a counter").
 */
export function dynamicTilesPay(tiles: number): boolean {
  const { isSoftware, driverThreads } = deviceContext().summary;
  return isSoftware && tiles >= 4 * Math.max(1, driverThreads);
}

let dynGemms = 0;
/** GEMMs run with tiles from a counter so far (tests: which path ran). */
export function gemmDynamicTilesCount(): number {
  return dynGemms;
}

const tileCounters = new WeakMap<GPUDevice, GPUBuffer>();
/** The tile counters of dyn variants (next tile, workgroups that found none), zero between dispatches. */
function tileCounter(): GPUBuffer {
  const { device } = deviceContext();
  let b = tileCounters.get(device);
  if (!b) tileCounters.set(device, (b = device.createBuffer({ size: 16, usage: 0x80 /* STORAGE */, label: 'gemm tile counter' })));
  return b;
}

/**
 * Encodes one GEMM: C (M x N per batch) = A (M x K) @ B (K x N) as the spec describes. `buffers`
 * bind the spec's bindings in order; `extra` are the spec's params. With a plan that writes several
 * partial outputs (plan.totalSplits > 1) the spec's store must put them apart by `split`. `bOperand`
 * and `aOperand` say where B and A lie when they are plain matrices (see BOperand, AOperand).
 */
export function gemm(spec: GemmSpec, v: GemmVariant, buffers: Binding[], dims: GemmDims, extra: number[], plan: GemmPlan = planGemm(v, dims, false), bOperand?: BOperand, aOperand?: AOperand): void {
  const { M, N, K, batch } = dims;
  if (M === 0 || N === 0 || batch === 0) return;
  const specB = bOperand?.layout === 'spec';
  if (specB) {
    // B read down its columns by the spec, from a texture the op bound: A direct, the variant's columns a lane
    if (plan.source !== 'direct' || K % 4 !== 0 || v.family === 'tiled') throw new Error('gemm: internal: B read by the spec needs a direct plan, K % 4 == 0 and no tiled family');
    v = { ...v, pack: false, tex: false };
  }
  v = avoidTextureCrash(fitVariant(v, M), dims, aOperand, bOperand);
  // tiles from a counter: the grid's rows half as many again as the row tiles (so within the
  // grid's reach for every chunk of rows only while the row tiles are under 2/3 of it)
  const maxG = deviceContext().limits.maxComputeWorkgroupsPerDimension;
  const tile = gemmTile(v);
  const rowTiles = Math.ceil(M / tile.rows);
  const wanted = dynTiles === 'on' || (dynTiles === 'auto' && (Boolean(v.dyn) || dynamicTilesPay(Math.ceil(N / tile.cols) * rowTiles * batch * plan.splits)));
  const dyn = wanted && v.family === 'bcast' && !v.swap && rowTiles <= Math.floor((2 * maxG) / 3);
  if (dyn !== Boolean(v.dyn)) v = { ...v, dyn };
  if (dyn) dynGemms++;
  const dynBuf = dyn ? [tileCounter()] : [];
  const rowGroups = (gm: number) => (dyn ? gm + Math.ceil(gm / 2) : gm);
  if (extra.length !== spec.params.length) throw new Error(`gemm: internal: ${extra.length} params for ${spec.params.length} fields`);
  if (buffers.length !== spec.bindings.length) throw new Error(`gemm: internal: ${buffers.length} buffers for ${spec.bindings.length} bindings`);
  // K = 0 or panels over budget: a variant that needs packed B reads it in place with 4 columns a lane
  // (before the tile size is taken: it sets the grid)
  if (plan.source === 'direct' && !specB && (groupsOf(v) > 1 || v.tex)) v = { ...v, tn: 4, tex: false };
  const useStore4 = Boolean(dims.store4) && storeVec4 && v.family === 'bcast' && spec.store4 !== undefined;
  if (useStore4) store4Gemms++;
  const { rows, cols } = gemmTile(v);
  const n = spec.params.length;
  const gn = Math.ceil(N / cols);
  if (gn > maxG) throw new Error(`gemm: ${N} columns need ${gn} workgroups, above ${maxG}`);
  // rows beyond one grid dimension's reach run as several dispatches (mOff)
  const rowStep = maxG * rows;
  if (plan.source === 'direct') {
    const splits = plan.splits;
    const kChunk = splits > 1 ? Math.ceil(K / splits / 4) * 4 : Math.max(K, 1);
    const z = batch * splits;
    if (z > maxG) throw new Error(`gemm: ${batch} batches x ${splits} splits exceed ${maxG} workgroups`);
    for (let mOff = 0; mOff < M; mOff += rowStep) {
      const Mc = Math.min(rowStep, M - mOff);
      const gm = Math.ceil(Mc / rows);
      dispatch(gemmKernel(spec, v, 'direct', specB ? 'spec' : undefined, false, useStore4), [...buffers, ...dynBuf], headerParams(Mc, N, K, kChunk, batch, splits, mOff, 0, 0, Math.ceil(K / 4), 0, 0, extra, n), v.swap ? [gm, gn, z] : [gn, rowGroups(gm), z]);
    }
    return;
  }
  const op = 'gemm';
  const L = lanesOf(v);
  const NT = Math.ceil(N / (4 * L));
  // a texture panel holds the buffer panel's texels in rows of L << texShift (a multiple of the copy's
  // 256-byte row pitch), texShift the least that keeps its height within the device's texture size;
  // a panel that does not fit makes the same variant read the buffer panel
  const maxT = deviceContext().limits.maxTextureDimension2D;
  const panelTexels = batch * NT * plan.kChunk * L;
  let texShift = 0;
  while (Math.ceil(panelTexels / (L << texShift)) > maxT && L << texShift < maxT) texShift++;
  const copies = readsTextures(v);
  const tex = copies && L % 16 === 0 && (L << texShift) <= maxT && Math.ceil(panelTexels / (L << texShift)) <= maxT;
  // plain operands copied as they are into textures: no pack kernel (a copy is a memcpy in a CPU driver)
  // tiles that read each row of a copied operand: B's rows by every row tile, A's by every column tile
  const bUse = bSlabUse(bOperand, Math.ceil(M / rows), L);
  const aUse: SlabUse = { reads: gn };
  const bHow = copies ? bOperandCopy(bOperand, N, K, batch, bUse) : null;
  const bCopy = bHow ? operandTexture(buffers, bOperand!, ...bStoredShape(bOperand!, N, K), batch, 'B', bHow, bUse) : null;
  const bTexture = bCopy?.texture ?? null;
  const vv: GemmVariant = tex || bTexture || !v.tex ? v : { ...v, tex: false };
  const aHow = vv.tex && copies && plan.source === 'packed' ? operandCopy(aOperand, M, K, batch, 'A', aUse) : null;
  const aCopy = aHow ? operandTexture(buffers, aOperand!, M, K, batch, 'A', aHow, aUse) : null;
  const aTexture = aCopy?.texture ?? null;
  const packA = kernel(`gemm.packA:${spec.key}:${v.tm}`, () => packSource(spec, 'A', v.tm));
  const packB = kernel(`gemm.packB:${spec.key}:${L}`, () => packSource(spec, 'B', L));
  const gk = gemmKernel(spec, vv, plan.source, bTexture ? bOperand?.layout : undefined, Boolean(aTexture), useStore4, { a: aCopy?.flat?.kind, b: bCopy?.flat?.kind });
  for (let kc = 0; kc < plan.kChunks; kc++) {
    const kOff = kc * plan.kChunk;
    const Kc = Math.min(plan.kChunk, Math.ceil(K / 4) * 4 - kOff);
    const K4 = Kc / 4;
    let bView: GPUTextureView | GPUBuffer;
    let releaseB = () => {};
    if (bTexture) {
      bView = textureView(bTexture);
    } else {
      const texW = L << texShift;
      const texH = Math.ceil((batch * NT * Kc * L) / texW);
      const bp = empty([(tex ? texW * texH : batch * Kc * NT * L) * 4], 'float32', op);
      dispatch(packB, [...buffers, bp.buffer(op)], headerParams(M, N, K, 0, batch, 1, 0, 0, kOff, K4, 0, NT, extra, n), [Math.ceil(Kc / PACK_B_ROWS), NT, batch]);
      if (tex) {
        const bt = acquireTexture(texW, texH, op);
        copyBufferToTexture(bp.buffer(op), texW * 16, bt);
        bp.dispose();
        bView = textureView(bt);
        releaseB = () => releaseTexture(bt);
      } else {
        bView = bp.buffer(op);
        releaseB = () => bp.dispose();
      }
    }
    const texParams: TexParams = { shift: texShift, k0: kOff, bRows: bTexture ? bOperand!.batchRows : 0, aRows: aTexture ? aOperand!.batchRows : 0, a: aCopy?.flat, b: bCopy?.flat };
    if (plan.source === 'packB') {
      const splits = plan.splits;
      const kChunk = splits > 1 ? Math.ceil(Kc / splits / 4) * 4 : Kc;
      const z = batch * splits;
      if (z > maxG) throw new Error(`gemm: ${batch} batches x ${splits} splits exceed ${maxG} workgroups`);
      for (let mOff = 0; mOff < M; mOff += rowStep) {
        const Mc = Math.min(rowStep, M - mOff);
        const gm = Math.ceil(Mc / rows);
        const params = headerParams(Mc, N, K, kChunk, batch, splits, mOff, kc * splits, kOff, K4, 0, NT, extra, n, texParams);
        dispatch(gk, [...buffers, bView, ...dynBuf], params, v.swap ? [gm, gn, z] : [gn, rowGroups(gm), z]);
      }
      releaseB();
      continue;
    }
    for (let mOff = 0; mOff < M; mOff += plan.rowChunk) {
      const Mc = Math.min(plan.rowChunk, M - mOff);
      const MT = Math.ceil(Mc / v.tm);
      const ap = aTexture ? null : empty([batch * MT * K4 * v.tm * 4], 'float32', op);
      if (ap) dispatch(packA, [...buffers, ap.buffer(op)], headerParams(Mc, N, K, 0, batch, 1, mOff, 0, kOff, K4, MT, NT, extra, n), [Math.ceil(K4 / PACK_A_STEPS), MT, batch]);
      const splits = plan.splits;
      const kChunk = splits > 1 ? Math.ceil(Kc / splits / 4) * 4 : Kc;
      const gm = Math.ceil(Mc / rows);
      const z = batch * splits;
      if (z > maxG) throw new Error(`gemm: ${batch} batches x ${splits} splits exceed ${maxG} workgroups`);
      const params = headerParams(Mc, N, Kc, kChunk, batch, splits, mOff, kc * splits, 0, K4, MT, NT, extra, n, texParams);
      dispatch(gk, [...buffers, ap ? ap.buffer(op) : textureView(aTexture!), bView, ...dynBuf], params, v.swap ? [gm, NT * (4 * L) / cols, z] : [NT * (4 * L) / cols, rowGroups(gm), z]);
      ap?.dispose();
    }
    releaseB();
  }
  if (bTexture) releaseTexture(bTexture);
  if (aTexture) releaseTexture(aTexture);
}

// ---- matmul ------------------------------------------------------------------------------------

/** Matmul operands as strided views: element (m, k) of batch b is a[offA + b*sAb + m*sAm + k*sAk]. */
const MATMUL_SPEC: GemmSpec = {
  key: 'matmul',
  params: ['offA', 'sAb', 'sAm', 'sAk', 'offB', 'sBb', 'sBk', 'sBn', 'Mt'],
  bindings: ['var<storage, read_write> c: array<f32>', 'var<storage, read> a: array<f32>', 'var<storage, read> b: array<f32>'],
  prologue: 'let aB = p.offA + batch * p.sAb;\nlet bB = p.offB + batch * p.sBb;\nlet cB = batch * p.Mt * p.N;',
  colPrep: 'let bc0 = bB + nc0 * p.sBn;\nlet bc1 = bB + nc1 * p.sBn;\nlet bc2 = bB + nc2 * p.sBn;\nlet bc3 = bB + nc3 * p.sBn;',
  rowPrep: (j, row) => `let ar${j} = aB + ${row} * p.sAm;`,
  kPrep: (q, k) => `let ka${q} = ${k} * p.sAk;\nlet kb${q} = ${k} * p.sBk;`,
  loadA: (j, q) => `a[ar${j} + ka${q}]`,
  loadB: (q) => `vec4<f32>(b[bc0 + kb${q}], b[bc1 + kb${q}], b[bc2 + kb${q}], b[bc3 + kb${q}])`,
  store1: (m, n, v) => `c[cB + ${m} * p.N + ${n}] = ${v};`,
  store4: { along: 'cols', binding: 'var<storage, read_write> c4: array<vec4<f32>>', store: (m, n, v) => `c4[(cB + ${m} * p.N + ${n}) / 4u] = ${v};` },
};

/** Collapses broadcast batch dims of `t` (expanded to `batch`) into one stride, or null if impossible. */
function batchStride(t: Tensor, batch: number[]): number | null {
  const r = t.rank - 2;
  const strides = batch.map((_d, i) => {
    const j = i - (batch.length - r);
    if (j < 0 || t.shape[j] === 1) return 0;
    return t.strides[j];
  });
  const live = batch.map((d, i) => (d === 1 ? null : strides[i])).filter((s): s is number => s !== null);
  const sizes = batch.filter((d) => d !== 1);
  if (live.every((s) => s === 0)) return 0;
  for (let i = 0; i < live.length - 1; i++) if (live[i] !== live[i + 1] * sizes[i + 1]) return null;
  return live.length ? live[live.length - 1] : 0;
}

/** Which kernel matmul uses: the tuned GEMM (default) or the naive reference (benchmarks only). */
let matmulImpl: 'gemm' | 'naive' = 'gemm';
let forcedVariant: GemmVariant | null = null;

/** Benchmarks and tests: run matmul with the naive reference kernel or a given GEMM variant. */
export function setMatmulKernel(impl: 'gemm' | 'naive', variant: GemmVariant | null = null): void {
  matmulImpl = impl;
  forcedVariant = variant;
}

/** The GEMM variant matmul runs for an M x K x N product: the one setMatmulKernel forced, else the tuned or default one. */
export function matmulVariant(M: number, N: number, K: number): GemmVariant {
  return forcedVariant ?? chooseGemmVariant('matmul', M, N, K);
}

/**
 * The strided-operand product on rank >= 2 operands, C contiguous [...batch, M, N], without autograd.
 * `choose` picks the GEMM variant for the product's (M, N, K) (by default the tuned or default matmul
 * variant); conv2d's 1x1 products pass their own so that their tuning stays theirs.
 */
export function matmulProduct(a: Tensor, b: Tensor, choose: (M: number, N: number, K: number) => GemmVariant = (M, N, K) => chooseGemmVariant('matmul', M, N, K)): Tensor {
  const op = 'matmul';
  const M = a.shape[a.rank - 2];
  const K = a.shape[a.rank - 1];
  const K2 = b.shape[b.rank - 2];
  const N = b.shape[b.rank - 1];
  if (K !== K2) throw new Error(`matmul: inner dimensions differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} (${K} vs ${K2})`);
  const batch = broadcastShapes(op, a.shape.slice(0, -2), b.shape.slice(0, -2));
  const nb = numel(batch);
  const outShape = [...batch, M, N];
  if (nb > 65535) throw new Error(`matmul: ${nb} batches exceed 65535`);
  let aa = a;
  let bb = b;
  let sAb = batchStride(a, batch);
  if (sAb === null) {
    const e = expand(a, [...batch, M, K]);
    aa = copy(e);
    e.dispose();
    sAb = M * K;
  }
  let sBb = batchStride(b, batch);
  if (sBb === null) {
    const e = expand(b, [...batch, K, N]);
    bb = copy(e);
    e.dispose();
    sBb = K * N;
  }
  const out = empty(outShape, 'float32', op);
  if (M * N * nb > 0) {
    const strides = [aa.offset, sAb, aa.strides[aa.rank - 2], aa.strides[aa.rank - 1], bb.offset, sBb, bb.strides[bb.rank - 2], bb.strides[bb.rank - 1], M];
    const bufs = [out.buffer(op), aa.buffer(op), bb.buffer(op)];
    if (matmulImpl === 'naive') {
      const k = kernel('matmul_naive', () => shaderSource('matmul_naive'));
      dispatch(k, bufs, new Uint32Array([M, N, K, 0, ...strides.slice(0, 8)]), [Math.ceil(N / 8), Math.ceil(M / 8), nb]);
    } else {
      // K = 0 gives zeros: the GEMM's k loop does not run
      const v = forcedVariant ?? choose(M, N, Math.max(K, 1));
      gemm(MATMUL_SPEC, v, bufs, { M, N, K, batch: nb, store4: N % 4 === 0 }, strides, undefined, plainB(bb, sBb, nb, K, N), plainA(aa, sAb, nb, M, K));
    }
  }
  if (aa !== a) aa.dispose();
  if (bb !== b) bb.dispose();
  return out;
}

/** matmulProduct with its gradient recorded. */
function matmulNd(a: Tensor, b: Tensor): Tensor {
  const out = matmulProduct(a, b);
  return record('matmul', [a, b], out, [a, b], (g, needs, [sa, sb]) => {
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (needs[0]) {
      const bt = transpose(sb, -2, -1);
      const full = matmulNd(g, bt);
      bt.dispose();
      ga = sumTo(full, a.shape);
      if (ga !== full) full.dispose();
    }
    if (needs[1]) {
      const at = transpose(sa, -2, -1);
      const full = matmulNd(at, g);
      at.dispose();
      gb = sumTo(full, b.shape);
      if (gb !== full) full.dispose();
    }
    return [ga, gb];
  });
}

/**
 * Whether rows of `cols` floats lying `stride` apart are a matrix a texture copy could take: packed
 * or padded (copiesAsTexture decides whether the copy is made: 256-byte row pitch, whole texels).
 */
const plainRows = (stride: number, cols: number) => stride >= cols;

/** B of a matmul as a plain matrix the GEMM may copy into a texture, when its strides make it one (rows may be padded). */
function plainB(b: Tensor, sBb: number, nb: number, K: number, N: number): BOperand | undefined {
  const sBk = b.strides[b.rank - 2];
  const sBn = b.strides[b.rank - 1];
  const layout: BTexture | null = sBn === 1 && plainRows(sBk, N) ? 'kn' : sBk === 1 && plainRows(sBn, K) ? 'nk' : null;
  if (!layout) return undefined;
  const rowStride = layout === 'kn' ? sBk : sBn;
  const rows = layout === 'kn' ? K : N;
  if (nb === 1 || sBb === 0) return { binding: 2, offset: b.offset, layout, batchRows: 0, rowStride };
  return sBb === rows * rowStride ? { binding: 2, offset: b.offset, layout, batchRows: rows, rowStride } : undefined;
}

/** A of a matmul as a plain row-major matrix the GEMM may copy into a texture, when its strides make it one (rows may be padded). */
function plainA(a: Tensor, sAb: number, nb: number, M: number, K: number): AOperand | undefined {
  const rowStride = a.strides[a.rank - 2];
  if (a.strides[a.rank - 1] !== 1 || !plainRows(rowStride, K)) return undefined;
  if (nb === 1 || sAb === 0) return { binding: 1, offset: a.offset, batchRows: 0, rowStride };
  return sAb === M * rowStride ? { binding: 1, offset: a.offset, batchRows: M, rowStride } : undefined;
}

/** torch.matmul semantics: 1-D operands are promoted (and the added dim removed afterwards). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (!(a instanceof Tensor) || !(b instanceof Tensor)) throw new Error('matmul: both operands must be Tensors');
  a.storage('matmul');
  b.storage('matmul');
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error(`matmul: expected float32 tensors, got ${a.dtype} and ${b.dtype}`);
  if (a.rank === 0 || b.rank === 0) throw new Error(`matmul: operands must have at least one dim, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const a2 = a.rank === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const b2 = b.rank === 1 ? reshape(b, [b.shape[0], 1]) : b;
  if (a2.shape[a2.rank - 1] !== b2.shape[b2.rank - 2]) {
    throw new Error(`matmul: inner dimensions differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`);
  }
  const out = matmulNd(a2, b2);
  if (a2 === a && b2 === b) return out;
  if (a2 !== a) a2.dispose();
  if (b2 !== b) b2.dispose();
  const shape = [...out.shape];
  if (b.rank === 1) shape.splice(shape.length - 1, 1);
  if (a.rank === 1) shape.splice(shape.length - (b.rank === 1 ? 1 : 2), 1);
  const r = reshape(out, shape);
  out.dispose();
  return r;
}

/** y = x @ w^T + b, with w of shape [out, in] as in torch.nn.functional.linear. */
export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  x.storage('linear');
  w.storage('linear');
  if (w.rank !== 2) throw new Error(`linear: weight must be 2-D [out, in], got ${fmtShape(w.shape)}`);
  if (x.shape[x.rank - 1] !== w.shape[1]) {
    throw new Error(`linear: input features ${x.shape[x.rank - 1]} (shape ${fmtShape(x.shape)}) do not match weight ${fmtShape(w.shape)}`);
  }
  if (b && (b.rank !== 1 || b.shape[0] !== w.shape[0])) throw new Error(`linear: bias must be [${w.shape[0]}], got ${fmtShape(b.shape)}`);
  const wt = transpose(w, 0, 1);
  const y = matmul(x, wt);
  wt.dispose();
  if (!b) return y;
  const r = add(y, b);
  y.dispose();
  return r;
}

/** Sums split-K partials [splits, ...shape] into one tensor of `shape` (used by the conv ops). */
export function sumSplits(partial: Tensor, splits: number, shape: number[]): Tensor {
  if (splits === 1) {
    const r = reshape(partial, shape);
    if (r !== partial) partial.dispose();
    return r;
  }
  const s = sum(partial, 0);
  partial.dispose();
  const r = reshape(s, shape);
  if (r !== s) s.dispose();
  return r;
}
