// col2im at stride > 1 with dilation 1 (conv2d's input gradient from dcol, see conv_col2im.wgsl):
//   dx[n][c][ih][iw] = sum over (kh, kw) with oh = (ih + ph - kh) / sh integral and in [0, OH) (same
//                      for w) of dcol[g][(n - nOff, oh, ow)][(c % Cg, kh, kw)]
// (dcol rows Kgp floats apart). Input columns are split by phase iw % sw: a workgroup's 64 lanes take
// columns of one phase (iw = phase + sw * j), and ih is uniform per workgroup, so every lane has the
// same taps, kh = (ih + ph) mod sh + a * sh and kw = (phase + pw) mod sw + b * sw, and the tap loops
// are uniform; only ow differs per lane (ow = j + q0 - b, no division), and it is masked to [0, OW).
// Divisions are by f32 (exact below 2^22): lavapipe runs integer division lane by lane.
// Tiling: grid x = sw phases x blocksW blocks of 64 columns, y = ih, z = (image nl0 + z / C of the
// chunk, channel z % C). Bounds: iw >= W returns.
struct Params {
  C: u32, H: u32, W: u32, OH: u32,
  OW: u32, KH: u32, KW: u32, sh: u32,
  sw: u32, ph: u32, pw: u32, Cg: u32,
  nOff: u32, nCount: u32, nl0: u32, Kgp: u32,
  blocksW: u32, _a: u32, _b: u32, _c: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<storage, read> dcol: array<f32>;

// a / d for a < 2^22
fn fdiv(a: u32, d: u32) -> u32 {
  return u32(floor((f32(a) + 0.5) / f32(d)));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let phase = fdiv(wid.x, p.blocksW);
  let j = (wid.x - phase * p.blocksW) * 64u + li;
  let iw = phase + j * p.sw;
  if (iw >= p.W) { return; }
  let ih = wid.y;
  let zc = fdiv(wid.z, p.C);
  let c = wid.z - zc * p.C;
  let nl = p.nl0 + zc;
  let g = fdiv(c, p.Cg);
  let cl = c - g * p.Cg;
  let rows = p.nCount * p.OH * p.OW;
  let base = (g * rows + nl * p.OH * p.OW) * p.Kgp + cl * p.KH * p.KW;
  let th = ih + p.ph;
  let tw = phase + p.pw;
  let kw0 = tw - fdiv(tw, p.sw) * p.sw;
  let q0 = i32(fdiv(tw - kw0, p.sw));
  var s = 0.0;
  var kh = th - fdiv(th, p.sh) * p.sh;
  loop {
    if (kh >= p.KH || kh > th) { break; }
    let oh = fdiv(th - kh, p.sh);
    if (oh < p.OH) {
      let rowBase = base + oh * p.OW * p.Kgp + kh * p.KW;
      var kw = kw0;
      var ow = i32(j) + q0;
      loop {
        if (kw >= p.KW) { break; }
        let ok = u32(ow) < p.OW;
        s = s + select(0.0, dcol[rowBase + u32(clamp(ow, 0, i32(p.OW) - 1)) * p.Kgp + kw], ok);
        kw = kw + p.sw;
        ow = ow - 1;
      }
    }
    kh = kh + p.sh;
  }
  dx[(((p.nOff + nl) * p.C + c) * p.H + ih) * p.W + iw] = s;
}
