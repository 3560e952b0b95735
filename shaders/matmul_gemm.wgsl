// Generic GEMM template: C[m][n] = sum_k A[m][k] * B[k][n] for every op that is a matrix product
// (matmul, linear, conv2d forward / input-grad / weight-grad as implicit GEMMs). The op supplies how
// A and B elements are loaded (any strides, im2col gathers with padding) and how C is stored; the
// template supplies the blocking. Rendered by engine/ops/matmul.ts (gemmKernel), one variant per
// (op spec, family, rows per tile, subgroups per workgroup, subgroup size).
//
// Families ({{FAMILY}}):
//  bcast  one subgroup of S lanes owns a tile of TM rows x 4S columns. Lane l keeps 4 columns
//         (n0 = (tile * S + l) * 4) and TM accumulator vec4s. Per step of 4 k values each lane loads
//         TM/S rows of A (4 k values each, a vec4) and its own 4 x vec4 of B; row r's A values are
//         then taken from lane r % S with subgroupBroadcast(aj, constant lane), a register shuffle on
//         CPU drivers, so every A element is loaded once per subgroup. TM is a multiple of 4; where it
//         is not one of S (balanced tile heights), the last slot's lanes past the tile load clamped
//         rows that are never broadcast. Straight-line generated code
//         (no loops over accumulator arrays). This is the family that wins on lavapipe, where every
//         storage load is issued one lane and one component at a time.
//         With a packed B operand a lane may keep 8 columns (two groups of 4, 4S apart; variant tn 8),
//         so each broadcast A value feeds twice the FMAs, and B may come from an rgba32uint texture
//         (variant tex; one 16-byte texel fetch per lane, bitcast to f32, instead of 4 scalar loads).
//  reg    no subgroups: an invocation owns TM rows x 4 columns and loads its own TM rows of A.
//         Fallback for adapters without the subgroups feature.
// Operand sources ({{SOURCE}}):
//  direct  A and B elements are loaded where they live, through the op's own index arithmetic
//          (strides, im2col gathers with padding): no extra memory.
//  packB   A direct; B (the operand every lane loads its own 4 columns of) from a packed panel.
//  packed  A and B were first copied by the pack kernels (shaders/matmul_pack.wgsl, generated from
//          the same op loaders) into tile-major panels: A as [batch][row tile][k / 4][TM] vec4 and B
//          as [batch][column tile][k][lane] vec4, zero-padded, so every load in the k loop is one
//          contiguous vec4 per lane. Panels are built per chunk of rows (mOff) and of K (kOff) so
//          they stay within a memory budget; K chunks write separate partial outputs (splitBase).
//          A texture B panel holds the buffer panel's texels in the same order, wrapped into rows of
//          L << texShift texels (so a column tile's k rows stay contiguous), filled from the buffer
//          panel by a copy. CPU drivers bind panel textures as read-only storage textures
//          (engine/kernels.ts panelBinding: a 16-byte load a lane on lavapipe).
//  B as a texture copy of the operand itself (no pack kernel; when B is a plain row-major matrix
//  with 256-byte rows): 'kn' (B stored K x N): texel (n / 4, batch * bRows + k); 'nk' (B stored
//  N x K, e.g. a linear or conv weight): a lane fetches the texels (k / 4, batch * bRows + n + j) of
//  its 4 columns j, each 4 k values of one column, and regroups them into 4 k rows of 4 columns.
//  Rows of whole texels that are not 256 bytes apart are copied flat (engine/ops/flat_texture.ts):
//  texel (c, r) above is then flatCoord(r * stride4 + c, shift), the same for a copied A.
// K range of a dispatch: [kOff, min(K, kOff + 4 K4)), cut into splits of kChunk.
// Split-K: grid z = batch * splits; split s covers k in [s * kChunk, min(K, (s + 1) * kChunk)) and
// stores to partial output splitBase + s, which the op sums afterwards.
// Tiles from a counter (variant dyn, the default on CPU drivers; bcast only, grid not swapped): a CPU
// driver hands each of its threads a fixed share of the workgroups, so a thread on a slower core holds
// up the dispatch. With dyn, lane 0 of each subgroup takes the next tile index from an atomic counter
// (column tile fastest, then row tiles of TM rows, then z) and broadcasts it; the grid has
// half as many rows of workgroups again as row tiles, so a faster thread runs more tiles, and subgroups
// that find none left return. The last of those resets the counters for the next dispatch.
// Bounds: rows past M and columns past N are clamped to the last valid row/column for loads (values
// computed there are discarded) and masked at the store; the k tail (K % 4) is one extra step whose
// loads at k >= kEnd are replaced by zeros (select), so nothing past K contributes.
{{ENABLE}}
{{GEMM_COMMON}}

@compute @workgroup_size({{WGSIZE}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32{{LANE_BUILTIN}}) {
{{TILE_ID}}
  let batch = zid / p.splits;
  let lsplit = zid - batch * p.splits;
  let split = p.splitBase + lsplit;
{{TILE}}
  let kRange = splitRange(lsplit);
  let kBegin = kRange.x;
  let kEnd = kRange.y;
  let kMain = kBegin + ((kEnd - kBegin) & 0xfffffffcu);
  let nc0 = min(n0, p.N - 1u);
  let nc1 = min(n0 + 1u, p.N - 1u);
  let nc2 = min(n0 + 2u, p.N - 1u);
  let nc3 = min(n0 + 3u, p.N - 1u);
{{PROLOGUE}}
{{ROWPREP}}
{{ACCS}}
  for (var k = kBegin; k < kMain; k = k + 4u) {
{{STEP}}
  }
  if (kMain < kEnd) {
    let k = kMain;
{{TAIL}}
  }
{{STORE}}
{{USES}}
}
