// Re-layout of a conv weight for the channels-last forward GEMM: w[go][c][t] (OIHW: go = output
// channel, c < Cg, t < T = kH*kW taps) -> out[go * soO + t * soT + c]; the forward uses [O][T][Cg]
// (soO = T * Cg, soT = Cg; K = (tap, c)), and the stride-1 input-grad [T][O][Cg] (soO = Cg, soT = O *
// Cg): plain row-major GEMM operands that 16-lane variants copy straight into a texture, where a pack
// kernel would gather them 4 scalar loads per vec4.
// Tiling: one invocation per (go, 4 channels): it loads the 4 channels' T taps as T contiguous vec4s
// (4*T floats starting at (go*Cg + c)*T, 16-byte aligned as Cg % 4 == 0 and the weight's offset is a
// multiple of 4) and stores T vec4s, one per tap, regrouped in registers; the T loads and stores are
// unrolled, generated per T by engine/ops/conv_layouts.ts (weightTapsLast). Bounds: i >= n (= O * Cg / 4)
// returns.
struct Params {
  n: u32,
  width: u32,      // invocations per grid row
  C4: u32,         // Cg / 4
  wo4: u32,        // weight offset / 4
  soO4: u32,       // soO / 4
  soT4: u32,       // soT / 4
  pad0: u32,
  pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.width + gid.x;
  if (i >= p.n) { return; }
  let c4 = i % p.C4;
  let go = i / p.C4;
  let src = p.wo4 + (go * p.C4 + c4) * {{T}}u;
  let dst = go * p.soO4 + c4;
{{BODY}}
}
