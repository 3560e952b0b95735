// Row L2 normalization for the fused contrastive losses (torch.nn.functional.normalize semantics):
//   norms[dstRow + r] = ||x_r||                                 (raw norm, kept for the backward pass)
//   zn[(dstRow + r) * dp + k] = x_r[k] / max(||x_r||, 1e-12)    for k < d,  0 for d <= k < dp
// x_r starts at element off + r * rowStride and is contiguous (d elements). dp = d rounded up to a
// multiple of 4, so the contrastive kernels read rows as vec4 with zero padding.
// The norm is computed scaled (max|x| * sqrt(sum((x / max|x|)^2))) so huge rows do not overflow.
// Tiling: one invocation per row, 64 per workgroup, 2-D grid. Bounds: rows past `rows` return.
struct Params {
  rows: u32,
  d: u32,
  dp: u32,
  off: u32,
  rowStride: u32,
  dstRow: u32,
  width: u32,
  _pad: u32,
}

const EPS: f32 = 1e-12;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> zn: array<f32>;
@group(0) @binding(2) var<storage, read_write> norms: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.y * p.width + gid.x;
  if (r >= p.rows) { return; }
  let base = p.off + r * p.rowStride;
  var mx = 0.0;
  for (var k = 0u; k < p.d; k = k + 1u) { mx = max(mx, abs(x[base + k])); }
  var n = 0.0;
  if (mx > 0.0) {
    var s = 0.0;
    for (var k = 0u; k < p.d; k = k + 1u) {
      let v = x[base + k] / mx;
      s = s + v * v;
    }
    n = mx * sqrt(s);
  }
  let row = p.dstRow + r;
  norms[row] = n;
  let den = max(n, EPS);
  let ob = row * p.dp;
  for (var k = 0u; k < p.d; k = k + 1u) { zn[ob + k] = x[base + k] / den; }
  for (var k = p.d; k < p.dp; k = k + 1u) { zn[ob + k] = 0.0; }
}
