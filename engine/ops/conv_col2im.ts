// col2im for conv2d's input-grad by dcol (engine/ops/conv2d.ts): dx gathers each input element's taps
// from dcol = dy x W. Three kernels: stride 1 without dilation (taps unrolled, flat indices,
// shaders/conv_col2im_s1.wgsl), strided without dilation (a workgroup per column phase, uniform tap
// loops, shaders/conv_col2im_phase.wgsl), and the general one (shaders/conv_col2im.wgsl).
import { dispatch, groups1d } from '../commands.js';
import { deviceContext } from '../device.js';
import { kernel, renderTemplate, shaderSource } from '../kernels.js';
import type { Tensor } from '../tensor.js';
import { gcd, type ConvGeometry } from './conv_geometry.js';

let col2imPhased = true;

/** Benchmarks: col2im at stride > 1 without dilation by its phase kernel (true) or the general one. */
export function setConvCol2imPhased(on: boolean): void {
  col2imPhased = on;
}

/**
 * dx of the images [n0, n0 + nc) from their dcol rows (Kgp floats apart): at stride 1 without dilation
 * the unrolled-tap kernel over flat indices (shaders/conv_col2im_s1.wgsl), strided without dilation
 * the phase kernel (shaders/conv_col2im_phase.wgsl), else the general one (shaders/conv_col2im.wgsl),
 * whose grid z = (image, channel) is cut into dispatches of at most maxComputeWorkgroupsPerDimension.
 */
export function col2im(dx: Tensor, dcol: Tensor, g: ConvGeometry, n0: number, nc: number, Kgp: number, op: string): void {
  const bufs = [dx.buffer(op), dcol.buffer(op)];
  if (g.sh === 1 && g.sw === 1 && g.dh === 1 && g.dw === 1) {
    const n = nc * g.C * g.H * g.W;
    const [gx, gy] = groups1d(Math.ceil(n / 256));
    dispatch(col2imUnitKernel(g.KH, g.KW), bufs, new Uint32Array([g.C, g.H, g.W, g.OH, g.OW, g.Cg, g.ph, g.pw, n0, nc, 0, Kgp, n, gx * 256, 0, 0]), [gx, gy]);
    return;
  }
  const phased = g.dh === 1 && g.dw === 1 && col2imPhased;
  const k = phased ? kernel('conv_col2im_phase', () => shaderSource('conv_col2im_phase')) : kernel('conv_col2im', () => shaderSource('conv_col2im'));
  // valid taps along an axis repeat every s / gcd(d, s); the output index drops by that * d / s
  const periodH = g.sh / gcd(g.sh, g.dh);
  const periodW = g.sw / gcd(g.sw, g.dw);
  // narrow inputs: whole rows per 64-lane workgroup (see the shader)
  const rowsPer = Math.max(1, Math.floor(64 / g.W));
  const blocksW = Math.ceil(Math.ceil(g.W / g.sw) / 64);
  const maxZ = deviceContext().limits.maxComputeWorkgroupsPerDimension;
  const imagesPerDispatch = Math.max(1, Math.floor(maxZ / g.C));
  for (let nl0 = 0; nl0 < nc; nl0 += imagesPerDispatch) {
    const count = Math.min(imagesPerDispatch, nc - nl0);
    if (phased) {
      dispatch(k, bufs, new Uint32Array([g.C, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.sh, g.sw, g.ph, g.pw, g.Cg, n0, nc, nl0, Kgp, blocksW, 0, 0, 0]), [g.sw * blocksW, g.H, count * g.C]);
    } else {
      const params = new Uint32Array([g.C, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.Cg, n0, nc, periodH, periodW, (periodH * g.dh) / g.sh, (periodW * g.dw) / g.sw, nl0, Kgp, rowsPer, 0]);
      dispatch(k, bufs, params, [Math.ceil(g.W / 64), Math.ceil(g.H / rowsPer), count * g.C]);
    }
  }
}
/** shaders/conv_col2im_s1.wgsl for a KH x KW kernel at stride 1 and dilation 1: its taps unrolled. */
function col2imUnitKernel(KH: number, KW: number) {
  return kernel(`conv_col2im_s1:${KH}:${KW}`, () => {
    const body: string[] = [];
    for (let kh = 0; kh < KH; kh++) {
      body.push(`  let oh${kh} = ohb - ${kh};`, `  let hok${kh} = u32(oh${kh}) < p.OH;`, `  let hr${kh} = u32(clamp(oh${kh}, 0, i32(p.OH) - 1)) * p.OW;`);
    }
    for (let kw = 0; kw < KW; kw++) {
      body.push(`  let ow${kw} = owb - ${kw};`, `  let wok${kw} = u32(ow${kw}) < p.OW;`, `  let wc${kw} = u32(clamp(ow${kw}, 0, i32(p.OW) - 1));`);
    }
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) body.push(`  s = s + select(0.0, dcol[base + (hr${kh} + wc${kw}) * p.Kgp + ${kh * KW + kw}u], hok${kh} && wok${kw});`);
    }
    return renderTemplate(shaderSource('conv_col2im_s1'), { KHW: String(KH * KW), BODY: body.join('\n') });
  });
}
