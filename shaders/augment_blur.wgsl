// Separable Gaussian blur of the blurred views of a batch, one axis per dispatch, with reflect
// padding (torch 'reflect': index -i for i < 0, 2(L-1) - i for i >= L), as torchvision's gaussian_blur.
// Slot s (0..nb) blurs view views[s]. Axis 0 (horizontal) reads the batch output `inp` at view
// views[s] and writes the compact scratch `out` at slot s; axis 1 (vertical) reads the scratch at
// slot s and writes the batch output at views[s], normalized ((x - mean) / std per channel).
// out[s, ch, y, x] = sum_k w[s, axis, k] · in[s', ch, reflect(y or x + k - R)], k = 0..2R.
// Weights: [nb, 2, 2R+1] f32.
// Template placeholders: C (channels), R (radius), K (outputs per invocation) and BODY, the
// straight-line code the host generates: each invocation loads a run of K + 2R input pixels along
// the axis once, into registers, and produces K consecutive outputs from them (K·(2R+1)·C
// multiply-adds, (K+2R)·C loads instead of K·(2R+1)·C: loads are what costs on lavapipe).
// Tiling: one run of K outputs (all channels) per invocation, 64 per workgroup, 2-D grid
// (index = gid.y·width + gid.x); horizontal runs are indexed (slot, y, run), vertical ones
// (slot, run, x) so neighbouring lanes read neighbouring columns. Bounds: i >= total returns;
// outputs past the end of a line are not written; input indices are reflected, then clamped into
// the line (only discarded outputs read clamped values; R < side is checked on the host).
struct Params {
  total: u32,
  ho: u32,
  wo: u32,
  axis: u32,
  width: u32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
  mean: vec4<f32>,
  stdev: vec4<f32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read> views: array<u32>;

const C: u32 = {{C}}u;
const R: i32 = {{R}};
const K: u32 = {{K}}u;

fn refl(i: i32, len: i32) -> u32 {
  var j = select(i, -i, i < 0);
  j = select(j, 2 * (len - 1) - j, j >= len);
  return u32(clamp(j, 0, len - 1));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.width + gid.x;
  if (i >= p.total) { return; }
  let hw = p.ho * p.wo;
  let horizontal = p.axis == 0u;
  let len = select(p.ho, p.wo, horizontal);
  let across = select(p.wo, p.ho, horizontal);
  let runs = (len + K - 1u) / K;
  var slot: u32;
  var run: u32;
  var line: u32;
  if (horizontal) {
    run = i % runs;
    line = (i / runs) % across;
    slot = i / (runs * across);
  } else {
    line = i % across;
    run = (i / across) % runs;
    slot = i / (runs * across);
  }
  let view = views[slot];
  let inBase = select(slot, view, horizontal) * C * hw;
  let outBase = select(view, slot, horizontal) * C * hw;
  let wb = (2u * slot + p.axis) * u32(2 * R + 1);
  let stride = select(p.wo, 1u, horizontal);
  let lineOff = select(line, line * p.wo, horizontal);
  let first = i32(run * K);
  let ilen = i32(len);
  let inFixed = inBase + lineOff;
  let outFixed = outBase + lineOff;
  let norm = !horizontal;
{{BODY}}
}
