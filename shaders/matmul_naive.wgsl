// Naive reference matmul (kept for the benchmark's "naive" column and as the simplest correct
// kernel): C[b][m][n] = sum_k A[b][m][k] * B[b][k][n], one output element per invocation, A and B
// strided views (offsets and strides in elements, batch stride 0 = broadcast), C contiguous.
// Tiling: none; workgroup 8 x 8 invocations over (n, m), grid z = batch.
// Bounds: invocations with m >= M or n >= N return.
struct Params {
  M: u32, N: u32, K: u32, _p: u32,
  offA: u32, sAb: u32, sAm: u32, sAk: u32,
  offB: u32, sBb: u32, sBk: u32, sBn: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let m = gid.y;
  let batch = gid.z;
  if (m >= p.M || n >= p.N) { return; }
  let aRow = p.offA + batch * p.sAb + m * p.sAm;
  let bCol = p.offB + batch * p.sBb + n * p.sBn;
  var acc = 0.0;
  for (var k = 0u; k < p.K; k = k + 1u) {
    acc = acc + a[aRow + k * p.sAk] * b[bCol + k * p.sBk];
  }
  c[(batch * p.M + m) * p.N + n] = acc;
}
