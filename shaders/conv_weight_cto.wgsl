// Re-layout of a conv weight (one group) for the stride-1 channels-last input-grad: w[o][c][t] (OIHW,
// o < O output channels, c < C input channels, t < T = kH*kW taps) -> out[(c * T + t) * O + o], i.e.
// [C][T][O]: row c of the input-grad's B stored N x K with K = (tap, o). With few output rows (ResNet
// stage 5 at batch 2) the GEMM ran 6.4-6.8 ms on it against 6.8-9.5 on the K x N layout [T][O][C].
// Tiling: one invocation per (4 input channels c..c+3, 4 output channels o..o+3): for each of the 4
// o it loads the 4 channels' T taps as T contiguous vec4s (4*T floats at (o * C + c) * T, 16-byte
// aligned as C % 4 == 0 and the weight's offset is a multiple of 4), then stores 4 * T vec4s, one per
// (channel, tap), holding the 4 o (out is 16-byte aligned as O % 4 == 0). Loads and stores are
// unrolled, generated per T by engine/ops/conv2d.ts (weightTapsLast). Bounds: i >= n (= C * O / 16)
// returns.
struct Params {
  n: u32,
  width: u32,      // invocations per grid row
  O4: u32,         // O / 4
  C: u32,
  wo4: u32,        // weight offset / 4
  pad0: u32,
  pad1: u32,
  pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.width + gid.x;
  if (i >= p.n) { return; }
  let o4 = i % p.O4;
  let c = (i / p.O4) * 4u;
  // o = 4 * o4 + j starts at vec4 (o * C + c) * T / 4; consecutive o are C * T / 4 vec4s apart
  let src0 = p.wo4 + ((o4 * 4u) * p.C + c) * {{T}}u / 4u;
  let step = p.C * {{T}}u / 4u;
  let dst = c * {{T}}u * p.O4 + o4;
{{BODY}}
}
