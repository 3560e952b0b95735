// Row reduction: input viewed as M rows of R contiguous elements (starting at element `off`);
// each row is cut into C chunks of `chunk` elements and out[m * C + j] = scale * REDUCE(chunk j of row m).
// The op calls this repeatedly (C = ceil(R / chunk) partials, then the partials) until C = 1, which
// keeps every sequential sum at <= `chunk` terms (pairwise-style accuracy for long rows).
// Tiling: one invocation per (row, chunk), 64 per workgroup, 2-D grid for large counts.
// Bounds: invocations past M * C return; the last chunk of a row stops at R.
struct Params {
  rows: u32,
  len: u32,
  chunk: u32,
  chunks: u32,
  off: u32,
  width: u32,
  scale: f32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let o = gid.y * p.width + gid.x;
  if (o >= p.rows * p.chunks) { return; }
  let m = o / p.chunks;
  let j = o - m * p.chunks;
  let start = j * p.chunk;
  let end = min(p.len, start + p.chunk);
  let base = p.off + m * p.len;
  var acc: f32 = {{INIT}};
  for (var k = start; k < end; k = k + 1u) {
    let v = x[base + k];
    acc = {{COMBINE}};
  }
  out[o] = acc * p.scale;
}
