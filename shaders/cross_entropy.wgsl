// Fused cross-entropy forward over logits [N, C] (contiguous from element `off`) and int labels [N]:
// per row, m = max, lse = m + log(sum exp(x - m)) (stable), loss[r] = lse - x[label[r]];
// lse is kept for the backward pass. Labels were range-checked on the host before dispatch.
// Tiling: one invocation per row, 64 per workgroup, 2-D grid. Bounds: rows past N return.
struct Params {
  rows: u32,
  cols: u32,
  off: u32,
  width: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> labels: array<i32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.y * p.width + gid.x;
  if (r >= p.rows) { return; }
  let base = p.off + r * p.cols;
  var m = -3.4028234663852886e38;
  for (var k = 0u; k < p.cols; k = k + 1u) { m = max(m, x[base + k]); }
  var s = 0.0;
  for (var k = 0u; k < p.cols; k = k + 1u) { s = s + exp(x[base + k] - m); }
  let l = m + log(s);
  lse[r] = l;
  loss[r] = l - x[base + u32(labels[r])];
}
