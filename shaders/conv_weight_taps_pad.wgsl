// A conv weight re-laid out tap-major with its channels padded to a multiple of 4:
// out[o][t][c] = w[o][c][t] for c < C, 0 for C <= c < 4 * C4 (t < T = KH * KW taps), the B operand of
// conv2d's channels-last forward when C is not a multiple of 4 (the RGB stem; shaders/conv_weight_taps.wgsl
// is the vec4 kernel for C % 4 == 0). C, T and C4 are baked in.
// Tiling: elementMain (engine/kernels.ts): one element = 4 channels of one (o, t), i = (o * T + t) * C4 + c4;
// up to 4 scalar loads, one vec4 store. Bounds: an invocation stops at the first i >= n.
struct Params {
  n: u32,
  width: u32,   // workgroups per grid row
  wo: u32,      // w's offset (elements)
  _a: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<f32>;

const C = {{C}}u;
const T = {{T}}u;
const C4 = {{C4}}u;

// channel c of tap t of output channel o, 0 past C
fn tap(o: u32, t: u32, c: u32) -> f32 {
  return select(0.0, w[p.wo + (o * C + min(c, C - 1u)) * T + t], c < C);
}

fn element(i: u32) {
  let c4 = i % C4;
  let ot = i / C4;
  let o = ot / T;
  let t = ot - o * T;
  let c = 4u * c4;
  out[i] = vec4<f32>(tap(o, t, c), tap(o, t, c + 1u), tap(o, t, c + 2u), tap(o, t, c + 3u));
}

{{ELEMENT_MAIN}}
