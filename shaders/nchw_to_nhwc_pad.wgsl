// Channels-last copy with the channels padded to a multiple of 4: out[n][p][c] = x[n][c][p] for
// c < C, 0 for C <= c < 4 * C4 (p < HW pixels). It feeds conv2d's forward on a flat texture when C is
// not a multiple of 4 (the RGB stem: 3 channels become 4, one texel a pixel).
// Tiling: elementMain (engine/kernels.ts): one element = 4 channels of one pixel, i = pix * C4 + c4;
// up to 4 scalar loads (channels past C are not loaded), one vec4 store. C, HW and C4 are baked in
// (lavapipe divides by uniforms lane by lane).
// Bounds: an invocation stops at the first i >= n (= N * HW * C4).
struct Params {
  n: u32,
  width: u32,   // workgroups per grid row
  xo: u32,      // x's offset (elements)
  _a: u32,
}

const C = {{C}}u;
const HW = {{HW}}u;
const C4 = {{C4}}u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> x: array<f32>;

// channel c of the pixel at `base` (channel 0), 0 past C
fn ch(base: u32, c: u32) -> f32 {
  return select(0.0, x[base + min(c, C - 1u) * HW], c < C);
}

fn element(i: u32) {
  let c4 = i % C4;
  let pix = i / C4;
  let img = pix / HW;
  let base = p.xo + img * C * HW + (pix - img * HW);
  let c = 4u * c4;
  out[i] = vec4<f32>(ch(base, c), ch(base, c + 1u), ch(base, c + 2u), ch(base, c + 3u));
}

{{ELEMENT_MAIN}}
