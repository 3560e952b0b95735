// Tensor creation: from host data, constant fills and ranges (shaders/fill.wgsl), and seeded random.
import { clearBuffer, dispatch, groups1d } from '../commands.js';
import { kernel, shaderSource } from '../kernels.js';
import { assertValidShape, fmtShape, numel, type Shape } from '../shape.js';
import { empty, fromHost, type DType, type Tensor } from '../tensor.js';
import { globalRng } from '../random.js';
import { checkOptions, optionKeys } from '../options.js';

export interface TensorOptions {
  requiresGrad?: boolean;
  dtype?: DType;
}

const TENSOR_OPTIONS = optionKeys<TensorOptions>({ requiresGrad: 1, dtype: 1 });

/** Checks a creation function's options: known keys, a known dtype, no gradient on int32. */
function creationOptions(op: string, options: TensorOptions, fallback: DType = 'float32'): { dtype: DType; requiresGrad: boolean } {
  checkOptions(op, options, TENSOR_OPTIONS);
  const dtype = options?.dtype ?? fallback;
  if (dtype !== 'float32' && dtype !== 'int32') throw new Error(`${op}: dtype must be 'float32' or 'int32', got ${JSON.stringify(dtype)}`);
  const requiresGrad = options?.requiresGrad ?? false;
  if (typeof requiresGrad !== 'boolean') throw new Error(`${op}: requiresGrad must be a boolean, got ${JSON.stringify(requiresGrad)}`);
  if (dtype === 'int32' && requiresGrad) throw new Error(`${op}: int32 tensors cannot require grad`);
  return { dtype, requiresGrad };
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
  const { dtype, requiresGrad } = creationOptions(op, options, data instanceof Int32Array ? 'int32' : 'float32');
  if (dtype === 'int32') return fromHost(Int32Array.from(values), finalShape, 'int32', op);
  const arr = data instanceof Float32Array ? data : Float32Array.from(values);
  const t = fromHost(arr, finalShape, 'float32', op);
  t.requiresGrad = requiresGrad;
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

/** A constant tensor: float32 filled on the device, int32 (an integer value) from the host. */
function constant(shape: Shape, value: number, op: string, options: TensorOptions): Tensor {
  const { dtype, requiresGrad } = creationOptions(op, options);
  if (dtype === 'float32') return fill(shape, value, 0, op, requiresGrad);
  assertValidShape(shape, op);
  if (!Number.isInteger(value) || Math.abs(value) > 2 ** 31 - 1) throw new Error(`${op}: an int32 fill value must be an integer within int32's range, got ${value}`);
  return fromHost(new Int32Array(numel(shape)).fill(value), shape, 'int32', op);
}

export const full = (shape: Shape, value: number, options: TensorOptions = {}) => constant(shape, value, 'full', options);
export const zeros = (shape: Shape, options: TensorOptions = {}) => constant(shape, 0, 'zeros', options);
export const ones = (shape: Shape, options: TensorOptions = {}) => constant(shape, 1, 'ones', options);
export const zerosLike = (t: Tensor) => zeros(t.shape, { dtype: t.dtype });
export const onesLike = (t: Tensor) => ones(t.shape, { dtype: t.dtype });

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
  const { dtype, requiresGrad } = creationOptions('rand', options);
  if (dtype !== 'float32') throw new Error(`rand: only float32 is supported, got dtype ${dtype}`);
  assertValidShape(shape, 'rand');
  const t = fromHost(globalRng().uniformArray(numel(shape)), shape, 'float32', 'rand');
  t.requiresGrad = requiresGrad;
  return t;
}

/** Standard normal from the global seeded generator. */
export function randn(shape: Shape, options: TensorOptions = {}): Tensor {
  const { dtype, requiresGrad } = creationOptions('randn', options);
  if (dtype !== 'float32') throw new Error(`randn: only float32 is supported, got dtype ${dtype}`);
  assertValidShape(shape, 'randn');
  const t = fromHost(globalRng().normalArray(numel(shape)), shape, 'float32', 'randn');
  t.requiresGrad = requiresGrad;
  return t;
}
