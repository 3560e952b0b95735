// Shared head of the GEMM templates (matmul_gemm, matmul_tiled, matmul_pack), spliced in at their
// GEMM_COMMON slot before rendering: the uniform block every GEMM-family kernel shares (the op's
// own fields follow in the PARAMS slot), the bindings, and the exact float-reciprocal integer division.
struct Params {
  M: u32, N: u32, K: u32, kChunk: u32,
  nb: u32, splits: u32, mOff: u32, splitBase: u32,
  kOff: u32, K4: u32, MT: u32, NT: u32,
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
{{FUNCTIONS}}
