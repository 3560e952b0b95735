// Fill: out[i] = start + f32(i) * step (full/zeros/ones use step = 0; arange uses the step).
// Tiling: one element per invocation, 64 per workgroup, 2-D grid. Bounds: i >= n returns.
struct Params {
  n: u32,
  width: u32,
  start: f32,
  step: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.width + gid.x;
  if (i >= p.n) { return; }
  out[i] = p.start + f32(i) * p.step;
}
