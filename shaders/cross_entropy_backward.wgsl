// Fused cross-entropy backward: dx[r, c] = g[r] * scale * (exp(x[r, c] - lse[r]) - (c == label[r])),
// where g is the incoming gradient per row (stride gstride: 0 when the loss was reduced to a scalar)
// and scale is 1/N for the mean reduction, else 1.
// Tiling: one element per invocation, 64 per workgroup, 2-D grid. Bounds: o >= N * C returns.
struct Params {
  rows: u32,
  cols: u32,
  off: u32,
  width: u32,
  scale: f32,
  gstride: u32,
  goff: u32,
  _p: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> labels: array<i32>;
@group(0) @binding(5) var<storage, read> g: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let o = gid.y * p.width + gid.x;
  if (o >= p.rows * p.cols) { return; }
  let r = o / p.cols;
  let c = o - r * p.cols;
  let prob = exp(x[p.off + o] - lse[r]);
  let hot = select(0.0, 1.0, u32(labels[r]) == c);
  dx[o] = g[p.goff + r * p.gstride] * p.scale * (prob - hot);
}
