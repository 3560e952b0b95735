// col2im at stride 1 and dilation 1 (conv2d's input gradient from dcol, see conv_col2im.wgsl):
//   dx[n][c][ih][iw] = sum over (kh, kw) with oh = ih + ph - kh in [0, OH) and ow = iw + pw - kw in
//                      [0, OW) of dcol[g][(n - nOff, oh, ow)][(c % Cg, kh, kw)]
// (dcol rows Kgp floats apart). The KH x KW taps are unrolled by engine/ops/conv_col2im.ts
// (col2imUnitKernel), one masked load each: straight-line code, without the general kernel's per-lane
// tap search.
// Tiling: one invocation per dx element of the chunk's images [nOff, nOff + nCount), flat (a 7 x 7
// plane fills 49 lanes, not one 64-lane workgroup per row); grid x * 256 invocations per grid row.
// Indices are split by divu (f32 reciprocal plus one correction step; lavapipe runs integer division
// lane by lane). Bounds: i >= n returns; taps outside the output are masked (their index clamped).
struct Params {
  C: u32, H: u32, W: u32, OH: u32,
  OW: u32, Cg: u32, ph: u32, pw: u32,
  nOff: u32, nCount: u32, _a: u32, Kgp: u32,
  n: u32, width: u32, _b: u32, _c: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<storage, read> dcol: array<f32>;

fn divu(a: u32, d: u32) -> u32 {
  var q = u32(f32(a) / f32(d));
  let r = i32(a) - i32(q * d);
  q = select(q, q + 1u, r >= i32(d));
  q = select(q, q - 1u, r < 0);
  return q;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.width + gid.x;
  if (i >= p.n) { return; }
  let HW = p.H * p.W;
  let nl = divu(i, p.C * HW);
  let rem = i - nl * p.C * HW;
  let c = divu(rem, HW);
  let pix = rem - c * HW;
  let ih = divu(pix, p.W);
  let iw = pix - ih * p.W;
  let g = divu(c, p.Cg);
  let cl = c - g * p.Cg;
  let rows = p.nCount * p.OH * p.OW;
  let base = (g * rows + nl * p.OH * p.OW) * p.Kgp + cl * {{KHW}}u;
  let ohb = i32(ih) + i32(p.ph);
  let owb = i32(iw) + i32(p.pw);
  var s = 0.0;
{{BODY}}
  dx[(p.nOff + nl) * p.C * HW + rem] = s;
}
