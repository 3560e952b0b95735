// Global average pooling's gradient: dx[i] = g[go + i / HW] / HW over the flat [N, C, H, W] output,
// HW = H * W baked in by engine/ops/pool.ts (globalAverageGrad), so the plane index is a multiply and
// shift rather than a per-lane division.
// Tiling: elementMain (engine/kernels.ts): blocks of WG * PER elements a workgroup (1024 on CPU
// drivers, which start every workgroup separately; one workgroup per plane of 49 ran 2.5-3x slower).
// Bounds: an invocation stops at the first i >= n.
struct Params {
  n: u32,
  width: u32,   // workgroups per grid row
  go: u32,      // g's offset
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;

fn element(i: u32) {
  dx[i] = g[p.go + i / {{HW}}u] / f32({{HW}}u);
}

{{ELEMENT_MAIN}}
