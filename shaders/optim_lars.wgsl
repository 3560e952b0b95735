// Fused LARS step for one parameter tensor, in place, as SimCLR's LARS (classic momentum):
//   g' = g + wd*p (when the group uses weight decay)
//   trust = adapt ? (|p| > 0 ? (|g'| > 0 ? eta*|p|/|g'| : 1) : 1) : 1;   lr' = lr * trust
//   v = mu*v + lr'*g';  update = nesterov ? mu*v + lr'*g' : v;  p = p - update
// One workgroup of 256 invocations per tensor: the two norms are reduced in workgroup memory
// (strided partial sums, then a tree), then the same workgroup applies the update, so the whole
// step is one dispatch with no readback. Bounds: strided loops stop at n.
struct Params {
  n: u32,
  adapt: u32,
  nesterov: u32,
  _p: u32,
  lr: f32,
  momentum: f32,
  weightDecay: f32,
  eta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> vel: array<f32>;

var<workgroup> wsum: array<f32, 256>;
var<workgroup> gsum: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) t: u32) {
  var ws = 0.0;
  var gs = 0.0;
  for (var i = t; i < p.n; i = i + 256u) {
    let x = param[i];
    let g = grad[i] + p.weightDecay * x;
    ws = ws + x * x;
    gs = gs + g * g;
  }
  wsum[t] = ws;
  gsum[t] = gs;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (t < s) {
      wsum[t] = wsum[t] + wsum[t + s];
      gsum[t] = gsum[t] + gsum[t + s];
    }
    workgroupBarrier();
  }
  let wn = sqrt(wsum[0]);
  let gn = sqrt(gsum[0]);
  var trust = 1.0;
  if (p.adapt != 0u && wn > 0.0 && gn > 0.0) { trust = p.eta * wn / gn; }
  let lr = p.lr * trust;
  for (var i = t; i < p.n; i = i + 256u) {
    let x = param[i];
    let g = grad[i] + p.weightDecay * x;
    let v = p.momentum * vel[i] + lr * g;
    vel[i] = v;
    var update = v;
    if (p.nesterov != 0u) { update = p.momentum * v + lr * g; }
    param[i] = x - update;
  }
}
