// Backward of the row gather, deterministic (no float atomics): for each destination element (r, c),
// out[r, c] = sum over i with idx[i] == r of g[i, c], accumulated in index order.
// Cost O(rows * cols * n): fine for the batch-sized index lists this engine gathers.
// Tiling: one output element per invocation, 64 per workgroup, 2-D grid. Bounds: o >= rows * cols returns.
struct Params {
  rows: u32,
  cols: u32,
  n: u32,
  width: u32,
  goff: u32,
  _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> idx: array<i32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let o = gid.y * p.width + gid.x;
  if (o >= p.rows * p.cols) { return; }
  let r = o / p.cols;
  let c = o - r * p.cols;
  var acc = 0.0;
  for (var i = 0u; i < p.n; i = i + 1u) {
    if (u32(idx[i]) == r) { acc = acc + g[p.goff + i * p.cols + c]; }
  }
  out[o] = acc;
}
