// Fused Adam / AdamW step for one parameter tensor, in place, mirroring torch.optim.Adam(W)
// (single-tensor path, torch 1.13) operation for operation:
//   AdamW: p *= 1 - lr*wd          Adam with wd: g = g + wd*p
//   m = m*b1 + g*(1-b1);  v = v*b2 + (1-b2)*g*g;  amsgrad: vmax = max(vmax, v), v̂ = vmax
//   p = p + (-lr/bc1) * (m / (sqrt(v̂)/sqrt(bc2) + eps))
// Step-dependent scalars (lr/bc1, sqrt(bc2)) come in the uniforms, so a step never reads back.
// The op fills VMAX_BINDING and VHAT (amsgrad adds the vmax buffer). Tiling: element(i) steps element i;
// the entry point (elementMain in engine/kernels.ts) gives a workgroup WG * PER consecutive elements,
// WG invocations each visiting PER of them WG apart; 2-D grid. Bounds: an invocation stops at the first
// i >= n.
struct Params {
  n: u32,
  width: u32,
  decoupled: u32,
  maximize: u32,
  beta1: f32,
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  eps: f32,
  weightDecay: f32,
  negStepSize: f32,
  bc2Sqrt: f32,
  decay: f32,
  _p0: f32, _p1: f32, _p2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
{{VMAX_BINDING}}

fn element(i: u32) {
  var g = grad[i];
  if (p.maximize != 0u) { g = -g; }
  var x = param[i];
  if (p.decoupled != 0u) {
    x = x * p.decay;
  } else if (p.weightDecay != 0.0) {
    g = g + p.weightDecay * x;
  }
  let mi = m[i] * p.beta1 + g * p.oneMinusBeta1;
  let vi = v[i] * p.beta2 + p.oneMinusBeta2 * g * g;
  m[i] = mi;
  v[i] = vi;
{{VHAT}}
  let denom = sqrt(vhat) / p.bc2Sqrt + p.eps;
  param[i] = x + p.negStepSize * (mi / denom);
}

{{ELEMENT_MAIN}}
