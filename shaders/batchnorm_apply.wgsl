// Batch-norm elementwise pass over NCHW data with per-channel coefficients (batchnorm_finalize.wgsl).
// Mode FWD: y = x * scale[c] + shift[c], then max(y, 0) for the fused BN+ReLU.
// Mode BWD: dx = A[c] * g' + B[c] * x + C[c], where g' = g, or g masked by (x * scale + shift > 0)
//   for the fused BN+ReLU.
// Tiling: each invocation handles 4 consecutive elements of one (n, c) plane (the channel's
// coefficients are loaded once for them); 64 invocations per workgroup; grid (ceil(HW / 256), C, N).
// Bounds: elements past the plane's HW are skipped.
struct Params {
  N: u32, C: u32, HW: u32, relu: u32,
  xo: u32, go: u32, _a: u32, _b: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> coef: array<vec4<f32>>;
{{BINDINGS}}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.y;
  let n = gid.z;
  let i0 = gid.x * 4u;
  if (i0 >= p.HW) { return; }
  let base = (n * p.C + c) * p.HW;
  let k = coef[c];
  let end = min(i0 + 4u, p.HW);
  for (var i = i0; i < end; i = i + 1u) {
{{BODY}}
  }
}
