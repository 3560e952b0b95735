// Batch-norm per-channel finalization: one invocation per channel c merges the N per-plane partials
// written by batchnorm_stats.wgsl and writes the per-channel coefficients the elementwise pass uses.
// Mode FWD (training): mean and biased variance of the channel (Chan's parallel merge of the plane
//   means and M2s); invstd = 1 / sqrt(var + eps); coef[c] = (scale, shift, mean, invstd) with
//   scale = weight * invstd, shift = bias - mean * scale; running statistics updated in place as
//   PyTorch does: r = (1 - momentum) * r + momentum * stat, with the unbiased variance n / (n - 1).
// Mode EVAL: the same coefficients from the running statistics (no update).
// Mode BWD: from sg = sum g and sgx = sum g * (x - mean): dweight = sgx * invstd, dbias = sg,
//   and dx = A * g + B * x + C with A = w * invstd, B = -w * invstd^3 * sgx / n,
//   C = -A * sg / n - B * mean  (training: gradient through the batch statistics); in eval mode
//   B = C = 0. Writes dcoef[c] = (A, B, C, 0) and dwb[c] = dweight, dwb[C + c] = dbias.
// Tiling: 64 invocations per workgroup. Bounds: c >= C returns.
struct Params {
  N: u32, C: u32, HW: u32, hasW: u32,
  hasB: u32, training: u32, momentum: f32, eps: f32,
  wo: u32, bo: u32, rmo: u32, rvo: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
{{BINDINGS}}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.C) { return; }
{{BODY}}
}
