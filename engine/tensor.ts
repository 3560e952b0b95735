// Tensor: a view (shape, strides, element offset) of refcounted GPU storage, plus autograd state.
import { Node, gradTarget, isGradEnabled, needsGrad, type BackwardFn } from './autograd.js';
import { readBuffer, writeBuffer } from './commands.js';
import { deviceContext } from './device.js';
import { acquireBuffer, releaseBuffer } from './memory.js';
import { trackTensor, untrackTensor } from './scope.js';
import { assertValidShape, contiguousStrides, fmtShape, numel, type Shape } from './shape.js';
import * as ops from './ops/index.js';
import { backward as runBackward } from './backward.js';

export type DType = 'float32' | 'int32';

/** Refcounted GPU memory shared by a tensor and its views and saved aliases. */
export class Storage {
  refs = 1;
  constructor(
    public buffer: GPUBuffer,
    readonly bytes: number,
  ) {}
  retain(): this {
    this.refs++;
    return this;
  }
  release(): void {
    if (--this.refs === 0) releaseBuffer(this.buffer);
  }
}

let nextId = 1;

export class Tensor {
  readonly __isTensor = true;
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  private storageRef: Storage;
  private disposedFlag = false;
  /** True for a leaf whose gradient is wanted (parameters); op outputs track grads through `node`. */
  requiresGrad: boolean;
  grad: Tensor | null = null;
  node: Node | null = null;
  /** For int32 tensors uploaded from the host: their value range (checked by index ops before GPU work). */
  intRange: [number, number] | null = null;

  constructor(storage: Storage, shape: Shape, strides: Shape, offset: number, dtype: DType, requiresGrad = false, track = true) {
    this.storageRef = storage;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze([...strides]);
    this.offset = offset;
    this.dtype = dtype;
    this.requiresGrad = requiresGrad;
    if (track) trackTensor(this);
  }

  get size(): number {
    return numel(this.shape);
  }
  get rank(): number {
    return this.shape.length;
  }
  get isDisposed(): boolean {
    return this.disposedFlag;
  }
  get isLeaf(): boolean {
    return this.node === null;
  }
  get isContiguous(): boolean {
    const c = contiguousStrides(this.shape);
    return this.shape.every((d, i) => d === 1 || this.strides[i] === c[i]);
  }
  /** The storage, after checking the tensor is still alive; `op` names the caller in the error. */
  storage(op: string): Storage {
    if (this.disposedFlag) throw new Error(`${op}: tensor ${fmtShape(this.shape)} (id ${this.id}) was disposed`);
    return this.storageRef;
  }
  buffer(op: string): GPUBuffer {
    return this.storage(op).buffer;
  }

  /** A new tensor sharing this storage (a view). `track` = false for autograd-owned aliases. */
  view(shape: Shape, strides: Shape, offset: number, track = true): Tensor {
    return new Tensor(this.storage('view').retain(), shape, strides, offset, this.dtype, false, track);
  }

  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    this.storageRef.release();
    untrackTensor(this);
    if (this.node) this.node.unref();
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  /** Reads the data back: Float32Array (Int32Array for int32 tensors), in row-major order. */
  async toArray(): Promise<Float32Array> {
    this.storage('toArray');
    const src = this.isContiguous ? this : ops.contiguous(this);
    const out = this.dtype === 'int32' ? new Int32Array(this.size) : new Float32Array(this.size);
    try {
      if (out.length) await readBuffer(src.buffer('toArray'), src.offset * 4, new Uint8Array(out.buffer), 'toArray');
    } finally {
      if (src !== this) src.dispose();
    }
    return out as Float32Array;
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: expected a tensor with one element, got shape ${fmtShape(this.shape)}`);
    return (await this.toArray())[0];
  }

  backward(grad?: Tensor): void {
    runBackward(this, grad);
  }

  /** A view sharing storage, cut from the graph. */
  detach(): Tensor {
    return this.view(this.shape, this.strides, this.offset);
  }

  zeroGrad(): void {
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ---- op methods (each defined once in ops/) ----
  add(o: Tensor | number): Tensor { return ops.add(this, o); }
  sub(o: Tensor | number): Tensor { return ops.sub(this, o); }
  mul(o: Tensor | number): Tensor { return ops.mul(this, o); }
  div(o: Tensor | number): Tensor { return ops.div(this, o); }
  maximum(o: Tensor | number): Tensor { return ops.maximum(this, o); }
  pow(e: number): Tensor { return ops.pow(this, e); }
  neg(): Tensor { return ops.neg(this); }
  exp(): Tensor { return ops.exp(this); }
  log(): Tensor { return ops.log(this); }
  sqrt(): Tensor { return ops.sqrt(this); }
  rsqrt(): Tensor { return ops.rsqrt(this); }
  relu(): Tensor { return ops.relu(this); }
  sigmoid(): Tensor { return ops.sigmoid(this); }
  tanh(): Tensor { return ops.tanh(this); }
  abs(): Tensor { return ops.abs(this); }
  clamp(min: number, max: number): Tensor { return ops.clamp(this, min, max); }
  sum(axes?: number | number[], keepdim = false): Tensor { return ops.sum(this, axes, keepdim); }
  mean(axes?: number | number[], keepdim = false): Tensor { return ops.mean(this, axes, keepdim); }
  max(axes?: number | number[], keepdim = false): Tensor { return ops.max(this, axes, keepdim); }
  var(axes?: number | number[], keepdim = false, correction = 1): Tensor { return ops.variance(this, axes, keepdim, correction); }
  softmax(axis = -1): Tensor { return ops.softmax(this, axis); }
  logSoftmax(axis = -1): Tensor { return ops.logSoftmax(this, axis); }
  logsumexp(axis = -1, keepdim = false): Tensor { return ops.logsumexp(this, axis, keepdim); }
  reshape(shape: number[]): Tensor { return ops.reshape(this, shape); }
  flatten(startDim = 0, endDim = -1): Tensor { return ops.flatten(this, startDim, endDim); }
  transpose(d0 = -2, d1 = -1): Tensor { return ops.transpose(this, d0, d1); }
  permute(dims: number[]): Tensor { return ops.permute(this, dims); }
  expand(shape: number[]): Tensor { return ops.expand(this, shape); }
  unsqueeze(dim: number): Tensor { return ops.unsqueeze(this, dim); }
  squeeze(dim?: number): Tensor { return ops.squeeze(this, dim); }
  contiguous(): Tensor { return ops.contiguous(this); }
  slice(dim: number, start: number, end?: number): Tensor { return ops.slice(this, dim, start, end); }
  indexSelect(indices: Tensor | ArrayLike<number>): Tensor { return ops.indexSelect(this, indices); }
  matmul(o: Tensor): Tensor { return ops.matmul(this, o); }
}

/** Allocates an uninitialized contiguous tensor. */
export function empty(shape: Shape, dtype: DType = 'float32', op = 'empty'): Tensor {
  assertValidShape(shape, op);
  const bytes = Math.max(numel(shape) * 4, 4);
  const limit = deviceContext().limits.maxStorageBufferBindingSize;
  if (bytes > limit) {
    throw new Error(`${op}: a tensor of shape ${fmtShape(shape)} needs ${bytes} bytes, above this device's maxStorageBufferBindingSize (${limit})`);
  }
  return new Tensor(new Storage(acquireBuffer(bytes, op), bytes), shape, contiguousStrides(shape), 0, dtype);
}

/**
 * Makes an op's output part of the graph when any input needs a gradient. `save` lists tensors the
 * backward function reads; they are kept alive as autograd-owned aliases (so the caller may dispose
 * its handles) and freed as soon as the node's backward has run.
 */
export function record(op: string, inputs: Tensor[], out: Tensor, save: Tensor[], backward: BackwardFn): Tensor {
  if (!isGradEnabled() || !inputs.some(needsGrad)) return out;
  const saved = save.map((t) => t.view(t.shape, t.strides, t.offset, false));
  out.node = new Node(op, inputs.map(gradTarget), backward, saved, out.shape);
  out.requiresGrad = true;
  return out;
}

/** Uploads host data into a new tensor; int32 data also records its value range (see intRange). */
export function fromHost(data: Float32Array | Int32Array, shape: Shape, dtype: DType, op: string): Tensor {
  const t = empty(shape, dtype, op);
  if (data.length) writeBuffer(t.buffer(op), 0, data);
  if (dtype === 'int32') {
    let lo = 0;
    let hi = 0;
    if (data.length) {
      lo = Infinity;
      hi = -Infinity;
      for (const v of data) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    t.intRange = [lo, hi];
  }
  return t;
}

export function untrack(t: Tensor): Tensor {
  untrackTensor(t);
  return t;
}
