// Panel packing for the GEMM's packed variants: copies a strided matrix operand (any strides,
// transposed views included, batch stride 0 = broadcast) into the tile-major layout the GEMM reads
// with one vec4 load per lane, zero-padding rows/columns to whole tiles and K to a multiple of 4.
//   A (M x K) -> ap[((b * MT + mt) * K4 + k4) * TM + s] = A[b][mt * TM + s][4 k4 .. 4 k4 + 3]
//   B (K x N) -> bp[((b * NT + nt) * 4 K4 + k) * L + l]  = B[b][k][4 (nt * L + l) .. + 3]
// Tiling: one vec4 per invocation; A: workgroup = TM invocations (one per row slot), grid
// (K4, MT, batch); B: workgroup = L invocations (one per lane), grid (4 K4, NT, batch). No divisions.
// Bounds: elements with row >= M, column >= N or k >= K are written as 0.
struct Params {
  R: u32, C: u32, K: u32, K4: u32,     // A: R = M (rows), C unused; B: R = K rows, C = N columns
  off: u32, sb: u32, s0: u32, s1: u32, // A: s0 = row stride, s1 = k stride; B: s0 = k stride, s1 = column stride
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> src: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) s: u32, @builtin(num_workgroups) ng: vec3<u32>) {
  let b = wid.z;
{{BODY}}
}
