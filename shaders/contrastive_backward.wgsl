// Fused contrastive backward: the gradient of the loss from contrastive_forward.wgsl with respect
// to the anchors A, through their L2 normalization, without the rows x cols matrix. With s_ij =
// scale * <a_i, c_j> recomputed tile by tile and each anchor's stats from the forward pass:
//   dL/ds_ij = t_i(j) [+ t'_j(i)] where, for anchor i with stats (lse, w, u) and (lseP, q),
//     t_i(j) = w exp(s_ij - lse)                     for a negative j
//     t_i(j) = (w pi - u) - w pi q, pi = exp(s_ij - lseP)   for a positive j  (exactly -w q for one)
//   and the bracketed column term comes from the loss in the other direction (NT-Xent and SupCon:
//   the same rows; CLIP: the text->image pass); MoCo has none (the queue gets no gradient).
//   dâ_i = g * scale * (sum_j dL/ds_ij c_j [+ t_i(e) kn_i for MoCo's extra positive key])
//   da_i = (dâ_i - â_i <â_i, dâ_i>) / ||a_i||   if ||a_i|| > 1e-12, else dâ_i / 1e-12
// (torch.nn.functional.normalize's gradient). Optional outputs: MoCo's key gradient dk_i (through
// the key's normalization) and CLIP's per-row partial sums g * sum_j dL/ds_ij <a_i, c_j> of dL/dscale.
// g is the incoming gradient, read from its buffer (no readback). Tiling and bounds as the forward
// kernel: R rows per invocation, CG columns per step (subgroupBroadcast) or one; the d-vector
// accumulators of its rows live in registers (reached through the same branch tree) or, for large
// d, in this invocation's rows of the scratch buffer accBuf. out is [rows, d] (unpadded): stores
// are masked past d and past `rows`. Workgroup: WG invocations, 2-D grid.
{{ENABLE}}struct Params {
  rows: u32,
  cols: u32,
  width: u32,
  labelMod: u32,
  scale: f32,
  gOff: u32,
  scOff: u32,
  _pad: u32,
}

const EPS: f32 = 1e-12;

@group(0) @binding(0) var<uniform> p: Params;
{{BINDINGS}}

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>{{SG_ARG}}) {
{{BODY}}
}
