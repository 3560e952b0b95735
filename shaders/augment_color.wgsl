// SimCLR augmentation, geometric and colour part, for a batch of views: for view v and output pixel
// (y, x): bilinear resampling (half-pixel centres, align_corners = false, edge-clamped, as
// torch.nn.functional.interpolate) of the crop box views[v].box (top, left, height, width) of source
// image views[v].src to ho × wo, horizontally mirrored when flags & 1; then, when flags & 2, colour
// jitter as torchvision defines it on float images — brightness clamp(b·x), contrast
// clamp(c·x + (1-c)·mean(gray)), saturation clamp(s·x + (1-s)·gray), hue shift in HSV — applied
// in the order packed in views[v].order (2 bits per step); then, when flags & 4, grayscale
// (0.299 R + 0.587 G + 0.114 B, replicated). For one-channel images saturation, hue and grayscale
// are identities and gray(x) = x. Output: planar [n, c, ho, wo] f32, normalized
// ((x - mean) / std per channel) when flags & 8 (views to be blurred stay in [0, 1]: the blur's
// second pass normalizes them).
// Sources: one u32 per pixel, RGBA8 packed (R in the low byte), [n_src, hs, ws].
// Template placeholder WG: lanes per workgroup (a power of two; the host picks 64 for views of at
// most 4096 pixels, 256 above). Tiling: one workgroup of WG lanes per view; lanes stride over the
// view's pixels. Contrast needs the mean gray level of the view as it is when contrast runs, so a
// first sweep recomputes the pixels up to that step and reduces their gray levels in workgroup
// memory (skipped work, not skipped barriers, when the view has no jitter). Bounds: lanes past the last pixel do no work;
// crop indices are clamped to the box, and the box lies inside the source (checked on the host).
struct Params {
  n: u32,
  c: u32,
  hs: u32,
  ws: u32,
  ho: u32,
  wo: u32,
  unused: u32,
  width: u32,
  mean: vec4<f32>,
  stdev: vec4<f32>,
}

struct View {
  src: u32,
  flags: u32,
  order: u32,
  pad0: u32,
  box: vec4<f32>,
  jit: vec4<f32>,
  pad1: vec4<f32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<u32>;
@group(0) @binding(3) var<storage, read> views: array<View>;

var<workgroup> partial: array<f32, {{WG}}>;

const LUMA = vec3<f32>(0.299, 0.587, 0.114);

fn gray(c: vec3<f32>) -> f32 {
  if (p.c == 1u) { return c.x; }
  return dot(c, LUMA);
}

fn texel(base: u32, y: u32, x: u32) -> vec3<f32> {
  return unpack4x8unorm(src[base + y * p.ws + x]).xyz;
}

fn sample_view(v: View, oy: u32, ox_in: u32) -> vec3<f32> {
  var ox = ox_in;
  if ((v.flags & 1u) != 0u) { ox = p.wo - 1u - ox_in; }
  let bh = u32(v.box.z);
  let bw = u32(v.box.w);
  let sy = max((v.box.z / f32(p.ho)) * (f32(oy) + 0.5) - 0.5, 0.0);
  let sx = max((v.box.w / f32(p.wo)) * (f32(ox) + 0.5) - 0.5, 0.0);
  let y0 = min(u32(floor(sy)), bh - 1u);
  let x0 = min(u32(floor(sx)), bw - 1u);
  let y1 = min(y0 + 1u, bh - 1u);
  let x1 = min(x0 + 1u, bw - 1u);
  let ly = clamp(sy - f32(y0), 0.0, 1.0);
  let lx = clamp(sx - f32(x0), 0.0, 1.0);
  let base = v.src * p.hs * p.ws;
  let top = u32(v.box.x);
  let left = u32(v.box.y);
  let a = texel(base, top + y0, left + x0);
  let b = texel(base, top + y0, left + x1);
  let c = texel(base, top + y1, left + x0);
  let d = texel(base, top + y1, left + x1);
  return (1.0 - ly) * ((1.0 - lx) * a + lx * b) + ly * ((1.0 - lx) * c + lx * d);
}

fn rgb2hsv(c: vec3<f32>) -> vec3<f32> {
  let maxc = max(c.x, max(c.y, c.z));
  let minc = min(c.x, min(c.y, c.z));
  let eqc = maxc == minc;
  let cr = maxc - minc;
  let s = cr / select(maxc, 1.0, eqc);
  let crd = select(cr, 1.0, eqc);
  let rc = (maxc - c.x) / crd;
  let gc = (maxc - c.y) / crd;
  let bc = (maxc - c.z) / crd;
  var h: f32;
  if (maxc == c.x) {
    h = bc - gc;
  } else if (maxc == c.y) {
    h = 2.0 + rc - bc;
  } else {
    h = 4.0 + gc - rc;
  }
  h = h / 6.0 + 1.0;
  h = h - floor(h);
  return vec3<f32>(h, s, maxc);
}

fn hsv2rgb(hsv: vec3<f32>) -> vec3<f32> {
  let h = hsv.x;
  let s = hsv.y;
  let v = hsv.z;
  let fi = floor(h * 6.0);
  let f = h * 6.0 - fi;
  let i = u32(fi) % 6u;
  let pp = clamp(v * (1.0 - s), 0.0, 1.0);
  let q = clamp(v * (1.0 - s * f), 0.0, 1.0);
  let t = clamp(v * (1.0 - s * (1.0 - f)), 0.0, 1.0);
  switch i {
    case 0u: { return vec3<f32>(v, t, pp); }
    case 1u: { return vec3<f32>(q, v, pp); }
    case 2u: { return vec3<f32>(pp, v, t); }
    case 3u: { return vec3<f32>(pp, q, v); }
    case 4u: { return vec3<f32>(t, pp, v); }
    default: { return vec3<f32>(v, pp, q); }
  }
}

// Applies the first `steps` jitter operations of view v to c; `m` is the contrast mean.
fn jitter(v: View, c_in: vec3<f32>, steps: u32, m: f32) -> vec3<f32> {
  var c = c_in;
  for (var k = 0u; k < steps; k++) {
    let op = (v.order >> (2u * k)) & 3u;
    if (op == 0u) {
      c = clamp(v.jit.x * c, vec3<f32>(0.0), vec3<f32>(1.0));
    } else if (op == 1u) {
      c = clamp(v.jit.y * c + (1.0 - v.jit.y) * m, vec3<f32>(0.0), vec3<f32>(1.0));
    } else if (op == 2u) {
      if (p.c == 3u) {
        c = clamp(v.jit.z * c + (1.0 - v.jit.z) * gray(c), vec3<f32>(0.0), vec3<f32>(1.0));
      }
    } else {
      if (p.c == 3u) {
        var hsv = rgb2hsv(c);
        hsv.x = hsv.x + v.jit.w;
        hsv.x = hsv.x - floor(hsv.x);
        c = hsv2rgb(hsv);
      }
    }
  }
  return c;
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let vi = wid.y * p.width + wid.x;
  let live = vi < p.n;
  let v = views[min(vi, p.n - 1u)];
  let npix = p.ho * p.wo;
  let jittered = live && (v.flags & 2u) != 0u;

  // sweep 1: mean gray level just before the contrast step
  var contrastAt = 4u;
  for (var k = 0u; k < 4u; k++) {
    if (((v.order >> (2u * k)) & 3u) == 1u && contrastAt == 4u) { contrastAt = k; }
  }
  var acc = 0.0;
  if (jittered) {
    for (var i = lid; i < npix; i += {{WG}}u) {
      let c = jitter(v, sample_view(v, i / p.wo, i % p.wo), contrastAt, 0.0);
      acc += gray(c);
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = {{WG}}u / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  let m = partial[0] / f32(npix);
  if (!live) { return; }

  // sweep 2: the output pixels
  let plane = npix;
  let obase = vi * p.c * plane;
  for (var i = lid; i < npix; i += {{WG}}u) {
    var c = sample_view(v, i / p.wo, i % p.wo);
    if (jittered) { c = jitter(v, c, 4u, m); }
    if ((v.flags & 4u) != 0u && p.c == 3u) { c = vec3<f32>(dot(c, LUMA)); }
    if ((v.flags & 8u) != 0u) {
      c = (c - p.mean.xyz) / p.stdev.xyz;
    }
    out[obase + i] = c.x;
    if (p.c == 3u) {
      out[obase + plane + i] = c.y;
      out[obase + 2u * plane + i] = c.z;
    }
  }
}
