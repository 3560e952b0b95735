// Fused contrastive forward (NT-Xent, SupCon, CLIP, MoCo InfoNCE): for each anchor row i of A
// (L2-normalized, rows padded to D4 vec4s) against every candidate row j of C (also normalized):
//   s_ij = scale * <a_i, c_j>        over the valid columns (j < cols; j != i when C is A)
//   lse_i = log sum_j exp(s_ij)      (plus the extra positive s_ie = scale * <a_i, kn_i> for MoCo)
//   positives P(i): same label (C is A), j == i (CLIP), or the extra key (MoCo)
//   stats[i] = (lse_i, w_i, u_i, w_i * (lse_i - mean_{j in P(i)} s_ij))
// with w_i = weight, u_i = weight / |P(i)| when P(i) is non-empty, else all zero (the anchor adds
// nothing: SupCon's convention). The loss is sum_i stats[i].w; the backward kernel reads lse, w, u.
// Never materializes the rows x cols matrix: the logsumexp is online (flash-style) over column
// tiles of CG columns: per tile m' = max(m, tile max), l = l * exp(m - m') + sum exp(s - m').
// Tiling (generated straight-line code, see losses/contrastive.ts): each invocation owns R anchor
// rows, held in registers; a subgroup of lanes loads CG columns at once (lane l loads column
// j0 + l) and shares them with subgroupBroadcast, so every column element is loaded once per
// subgroup (without subgroups each invocation loads the CG columns itself). Workgroup: WG invocations.
// Bounds: anchor rows past `rows` are clamped to the last row for loads and never stored (no early
// return: every lane must reach the broadcasts); columns past `cols` are clamped for loads and
// masked out of the sums; d is padded with zeros to a multiple of 4 by the normalization pass.
{{ENABLE}}
struct Params {
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
