// Strided copy: for every coordinate c of `shape`, dst[doff + c . dstride] = src[soff + c . sstride].
// Used to write into a region of a larger tensor (concat, the backward of slice). Rank <= 8.
// Tiling: one element per invocation, 64 per workgroup, 2-D grid for large counts.
// Bounds: invocations with i >= n return.
struct Params {
  n: u32,
  rank: u32,
  soff: u32,
  doff: u32,
  width: u32,
  _p0: u32, _p1: u32, _p2: u32,
  shape: array<vec4<u32>, 2>,
  sstride: array<vec4<u32>, 2>,
  dstride: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.width + gid.x;
  if (i >= p.n) { return; }
  var r = i;
  var si = p.soff;
  var di = p.doff;
  for (var d = i32(p.rank) - 1; d >= 0; d = d - 1) {
    let size = p.shape[d / 4][d % 4];
    let c = r % size;
    r = r / size;
    si = si + c * p.sstride[d / 4][d % 4];
    di = di + c * p.dstride[d / 4][d % 4];
  }
  dst[di] = src[si];
}
