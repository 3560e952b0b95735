// Naive reference pooling kernels (the benchmark's "naive" column; the simplest correct form), NCHW,
// dilation 1, no ceil mode, one element per invocation, PyTorch's semantics:
//   max fwd  y[nc][oh][ow] = max over the window's in-bounds taps (padding never wins; a NaN does, the last)
//   avg fwd  y[nc][oh][ow] = sum of the in-bounds taps / (count_include_pad ? window clipped to the
//            padded input : in-bounds taps)
//   max bwd  dx[nc][ih][iw] = sum of dy over the windows containing (ih, iw) whose first maximum (in
//            window order, recomputed here) is (ih, iw)
//   avg bwd  dx[nc][ih][iw] = sum of dy / divisor over the windows containing (ih, iw)
// Tiling: none, 64 invocations per workgroup over a flat element index (2-D grid for large tensors).
// Bounds: invocations past the tensor return; taps outside the input are skipped; a backward visits
// only the output rows and columns whose windows can contain its element.
struct Params {
  NC: u32, H: u32, W: u32, OH: u32,
  OW: u32, KH: u32, KW: u32, SH: u32,
  SW: u32, PH: u32, PW: u32, countPad: u32,
  total: u32, width: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
{{BINDINGS}}

struct Window { sum: f32, argmax: u32 }

// Window (oh, ow) of plane nc: the sum of its in-bounds taps, and its first maximum (a NaN wins, the
// last one) as a flat ih * W + iw index.
fn window(nc: u32, oh: u32, ow: u32) -> Window {
  var w = Window(0.0, 0xffffffffu);
  var m = 0.0; // replaced by the first in-bounds tap
  for (var kh = 0u; kh < p.KH; kh = kh + 1u) {
    let ih = i32(oh * p.SH + kh) - i32(p.PH);
    if (ih < 0 || ih >= i32(p.H)) { continue; }
    for (var kw = 0u; kw < p.KW; kw = kw + 1u) {
      let iw = i32(ow * p.SW + kw) - i32(p.PW);
      if (iw < 0 || iw >= i32(p.W)) { continue; }
      let v = x[(nc * p.H + u32(ih)) * p.W + u32(iw)];
      w.sum = w.sum + v;
      if (w.argmax == 0xffffffffu || v > m || v != v) { m = v; w.argmax = u32(ih) * p.W + u32(iw); }
    }
  }
  return w;
}

// The divisor of average window (oh, ow).
fn avgDivisor(oh: u32, ow: u32) -> f32 {
  let h0 = i32(oh * p.SH) - i32(p.PH);
  let w0 = i32(ow * p.SW) - i32(p.PW);
  let h1 = min(h0 + i32(p.KH), i32(p.H + p.PH));
  let w1 = min(w0 + i32(p.KW), i32(p.W + p.PW));
  if (p.countPad != 0u) { return f32((h1 - h0) * (w1 - w0)); }
  return f32((min(h1, i32(p.H)) - max(h0, 0)) * (min(w1, i32(p.W)) - max(w0, 0)));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.width + gid.x;
  if (i >= p.total) { return; }
{{BODY}}
}
