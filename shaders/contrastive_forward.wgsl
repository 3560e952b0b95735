// Fused contrastive forward (NT-Xent, SupCon, CLIP, MoCo InfoNCE): for each anchor row i of A
// (L2-normalized, rows padded to D4 vec4s) against every candidate row j of C (also normalized):
//   s_ij = scale * <a_i, c_j>   over the valid columns (j < cols; j != i when C is A)
//   positives P(i): same label (C is A), j == i (CLIP), or one extra key kn_i (MoCo, s_ie)
//   lseN_i = log sum_{j not in P(i)} exp(s_ij),  lseP_i = log sum_{j in P(i)} exp(s_ij)
//   loss_i = lse_i - mean_{P(i)} s_ij = (lseP_i - mean_{P(i)} s_ij) + softplus(lseN_i - lseP_i)
// Keeping the negatives and the positives in separate online logsumexps makes a confident anchor's
// small loss (and, in the backward pass, 1 - p(positive) = sigmoid(lseN - lseP)) accurate in f32
// instead of a difference of two nearly equal logsumexps. Output per anchor, two vec4:
//   stats[2i]     = (lse_i, w_i, u_i, w_i * loss_i)    w_i = weight, u_i = weight / |P(i)|
//   stats[2i + 1] = (lseP_i, q_i, 0, 0)                q_i = sigmoid(lseN_i - lseP_i)
// (w, u and the contribution are 0 for an anchor without positives: SupCon's convention). The loss
// is sum_i stats[2i].w (contrastive_sum.wgsl).
// Never materializes the rows x cols matrix: each logsumexp is online (flash-style) over column
// tiles of CG columns: m' = max(m, tile max), l = l * exp(m - m') + sum exp(s - m').
// Tiling (generated code, see losses/contrastive.ts): each invocation owns R anchor rows, held in
// registers and reached through a binary tree of uniform branches on the vec4 slot k (or, for large
// d, re-read from `a`); with subgroups, lane l of a subgroup loads column j0 + l and the CG columns
// are shared with subgroupBroadcast, so each column element is loaded once per subgroup; without,
// every invocation reads the same column (CG = 1). Workgroup: WG invocations, 2-D grid.
// Bounds: with subgroups no invocation returns early (all must reach the broadcasts): rows past
// `rows` are clamped to the last row for loads and never stored; columns past `cols` are clamped
// for loads and masked out; d is padded with zeros to a multiple of 4 by the normalization pass.
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

// log(1 + y) accurate for small y (Goldberg's trick), softplus(x) = log(1 + e^x), sigmoid(x).
fn log1p_(y: f32) -> f32 {
  let u = 1.0 + y;
  if (u == 1.0) { return y; }
  return log(u) * (y / (u - 1.0));
}
fn softplus_(x: f32) -> f32 {
  if (x > 0.0) { return x + log1p_(exp(-x)); }
  return log1p_(exp(x));
}
fn sigmoid_(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}

@group(0) @binding(0) var<uniform> p: Params;
{{BINDINGS}}

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>{{SG_ARG}}) {
{{BODY}}
}
