// 2-D pooling over NCHW planes, forward and backward, one template rendered per mode by
// engine/ops/pool.ts:
//   max.fwd   y = max over the window (padding ignored; NaN wins, the first maximum in (kh, kw)
//             order is kept, as PyTorch), idx = ih * W + iw of that element (int32, for backward)
//   max.bwd   dx[ih][iw] = sum of g over the windows whose recorded idx is this element (the gather
//             form; the default is max.bwd.scatter below)
//   max.bwd.scatter  dx[idx[o]] += g[o] for the outputs o of one phase (oh % PH, ow % PW fixed, with
//             PH, PW the window's extent over the stride rounded up, so no two windows of a phase
//             overlap); dx cleared first, one dispatch per phase: no atomics, a fixed order of sums
//   avg.fwd   y = sum over the window / divisor (count_include_pad, ceil_mode and divisor_override
//             rules of PyTorch)
//   avg.bwd   dx[ih][iw] = sum over windows containing the element of g / divisor
//   ada.fwd   adaptive average: window [floor(o * H / OH), ceil((o + 1) * H / OH)) per axis
//   ada.bwd   dx[ih][iw] = sum over adaptive windows containing the element of g / window size
//   gap.fwd   global average (1x1 output): one invocation per plane (its gradient is
//             shaders/pool_gap_grad.wgsl)
// The other backward passes gather (each input element visits the few windows that can contain it),
// so there are no atomics and results are deterministic. For max/avg the window taps and
// the candidate windows are generated straight-line per kernel geometry (engine/ops/pool.ts), masked
// with select on clamped loads; the adaptive modes loop over their (data-dependent) windows.
// Tiling: one output (fwd) or input (bwd) element per invocation and row. max/avg: WG invocations
// along a row, each visiting ROWS rows (engine/ops/pool.ts, windowTiling: 16 x 8 for avg on CPU
// drivers, which start every workgroup separately; 64 x 1 otherwise); grid (ceil(width / WG),
// ceil(height / ROWS), planes) with the geometry baked in as constants, so no integer division by
// runtime values (CPU drivers issue those one lane at a time). Adaptive: 64 invocations, grid (ceil(plane / 64), C, N). The column comes from
// global_invocation_id itself (lavapipe loads faster from indices it knows to be lane-consecutive).
// Bounds: invocations past the row, the last row or the plane return (each bound holds for every later
// row an invocation visits); window taps outside the input are masked.
struct Params {
  N: u32, C: u32, H: u32, W: u32,
  OH: u32, OW: u32, kh: u32, kw: u32,
  sh: u32, sw: u32, ph: u32, pw: u32,
  dh: u32, dw: u32, countPad: u32, divisor: u32,
  xo: u32, go: u32, _a: u32, _b: u32,  // _a: 0 (keeps -inf a runtime value), _b: first plane
}

@group(0) @binding(0) var<uniform> p: Params;
{{BINDINGS}}

// Adaptive window o of nOut over nIn elements: [adaStart, adaEnd) = [floor(o nIn / nOut),
// ceil((o + 1) nIn / nOut)). With the sizes swapped the same bounds give the windows that can
// contain input element o (the backward pass's candidates).
fn adaStart(o: u32, nIn: u32, nOut: u32) -> u32 {
  return (o * nIn) / nOut;
}

fn adaEnd(o: u32, nIn: u32, nOut: u32) -> u32 {
  return ((o + 1u) * nIn + nOut - 1u) / nOut;
}

fn isNan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn avgDivisor(oh: u32, ow: u32) -> f32 {
  if (p.divisor != 0u) { return f32(p.divisor); }
  let h0 = i32(oh * p.sh) - i32(p.ph);
  let w0 = i32(ow * p.sw) - i32(p.pw);
  var h1 = min(h0 + i32(p.kh), i32(p.H + p.ph));
  var w1 = min(w0 + i32(p.kw), i32(p.W + p.pw));
  if (p.countPad != 0u) { return f32((h1 - h0) * (w1 - w0)); }
  h1 = min(h1, i32(p.H));
  w1 = min(w1, i32(p.W));
  return f32((h1 - max(h0, 0)) * (w1 - max(w0, 0)));
}

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid0: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
{{BODY}}
}
