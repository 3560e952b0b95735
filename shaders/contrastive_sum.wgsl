// The scalar contrastive loss: out[0] = (accumulate ? out[0] : 0) + sum_i stats[2i].w, where stats
// are the per-anchor pairs of vec4 written by contrastive_forward.wgsl (w = the anchor's loss contribution).
// Tiling: one workgroup of 256 invocations; invocation t sums rows t, t + 256, ... (in a fixed
// order, so the result is deterministic), then a tree reduction in workgroup memory.
// Bounds: rows past `rows` are skipped.
struct Params {
  rows: u32,
  accumulate: u32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<vec4<f32>>;

var<workgroup> part: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) t: u32) {
  var s = 0.0;
  for (var i = t; i < p.rows; i = i + 256u) { s = s + stats[2u * i].w; }
  part[t] = s;
  workgroupBarrier();
  for (var h = 128u; h > 0u; h = h >> 1u) {
    if (t < h) { part[t] = part[t] + part[t + h]; }
    workgroupBarrier();
  }
  if (t == 0u) {
    var prev = 0.0;
    if (p.accumulate != 0u) { prev = out[0]; }
    out[0] = prev + part[0];
  }
}
