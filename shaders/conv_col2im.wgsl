// col2im for conv2d's input gradient when the input has few channels per group (the 7x7/2 stem has 3):
// the GEMM engine first computes dcol[g][pixel (n, oh, ow)][(c, kh, kw)] = sum_o dy * w (columns =
// c*kh*kw, which fill the GEMM's column tiles where the c columns alone would not), then this kernel
// gathers, for each input element, the dcol entries of the windows that touched it:
//   dx[n][c][ih][iw] = sum over (kh, kw) with oh = (ih + ph - kh*dh) / sh integral and in [0, OH)
//                      (same for w) of dcol[g][(n - nOff, oh, ow)][(c % Cg, kh, kw)]
// (dcol rows are Kgp = Cg*KH*KW rounded up to a multiple of 4 floats apart)
// for the images [nOff, nOff + nCount) of one chunk. Gather, not scatter: no atomics, deterministic.
// Only the taps that divide evenly are visited, without a per-lane division or modulo (CPU drivers run
// those lane by lane): along each axis the valid k form a progression k0, k0 + P, ... with
// P = s / gcd(d, s) (periodH / periodW), found by walking k*d mod s over one period, and the output
// index falls by P*d / s (dropH / dropW) from one valid k to the next.
// Tiling: 64 input columns (iw) per workgroup; grid y = input rows (ih), z = (image nl0 + z / C of the
// chunk, channel z % C), so ih, n and c are uniform per workgroup. Narrow inputs (W < 64; rowsPer =
// floor(64 / W) > 1) put rowsPer whole rows in a workgroup instead (grid y = ceil(H / rowsPer); lane l
// takes row l / W, found by an f32 division, exact for l < 64), so a 7 x 7 plane is 1 workgroup, not 7
// with 57 of 64 lanes idle. Bounds: iw >= W, a lane past rowsPer rows, or ih >= H returns.
struct Params {
  C: u32, H: u32, W: u32, OH: u32,
  OW: u32, KH: u32, KW: u32, sh: u32,
  sw: u32, ph: u32, pw: u32, dh: u32,
  dw: u32, Cg: u32, nOff: u32, nCount: u32,
  periodH: u32, periodW: u32, dropH: u32, dropW: u32,
  nl0: u32, Kgp: u32, rowsPer: u32, _c: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<storage, read> dcol: array<f32>;

// First valid tap along one axis for input coordinate x: returns (k0, o0) with k0*d == x + pad - o0*s,
// or k0 = 0xffffffff when no tap divides evenly. k*d mod s is walked incrementally over one period.
fn firstTap(x: u32, pad: u32, s: u32, d: u32, period: u32) -> vec2<u32> {
  let t = x + pad;
  // t = q*s + r without a division: s is small, and t / s is exact in f32 for t < 2^24
  var q = u32(floor(f32(t) / f32(s)));
  var r = i32(t) - i32(q * s);
  if (r < 0) { q = q - 1u; r = r + i32(s); }
  if (r >= i32(s)) { q = q + 1u; r = r - i32(s); }
  let dm = d % s;
  var m = 0u; // (k * d) mod s
  var w = 0u; // (k * d) / s
  var k = 0u;
  loop {
    if (k >= period || m == u32(r)) { break; }
    m = m + dm;
    w = w + d / s;
    if (m >= s) { m = m - s; w = w + 1u; }
    k = k + 1u;
  }
  if (k >= period) { return vec2<u32>(0xffffffffu, 0u); }
  // k*d = w*s + r, so o = (t - k*d) / s = q - w (below zero when the first tap is past the input)
  return vec2<u32>(k, q - w);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  var iw = gid.x;
  var ih = wid.y;
  if (p.rowsPer > 1u) {
    let lr = u32(floor((f32(li) + 0.5) / f32(p.W)));
    iw = li - lr * p.W;
    ih = wid.y * p.rowsPer + lr;
    if (lr >= p.rowsPer || ih >= p.H) { return; }
  }
  if (iw >= p.W) { return; }
  // divisions by f32 (exact below 2^24): lavapipe runs integer division lane by lane
  let zc = u32(floor((f32(wid.z) + 0.5) / f32(p.C)));
  let c = wid.z - zc * p.C;
  let nl = p.nl0 + zc;
  let g = u32(floor((f32(c) + 0.5) / f32(p.Cg)));
  let cl = c - g * p.Cg;
  let rows = p.nCount * p.OH * p.OW;
  let base = (g * rows + nl * p.OH * p.OW) * p.Kgp + cl * p.KH * p.KW;
  let th = firstTap(ih, p.ph, p.sh, p.dh, p.periodH);
  let tw = firstTap(iw, p.pw, p.sw, p.dw, p.periodW);
  var s = 0.0;
  var kh = th.x;
  var oh = i32(th.y);
  loop {
    if (kh >= p.KH || oh < 0) { break; }
    if (u32(oh) < p.OH) {
      var kw = tw.x;
      var ow = i32(tw.y);
      loop {
        if (kw >= p.KW || ow < 0) { break; }
        if (u32(ow) < p.OW) {
          s = s + dcol[base + (u32(oh) * p.OW + u32(ow)) * p.Kgp + kh * p.KW + kw];
        }
        kw = kw + p.periodW;
        ow = ow - i32(p.dropW);
      }
    }
    kh = kh + p.periodH;
    oh = oh - i32(p.dropH);
  }
  dx[(((p.nOff + nl) * p.C + c) * p.H + ih) * p.W + iw] = s;
}
