// Channels-last copy of an NCHW tensor: out[n][p][c] = x[n][c][p] (p < P = H*W pixels), the input of
// the channels-last conv GEMMs. Where the generic strided copy gathers each output element with its
// own scalar load (lavapipe issues every storage access one lane and one component at a time), this
// kernel moves 4 x 4 blocks with vec4 loads and stores: one invocation per (image, 4 pixels, 4
// channels) loads 4 vec4s (4 pixels of each of 4 channels), transposes them in registers and stores
// 4 vec4s (4 channels of each of 4 pixels). Needs P % 4 == 0, C % 4 == 0 and a 16-byte aligned x.
// Indexing: channels fastest (consecutive lanes store consecutive 16-byte blocks of an output pixel
// row), then pixels, then the image; i from global_invocation_id (lavapipe handles lane-consecutive
// indices faster in one-shot kernels). Bounds: i >= n (= N * P/4 * C/4) returns.
struct Params {
  n: u32,
  width: u32,   // invocations per grid row
  C4: u32,      // C / 4
  P4: u32,      // P / 4
  xo4: u32,     // x offset / 4
  P: u32,
  C: u32,
  pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.width + gid.x;
  if (i >= p.n) { return; }
  let c4 = i % p.C4;
  let rest = i / p.C4;
  let p4 = rest % p.P4;
  let img = rest / p.P4;
  // x[img][4 c4 + j][4 p4 ..] in vec4s: ((img * C + 4 c4 + j) * P + 4 p4) / 4
  let src = p.xo4 + (img * p.C + c4 * 4u) * p.P4 + p4;
  let r0 = x[src];
  let r1 = x[src + p.P4];
  let r2 = x[src + 2u * p.P4];
  let r3 = x[src + 3u * p.P4];
  // out[img][4 p4 + k][4 c4 ..] in vec4s: ((img * P + 4 p4 + k) * C + 4 c4) / 4
  let dst = (img * p.P + p4 * 4u) * p.C4 + c4;
  out[dst] = vec4<f32>(r0.x, r1.x, r2.x, r3.x);
  out[dst + p.C4] = vec4<f32>(r0.y, r1.y, r2.y, r3.y);
  out[dst + 2u * p.C4] = vec4<f32>(r0.z, r1.z, r2.z, r3.z);
  out[dst + 3u * p.C4] = vec4<f32>(r0.w, r1.w, r2.w, r3.w);
}
