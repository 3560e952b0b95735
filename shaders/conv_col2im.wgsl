// col2im for conv2d's input gradient when the input has few channels per group (the 7x7/2 stem has 3):
// the GEMM engine first computes dcol[g][pixel (n, oh, ow)][(c, kh, kw)] = sum_o dy * w (columns =
// c*kh*kw, which fill the GEMM's column tiles where the c columns alone would not), then this kernel
// gathers, for each input element, the dcol entries of the windows that touched it:
//   dx[n][c][ih][iw] = sum over (kh, kw) with oh = (ih + ph - kh*dh) / sh integral and in [0, OH)
//                      (same for w) of dcol[g][(n - nOff, oh, ow)][(c % Cg, kh, kw)]
// for the images [nOff, nOff + nCount) of one chunk. Gather, not scatter: no atomics, deterministic.
// Tiling: one input element per invocation, 64 per workgroup, 2-D grid. Bounds: i >= total returns.
struct Params {
  C: u32, H: u32, W: u32, OH: u32,
  OW: u32, KH: u32, KW: u32, sh: u32,
  sw: u32, ph: u32, pw: u32, dh: u32,
  dw: u32, Cg: u32, nOff: u32, nCount: u32,
  total: u32, width: u32, _a: u32, _b: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<storage, read> dcol: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.width + gid.x;
  if (i >= p.total) { return; }
  let iw = i % p.W;
  let ih = (i / p.W) % p.H;
  let c = (i / (p.W * p.H)) % p.C;
  let nl = i / (p.W * p.H * p.C);
  let g = c / p.Cg;
  let cl = c - g * p.Cg;
  let Kg = p.Cg * p.KH * p.KW;
  let rows = p.nCount * p.OH * p.OW;
  var s = 0.0;
  for (var kh = 0u; kh < p.KH; kh = kh + 1u) {
    let th = i32(ih + p.ph) - i32(kh * p.dh);
    if (th < 0 || th % i32(p.sh) != 0) { continue; }
    let oh = u32(th) / p.sh;
    if (oh >= p.OH) { continue; }
    for (var kw = 0u; kw < p.KW; kw = kw + 1u) {
      let tw = i32(iw + p.pw) - i32(kw * p.dw);
      if (tw < 0 || tw % i32(p.sw) != 0) { continue; }
      let ow = u32(tw) / p.sw;
      if (ow >= p.OW) { continue; }
      let row = (nl * p.OH + oh) * p.OW + ow;
      s = s + dcol[(g * rows + row) * Kg + (cl * p.KH + kh) * p.KW + kw];
    }
  }
  dx[((p.nOff + nl) * p.C + c) * p.H * p.W + ih * p.W + iw] = s;
}
