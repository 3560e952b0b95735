// Row softmax family over M contiguous rows of R elements (from element `off`), numerically stable:
// pass 1 finds the row max m, pass 2 sums exp(x - m) into s, pass 3 writes
//   softmax:    out[r, k] = exp(x - m) / s
//   logSoftmax: out[r, k] = x - m - log(s)
//   logsumexp:  out[r]    = m + log(s)
// Tiling: one invocation per row (rows are independent), 64 per workgroup, 2-D grid.
// Bounds: rows past M return.
struct Params {
  rows: u32,
  len: u32,
  off: u32,
  width: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.y * p.width + gid.x;
  if (r >= p.rows) { return; }
  let base = p.off + r * p.len;
  var m = -3.4028234663852886e38;
  for (var k = 0u; k < p.len; k = k + 1u) { m = max(m, x[base + k]); }
  var s = 0.0;
  for (var k = 0u; k < p.len; k = k + 1u) { s = s + exp(x[base + k] - m); }
  let obase = r * p.len;
{{WRITE}}
}
