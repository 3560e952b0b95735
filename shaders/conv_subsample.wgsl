// A strided 1x1 conv's input subsampled into planes that start 256 bytes apart (engine/ops/conv_layouts.ts,
// subsampledPlanes): out[nc * plane + q] = x[xo + nc * HW + (q / OW) * sh * W + (q % OW) * sw] for every
// plane nc < N * C and pixel q < P = OH * OW. A matmul then copies the planes straight into a texture
// (rows of `plane` floats, a multiple of 64) instead of packing them.
// Tiling: elementMain (engine/kernels.ts): each invocation visits PER elements WG apart; element i is
// the 4 pixels 4i .. 4i + 3 of the written ones (nc * P + q), in one output row as OW % 4 == 0: one
// pair of divisions and one vec4 store for 4 gathered pixels. Bounds: elements i >= n = N * C * P / 4
// are not visited; each plane's tail (plane - P floats) is not written (the matmul's columns past P
// are discarded).
struct Params {
  n: u32,
  width: u32,
  xo: u32,
  P4: u32,        // P / 4
  OW4: u32,       // OW / 4
  rowStep: u32,   // sh * W
  sw: u32,
  HW: u32,
  plane4: u32,    // plane / 4
  _a: u32,
  _b: u32,
  _c: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> x: array<f32>;

fn element(i: u32) {
  let nc = i / p.P4;
  let q4 = i - nc * p.P4;
  let oh = q4 / p.OW4;
  let at = p.xo + nc * p.HW + oh * p.rowStep + (q4 - oh * p.OW4) * 4u * p.sw;
  out[nc * p.plane4 + q4] = vec4<f32>(x[at], x[at + p.sw], x[at + 2u * p.sw], x[at + 3u * p.sw]);
}

{{ELEMENT_MAIN}}
