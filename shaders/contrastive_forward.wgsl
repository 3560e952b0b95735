// Fused contrastive forward (NT-Xent, SupCon, CLIP, MoCo InfoNCE): for each anchor row i of A
// (L2-normalized, rows padded to D4 vec4s) against every candidate row j of C (also normalized):
//   s_ij = scale * <a_i, c_j>        over the valid columns (j < cols; j != i when C is A)
//   lse_i = log sum_j exp(s_ij)      (plus the extra positive s_ie = scale * <a_i, kn_i> for MoCo)
//   positives P(i): same label (C is A), j == i (CLIP), or the extra key (MoCo)
//   stats[i] = (lse_i, w_i, u_i, w_i * (lse_i - mean_{j in P(i)} s_ij))
// with w_i = weight, u_i = weight / |P(i)| when P(i) is non-empty, else all zero (the anchor adds
// nothing: SupCon's convention). The loss is sum_i stats[i].w; the backward kernel reads lse, w, u.
// Never materializes the rows x cols matrix: the logsumexp is online (flash-style) over the
// columns: m' = max(m, s), l = l * exp(m - m') + exp(s - m').
// Tiling (generated code, see losses/contrastive.ts): each invocation owns R anchor rows, held in
// registers (straight-line code over the D4 vec4s of a row when d is small enough, else a loop that
// reads them from `a`); every invocation walks the columns in the same order, so the column being
// read has the same address in every lane (one load shared by the SIMD lanes of a CPU driver, a
// broadcast from cache on a GPU). Workgroup: WG invocations, 2-D grid.
// Bounds: invocations whose first row is past `rows` return; their other rows past `rows` are
// clamped to the last row for loads and never stored; d is padded with zeros to a multiple of 4
// by the normalization pass, which contributes nothing to the dot products.
{{ENABLE}}struct Params {
  rows: u32,
  cols: u32,
  width: u32,
  labelMod: u32,
  scale: f32,
  weight: f32,
  scOff: u32,
  _pad: u32,
}

const NEG: f32 = -3.4028234663852886e38;

@group(0) @binding(0) var<uniform> p: Params;
{{BINDINGS}}

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>{{SG_ARG}}) {
{{BODY}}
}
