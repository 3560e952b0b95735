// GEMM family for discrete GPUs: C[m][n] = sum_k A[m][k] * B[k][n] with workgroup-memory tiles, the
// classic form that GPUs reward (and that CPU drivers punish: engine/tune.ts picks it for hardware
// adapters only). The op's loaders (the same GemmSpec as matmul_gemm.wgsl: strided views, implicit
// im2col gathers) fill the tiles, so every product op has this family too.
// Tiling: workgroup of 16 x 16 invocations computes a 64 x 64 tile of C, each invocation 4 rows x 4
// columns in registers; per step of 16 k the workgroup stages A (64 rows x 16 k, stored k-major as
// scalars) and B (16 k x 64 columns, vec4 of 4 columns) in workgroup memory: invocation t loads
// A row t / 4 at k + 4 (t % 4) .. + 3 and B row t / 16, columns 4 (t % 16) .. + 3; barriers around
// the staging. Grid (ceil(N / 64), ceil(M / 64), batch * splits); split-K as in matmul_gemm.wgsl.
// Bounds: loads at rows >= M / columns >= N are clamped (their results are discarded at the masked
// store), loads at k >= kEnd are zeros.
{{GEMM_COMMON}}

var<workgroup> As: array<f32, 1024>;       // [16 k][64 rows]
var<workgroup> Bs: array<vec4<f32>, 256>; // [16 k][16 groups of 4 columns]

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let batch = wid.z / p.splits;
  let lsplit = wid.z - batch * p.splits;
  let split = p.splitBase + lsplit;
  let tx = t % 16u;
  let ty = t / 16u;
  let mTile = wid.y * 64u;
  let nTile = wid.x * 64u;
  let m0 = mTile + ty * 4u;
  let n0 = nTile + tx * 4u;
  let kHi = min(p.K, p.kOff + 4u * p.K4);
  let kBegin = min(p.kOff + lsplit * p.kChunk, kHi);
  let kEnd = min(kHi, kBegin + p.kChunk);
  // the columns this invocation loads B for (colPrep sees them as nc0..nc3)
  let lb = nTile + (t % 16u) * 4u;
  let nc0 = min(lb, p.N - 1u);
  let nc1 = min(lb + 1u, p.N - 1u);
  let nc2 = min(lb + 2u, p.N - 1u);
  let nc3 = min(lb + 3u, p.N - 1u);
{{PROLOGUE}}
  let row0 = min(mTile + t / 4u, p.M - 1u) + p.mOff;
{{ROWPREP}}
  let la = t % 4u;   // A: which 4 k of the 16
  let lr = t / 4u;   // A: which row of the 64
  let lk = t / 16u;  // B: which k of the 16
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + 16u) {
    {
{{LOADS}}
      As[(4u * la) * 64u + lr] = av.x;
      As[(4u * la + 1u) * 64u + lr] = av.y;
      As[(4u * la + 2u) * 64u + lr] = av.z;
      As[(4u * la + 3u) * 64u + lr] = av.w;
      Bs[lk * 16u + t % 16u] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk = kk + 1u) {
      let ab = kk * 64u + ty * 4u;
      let a = vec4<f32>(As[ab], As[ab + 1u], As[ab + 2u], As[ab + 3u]);
      let b = Bs[kk * 16u + tx];
      acc0 = acc0 + a.x * b;
      acc1 = acc1 + a.y * b;
      acc2 = acc2 + a.z * b;
      acc3 = acc3 + a.w * b;
    }
    workgroupBarrier();
  }
{{STORE}}
{{USES}}
}
