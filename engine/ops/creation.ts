// Tensor creation: from host data, constant fills and ranges (shaders/fill.wgsl), and seeded random.
import { clearBuffer, dispatch, groups1d } from '../commands.js';
import { kernel, shaderSource } from '../kernels.js';
import { assertValidShape, fmtShape, numel, type Shape } from '../shape.js';
import { empty, fromHost, type DType, type Tensor } from '../tensor.js';
import { globalRng } from '../random.js';

export interface TensorOptions {
  requiresGrad?: boolean;
  dtype?: DType;
}

type Nested = number | Nested[];

function flattenNested(data: Nested, shape: number[], out: number[], depth: number, op: string): void {
  if (Array.isArray(data)) {
    if (shape.length <= depth) shape.push(data.length);
    else if (shape[depth] !== data.length) throw new Error(`${op}: ragged nested array (length ${data.length} where ${shape[depth]} was expected at depth ${depth})`);
    for (const v of data) flattenNested(v, shape, out, depth + 1, op);
  } else {
    if (typeof data !== 'number') throw new Error(`${op}: expected numbers, got ${typeof data}`);
    if (depth !== shape.length) throw new Error(`${op}: ragged nested array`);
    out.push(data);
  }
}

/** A tensor from a number, nested arrays, or a typed array (with `shape`; default 1-D). */
export function tensor(data: Nested | Float32Array | Int32Array | ArrayLike<number>, shape?: number[], options: TensorOptions = {}): Tensor {
  const op = 'tensor';
  let values: ArrayLike<number>;
  let inferred: number[];
  if (typeof data === 'number') {
    values = [data];
    inferred = [];
  } else if (Array.isArray(data)) {
    const flat: number[] = [];
    inferred = [];
    flattenNested(data as Nested, inferred, flat, 0, op);
    values = flat;
  } else if (ArrayBuffer.isView(data) || (typeof data === 'object' && data !== null && 'length' in data)) {
    values = data as ArrayLike<number>;
    inferred = [values.length];
  } else {
    throw new Error(`${op}: unsupported data of type ${typeof data}`);
  }
  const finalShape = shape ?? inferred;
  assertValidShape(finalShape, op);
  if (numel(finalShape) !== values.length) {
    throw new Error(`${op}: ${values.length} values do not fill shape ${fmtShape(finalShape)} (${numel(finalShape)} elements)`);
  }
  const dtype = options.dtype ?? (data instanceof Int32Array ? 'int32' : 'float32');
  if (dtype === 'int32') {
    if (options.requiresGrad) throw new Error(`${op}: int32 tensors cannot require grad`);
    return fromHost(Int32Array.from(values), finalShape, 'int32', op);
  }
  const arr = data instanceof Float32Array ? data : Float32Array.from(values);
  const t = fromHost(arr, finalShape, 'float32', op);
  t.requiresGrad = options.requiresGrad ?? false;
  return t;
}

function fill(shape: Shape, start: number, step: number, op: string, requiresGrad = false): Tensor {
  assertValidShape(shape, op);
  const t = empty(shape, 'float32', op);
  const n = numel(shape);
  // zeros: the command encoder's clear (a memset on CPU drivers: 50x the fill kernel on lavapipe)
  if (n > 0 && start === 0 && step === 0) clearBuffer(t.buffer(op), t.offset * 4, n * 4);
  else if (n > 0) {
    const k = kernel('fill', () => shaderSource('fill'));
    const params = new Uint32Array(4);
    const f = new Float32Array(params.buffer);
    const [gx, gy] = groups1d(Math.ceil(n / 64));
    params[0] = n;
    params[1] = gx * 64;
    f[2] = start;
    f[3] = step;
    dispatch(k, [t.buffer(op)], params, [gx, gy]);
  }
  t.requiresGrad = requiresGrad;
  return t;
}

export const full = (shape: Shape, value: number, options: TensorOptions = {}) => fill(shape, value, 0, 'full', options.requiresGrad);
export const zeros = (shape: Shape, options: TensorOptions = {}) => fill(shape, 0, 0, 'zeros', options.requiresGrad);
export const ones = (shape: Shape, options: TensorOptions = {}) => fill(shape, 1, 0, 'ones', options.requiresGrad);
export const zerosLike = (t: Tensor) => zeros(t.shape);
export const onesLike = (t: Tensor) => ones(t.shape);

/** [start, end) by step, like torch.arange; arange(n) = 0..n-1. */
export function arange(start: number, end?: number, step = 1): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (step === 0 || !Number.isFinite(step)) throw new Error(`arange: step must be a non-zero finite number, got ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  return fill([n], start, step, 'arange');
}

/** Uniform [0, 1) from the global seeded generator (same seed, same numbers on every device). */
export function rand(shape: Shape, options: TensorOptions = {}): Tensor {
  assertValidShape(shape, 'rand');
  const t = fromHost(globalRng().uniformArray(numel(shape)), shape, 'float32', 'rand');
  t.requiresGrad = options.requiresGrad ?? false;
  return t;
}

/** Standard normal from the global seeded generator. */
export function randn(shape: Shape, options: TensorOptions = {}): Tensor {
  assertValidShape(shape, 'randn');
  const t = fromHost(globalRng().normalArray(numel(shape)), shape, 'float32', 'randn');
  t.requiresGrad = options.requiresGrad ?? false;
  return t;
}
