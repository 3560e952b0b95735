// Batch-norm per-plane partial statistics over NCHW data: one invocation per (n, c) plane of HW
// contiguous elements, two passes over the plane (its mean, then the sum of squared deviations
// from it), so variances stay accurate when the mean is large; the planes of a channel are merged
// afterwards with Chan's formula (batchnorm_finalize.wgsl).
// Mode FWD: out[(c * N + n) * 2 + {0, 1}] = (mean of the plane, M2 = sum (x - mean)^2).
// Mode BWD: out[(c * N + n) * 2 + {0, 1}] = (sum g, sum g * (x - mean_c)) with g the incoming
//   gradient, masked by y > 0 when the forward was BN+ReLU (y recomputed from x, scale and shift).
// Tiling: 64 invocations per workgroup over c; grid (ceil(C / 64), N). Bounds: c >= C returns.
struct Params {
  N: u32, C: u32, HW: u32, relu: u32,
  xo: u32, go: u32, _a: u32, _b: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
{{BINDINGS}}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let n = gid.y;
  if (c >= p.C) { return; }
  let base = (n * p.C + c) * p.HW;
{{BODY}}
}
