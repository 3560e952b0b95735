// Batched matmul C[b] = A[b] @ B[b] with A: M x K, B: K x N, C contiguous M x N per batch.
// A and B are strided views: element (m, k) of batch b is a[offA + b*sAb + m*sAm + k*sAk], so a
// transposed operand is read in place (no copy). Batch broadcasting = batch stride 0.
// Tiling: each invocation computes a 4 x 4 block of C in registers (4 vec4 accumulators); a
// workgroup of 8 x 8 invocations covers 32 x 32; grid = (ceil(N/32), ceil(M/32), batch).
// Bounds: rows/cols past M/N are clamped for loads (reading a valid element) and masked on store.
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
  let n0 = gid.x * 4u;
  let m0 = gid.y * 4u;
  let batch = gid.z;
  if (m0 >= p.M || n0 >= p.N) { return; }
  let mLast = p.M - 1u;
  let nLast = p.N - 1u;
  let aBase = p.offA + batch * p.sAb;
  let bBase = p.offB + batch * p.sBb;
  let ra0 = aBase + min(m0, mLast) * p.sAm;
  let ra1 = aBase + min(m0 + 1u, mLast) * p.sAm;
  let ra2 = aBase + min(m0 + 2u, mLast) * p.sAm;
  let ra3 = aBase + min(m0 + 3u, mLast) * p.sAm;
  let cb0 = bBase + min(n0, nLast) * p.sBn;
  let cb1 = bBase + min(n0 + 1u, nLast) * p.sBn;
  let cb2 = bBase + min(n0 + 2u, nLast) * p.sBn;
  let cb3 = bBase + min(n0 + 3u, nLast) * p.sBn;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = 0u; k < p.K; k = k + 1u) {
    let ka = k * p.sAk;
    let kb = k * p.sBk;
    let bv = vec4<f32>(b[cb0 + kb], b[cb1 + kb], b[cb2 + kb], b[cb3 + kb]);
    acc0 = acc0 + a[ra0 + ka] * bv;
    acc1 = acc1 + a[ra1 + ka] * bv;
    acc2 = acc2 + a[ra2 + ka] * bv;
    acc3 = acc3 + a[ra3 + ka] * bv;
  }
  let cBase = batch * p.M * p.N;
  let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i = i + 1u) {
    let m = m0 + i;
    if (m < p.M) {
      let row = cBase + m * p.N + n0;
      let v = accs[i];
      if (n0 < p.N) { c[row] = v.x; }
      if (n0 + 1u < p.N) { c[row + 1u] = v.y; }
      if (n0 + 2u < p.N) { c[row + 2u] = v.z; }
      if (n0 + 3u < p.N) { c[row + 3u] = v.w; }
    }
  }
}
