// Elementwise map: out[i] = EXPR(a, b, c, s0, s1) for every element i of a contiguous output.
// Generated per (expression, arity, rank, contiguity) by engine/ops/elementwise.ts.
// Inputs are strided views (NumPy broadcasting = stride 0; transposes and slices read in place):
// the flat output index is split into coordinates with the output's strides, and each input's
// element is at off + sum(coord[d] * stride[d]). An input whose layout equals the output's
// (contiguous, same shape) skips that and reads off + i directly.
// Tiling: 64 invocations per workgroup, one element each; the grid is 2-D when the element count
// needs more than 65535 workgroups. Bounds: invocations with i >= n return.
struct Params {
  n: u32,
  s0: f32,
  s1: f32,
  width: u32,           // invocations per grid row (x workgroups * 64)
  offs: vec4<u32>,      // element offsets of a, b, c
  oshape: array<vec4<u32>, 2>,
  ostride: array<vec4<u32>, 2>,
  astride: array<vec4<u32>, 2>,
  bstride: array<vec4<u32>, 2>,
  cstride: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
{{BINDINGS}}

{{FUNCTIONS}}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.width + gid.x;
  if (i >= p.n) { return; }
  let s0 = p.s0;
  let s1 = p.s1;
{{INDEX}}
{{LOADS}}
  out[i] = {{EXPR}};
}
