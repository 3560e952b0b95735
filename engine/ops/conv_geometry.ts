// conv2d's argument checking and output geometry (torch.nn.functional.conv2d's rules): stride,
// padding (numbers, pairs, 'valid', 'same'), dilation and groups, with errors that name the argument.
import { fmtShape } from '../shape.js';
import { Tensor } from '../tensor.js';

export interface Conv2dOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number] | 'valid' | 'same';
  dilation?: number | readonly [number, number];
  groups?: number;
}

/** Everything about one convolution's shapes (padding is the top/left amount). */
export interface ConvGeometry {
  N: number; C: number; H: number; W: number;
  O: number; KH: number; KW: number;
  sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
  G: number; Cg: number; Og: number;
  OH: number; OW: number;
}

const MAX_EXACT = 1 << 22; // index ranges the kernels' float-reciprocal division handles exactly

function pair(op: string, name: string, v: unknown, min: number): [number, number] {
  const arr = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? v : null;
  if (!arr || !arr.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= min)) {
    throw new Error(`${op}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return [arr[0], arr[1]];
}

/** Validates conv2d arguments and computes the output geometry; throws naming what is wrong. */
export function convGeometry(op: string, x: Tensor, w: Tensor, opts: Conv2dOptions = {}): ConvGeometry {
  if (!(x instanceof Tensor) || !(w instanceof Tensor)) throw new Error(`${op}: input and weight must be Tensors`);
  x.storage(op);
  w.storage(op);
  if (x.dtype !== 'float32' || w.dtype !== 'float32') throw new Error(`${op}: expected float32 tensors, got ${x.dtype} input and ${w.dtype} weight`);
  if (x.rank !== 4) throw new Error(`${op}: input must be 4-D [N, C, H, W], got ${fmtShape(x.shape)}`);
  if (w.rank !== 4) throw new Error(`${op}: weight must be 4-D [out_channels, in_channels / groups, kH, kW], got ${fmtShape(w.shape)}`);
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`${op}: groups must be a positive integer, got ${groups}`);
  const [N, C, H, W] = x.shape;
  const [O, Cg, KH, KW] = w.shape;
  if (C % groups !== 0) throw new Error(`${op}: input channels ${C} are not divisible by groups ${groups}`);
  if (O % groups !== 0) throw new Error(`${op}: output channels ${O} (weight ${fmtShape(w.shape)}) are not divisible by groups ${groups}`);
  if (Cg * groups !== C) {
    throw new Error(`${op}: weight ${fmtShape(w.shape)} expects ${Cg * groups} input channels (${Cg} per group x ${groups} groups), but input ${fmtShape(x.shape)} has ${C}`);
  }
  if (KH < 1 || KW < 1 || O < 1) throw new Error(`${op}: weight ${fmtShape(w.shape)} has an empty dimension`);
  const [sh, sw] = pair(op, 'stride', opts.stride ?? 1, 1);
  const [dh, dw] = pair(op, 'dilation', opts.dilation ?? 1, 1);
  let ph: number;
  let pw: number;
  let OH: number;
  let OW: number;
  const padding = opts.padding ?? 0;
  if (padding === 'valid') {
    ph = pw = 0;
    OH = Math.floor((H - dh * (KH - 1) - 1) / sh) + 1;
    OW = Math.floor((W - dw * (KW - 1) - 1) / sw) + 1;
  } else if (padding === 'same') {
    if (sh !== 1 || sw !== 1) throw new Error(`${op}: padding='same' is not supported for strided convolutions (stride ${sh}x${sw})`);
    // as PyTorch: the odd pixel of an odd total padding goes to the bottom/right
    ph = Math.floor((dh * (KH - 1)) / 2);
    pw = Math.floor((dw * (KW - 1)) / 2);
    OH = H;
    OW = W;
  } else {
    if (typeof padding === 'string') throw new Error(`${op}: padding must be a number, a pair, 'valid' or 'same', got '${padding}'`);
    [ph, pw] = pair(op, 'padding', padding, 0);
    OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
    OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  }
  if (OH < 1 || OW < 1) {
    throw new Error(`${op}: input ${fmtShape(x.shape)} padded by ${ph}x${pw} is smaller than the dilated kernel ${dh * (KH - 1) + 1}x${dw * (KW - 1) + 1} (output would be ${OH}x${OW})`);
  }
  const g: ConvGeometry = { N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, G: groups, Cg, Og: O / groups, OH, OW };
  for (const [what, v] of [['input pixels N*H*W', N * H * W], ['output pixels N*OH*OW', N * OH * OW], ['reduction size Cg*kH*kW', Cg * KH * KW], ['O*kH*kW', (O / groups) * KH * KW]] as const) {
    if (v >= MAX_EXACT) throw new Error(`${op}: ${what} = ${v} is too large (limit ${MAX_EXACT}); split the batch`);
  }
  return g;
}

export function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
