// Column reduction: input viewed as `len` rows of `cols` contiguous elements (starting at element
// `off`), the reduced axes leading; rows are cut into `chunks` blocks of `chunk` rows and
// out[j * cols + c] = scale * REDUCE(column c over block j). The op calls this again on the partials
// until one block is left, so every sequential sum has <= `chunk` terms (as shaders/reduce.wgsl).
// Where the rows were moved to the end first (a transposing copy, then one invocation per row), this
// reads the tensor in place: a leading-axis sum (split-K partials, bias gradients of broadcast ops).
// Tiling: one invocation per (VW columns, block), VW = 4 (vec4 loads, when cols and off are multiples
// of 4) or 1, consecutive invocations on consecutive columns; 64 per workgroup, 2-D grid for large
// counts. Bounds: invocations past (cols / VW) * chunks return; the last block stops at len.
struct Params {
  cols: u32,    // columns / VW
  len: u32,
  chunk: u32,
  chunks: u32,
  off: u32,     // offset / VW
  width: u32,
  scale: f32,
  _pad: u32,
}

alias V = {{V}};

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<V>;
@group(0) @binding(2) var<storage, read> x: array<V>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let o = gid.y * p.width + gid.x;
  if (o >= p.cols * p.chunks) { return; }
  let j = o / p.cols;
  let c = o - j * p.cols;
  let start = j * p.chunk;
  let end = min(p.len, start + p.chunk);
  var acc = V({{INIT}});
  for (var r = start; r < end; r = r + 1u) {
    let v = x[p.off + r * p.cols + c];
    acc = {{COMBINE}};
  }
  out[o] = acc * p.scale;
}
