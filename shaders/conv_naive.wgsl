// Naive reference convolution kernels (the benchmark's "naive" column; the simplest correct form):
// one output element per invocation, looping over every tap, NCHW input, OIHW weight, groups.
//   fwd  y[n][o][oh][ow] = b[o] + sum_{c,kh,kw} x[n][g*Cg+c][oh*sh-ph+kh*dh][ow*sw-pw+kw*dw] * w[o][c][kh][kw]
//   dx   dx[n][c][ih][iw] = sum over (o, kh, kw) with oh = (ih+ph-kh*dh)/sh integral and in range of dy * w
//   dw   dw[o][c][kh][kw] = sum_{n,oh,ow} dy[n][o][oh][ow] * x[n][g*Cg+c][ih][iw]
// Tiling: none, 64 invocations per workgroup over a flat output index (2-D grid for large outputs).
// Bounds: invocations past the output return; taps outside the input are skipped.
struct Params {
  N: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, KH: u32,
  KW: u32, sh: u32, sw: u32, ph: u32,
  pw: u32, dh: u32, dw: u32, G: u32,
  total: u32, width: u32, hasBias: u32, _p: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
{{BINDINGS}}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.width + gid.x;
  if (i >= p.total) { return; }
  let Cg = p.C / p.G;
  let Og = p.O / p.G;
{{BODY}}
}
