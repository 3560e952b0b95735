// Elementwise map, 4 elements an invocation: out[e .. e+3] = EXPR(a, b, c, s0, s1) for e = 4 i, on
// outputs whose innermost dimension is a multiple of 4 (so the 4 elements share every coordinate
// but the innermost). Generated per (expression, arity, rank, load form of each input) by
// engine/ops/map.ts; the params are those of shaders/elementwise.wgsl with n counted in vec4s.
// Each input is loaded in one of three forms:
//   vec4    innermost stride 1 and every other offset and stride a multiple of 4: one 16-byte load
//           (an input laid out like the output reads in{j}[off / 4 + i] directly);
//   splat   innermost stride 0 (broadcast along the row): one scalar load, used 4 times;
//   gather  any other stride: 4 scalar loads, s apart.
// The expression is evaluated once per component, as in the scalar kernel, so results are identical.
// Why: CPU drivers issue storage accesses one lane and one component at a time, so 16-byte accesses
// move 4x the data per access (a copy ran at 5.7 GB/s against 1.3 on lavapipe).
// Tiling: 64 invocations per workgroup; 2-D grid past 65535 workgroups. Bounds: i >= n returns.
struct Params {
  n: u32,
  s0: f32,
  s1: f32,
  width: u32,
  offs: vec4<u32>,
  oshape: array<vec4<u32>, 2>,
  ostride: array<vec4<u32>, 2>,
  astride: array<vec4<u32>, 2>,
  bstride: array<vec4<u32>, 2>,
  cstride: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
{{BINDINGS}}

{{FUNCTIONS}}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.width + gid.x;
  if (i >= p.n) { return; }
  let s0 = p.s0;
  let s1 = p.s1;
  let e = i * 4u;
{{INDEX}}
{{LOADS}}
  var o: vec4<f32>;
{{COMPONENTS}}
  out[i] = o;
}
