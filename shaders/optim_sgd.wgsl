// Fused SGD step (momentum, dampening, nesterov, weight decay, maximize) for one parameter tensor,
// in place, mirroring torch.optim.SGD (torch 1.13):
//   d = g (+ wd*p);  momentum: buf = first ? d : buf*mu + d*(1-dampening);  d = nesterov ? d + mu*buf : buf
//   p = p + (-lr) * d
// Tiling: element(i) steps element i; the entry point (elementMain in engine/kernels.ts) gives a
// workgroup WG * PER consecutive elements, WG invocations each visiting PER of them WG apart; 2-D grid.
// Bounds: an invocation stops at the first i >= n.
struct Params {
  n: u32,
  width: u32,
  first: u32,
  flags: u32,        // bit 0: momentum on, bit 1: nesterov, bit 2: maximize
  negLr: f32,
  momentum: f32,
  oneMinusDampening: f32,
  weightDecay: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;

fn element(i: u32) {
  var d = grad[i];
  if ((p.flags & 4u) != 0u) { d = -d; }
  let x = param[i];
  if (p.weightDecay != 0.0) { d = d + p.weightDecay * x; }
  if ((p.flags & 1u) != 0u) {
    var b = d;
    if (p.first == 0u) { b = buf[i] * p.momentum + d * p.oneMinusDampening; }
    buf[i] = b;
    if ((p.flags & 2u) != 0u) { d = d + p.momentum * b; } else { d = b; }
  }
  param[i] = x + p.negLr * d;
}

{{ELEMENT_MAIN}}
