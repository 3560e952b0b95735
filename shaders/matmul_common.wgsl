// Shared head of the GEMM templates (matmul_gemm, matmul_tiled, matmul_pack), spliced in at their
// GEMM_COMMON slot before rendering: the uniform block every GEMM-family kernel shares (the op's
// own fields follow in the PARAMS slot), the bindings, the exact float-reciprocal integer division and
// the k range of a split.
struct Params {
  M: u32, N: u32, K: u32, kChunk: u32,
  nb: u32, splits: u32, mOff: u32, splitBase: u32,
  kOff: u32, K4: u32, MT: u32, NT: u32,
  texShift: u32, k0: u32, bRows: u32, aRows: u32,
  aStride4: u32, aShift: u32, bStride4: u32, bShift: u32,
{{PARAMS}}
}

@group(0) @binding(0) var<uniform> p: Params;
{{BINDINGS}}

// q = a / d for a < 2^23, from a float reciprocal (vector float math instead of per-lane integer
// division, which CPU drivers scalarize), corrected to the exact quotient.
fn divu(a: u32, d: u32, inv: f32) -> u32 {
  var q = u32(f32(a) * inv);
  let r = i32(a) - i32(q * d);
  q = select(q, q + 1u, r >= i32(d));
  q = select(q, q - 1u, r < 0);
  return q;
}

// The k range [x, y) of split `lsplit` of this dispatch: its K range [kOff, min(K, kOff + 4 K4))
// cut into splits of kChunk.
fn splitRange(lsplit: u32) -> vec2<u32> {
  let kHi = min(p.K, p.kOff + 4u * p.K4);
  let kBegin = min(p.kOff + lsplit * p.kChunk, kHi);
  return vec2<u32>(kBegin, min(kHi, kBegin + p.kChunk));
}
{{FUNCTIONS}}
