// Arithmetic ceiling of the adapter (bench only, bench/ceiling.ts): what a kernel that never touches
// memory in its loop reaches, so the GEMM rows of `npm run bench` can be read against what the driver
// can do at all on the machine at hand. Each invocation keeps {{ACCS}} vec4 accumulators, starts them
// at distinct values, and runs p.iters loop iterations; an iteration updates every accumulator
// {{UNROLL}} times as acc = acc * m + c (m, c from the Params block, so nothing folds at compile time),
// a multiply and an add per component: 2 * 4 * {{ACCS}} * {{UNROLL}} FLOPs per iteration. A straight
// shape has no loop: the {{UNROLL}} updates run once (p.iters unused). Generated code, unrolled
// as the lavapipe GEMMs are (engine/ops/matmul.ts). Each invocation writes the sum of
// its accumulators (out[global index]), which the bench checks against the same recurrence on the host
// so the work cannot have been optimized away.
// Bounds: one workgroup of {{WGSIZE}} invocations per grid cell; out holds every invocation's sum.
struct Params {
  iters: u32,
  m: f32,
  c: f32,
  _pad: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size({{WGSIZE}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let gi = wid.x * {{WGSIZE}}u + li;
  let x = f32(gi % 64u) * 0.015625;
  let m = vec4<f32>(p.m);
  let c = vec4<f32>(p.c);
{{INIT}}
{{BODY}}
  out[gi] = {{SUM}};
}
