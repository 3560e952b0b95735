// Row gather: out[i, c] = x[idx[i], c] for a contiguous x of `cols` columns (from element `off`).
// Indices were range-checked on the host before dispatch.
// Tiling: one element per invocation, 64 per workgroup, 2-D grid. Bounds: o >= n * cols returns.
struct Params {
  n: u32,
  cols: u32,
  off: u32,
  width: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> idx: array<i32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let o = gid.y * p.width + gid.x;
  if (o >= p.n * p.cols) { return; }
  let i = o / p.cols;
  let c = o - i * p.cols;
  out[o] = x[p.off + u32(idx[i]) * p.cols + c];
}
