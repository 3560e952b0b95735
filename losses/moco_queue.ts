// MoCo's queue of negative keys: a [K, d] ring buffer on the GPU. Each step's keys replace the
// oldest ones (dequeue and enqueue in one copy); the write position is kept on the host, so no
// step reads anything back. The queue never receives a gradient.
import { noGrad } from '../engine/autograd.js';
import { copyBuffer } from '../engine/commands.js';
import { keep } from '../engine/scope.js';
import { checkOptions } from '../engine/options.js';
import { fmtShape } from '../engine/shape.js';
import { Tensor } from '../engine/tensor.js';
import { copy } from '../engine/ops/elementwise.js';
import { randn, zeros } from '../engine/ops/creation.js';
import { l2NormalizeReference } from './reference.js';

export interface MoCoQueueOptions {
  /** 'randn' (default): random unit vectors, as MoCo initializes its queue; 'zeros'. */
  init?: 'randn' | 'zeros';
}

export class MoCoQueue {
  /** The keys, [size, dim]; pass this (or the queue itself) to infoNCE. */
  readonly keys: Tensor;
  private ptrValue = 0;

  constructor(
    readonly size: number,
    readonly dim: number,
    options: MoCoQueueOptions = {},
  ) {
    const op = 'MoCoQueue';
    if (!Number.isInteger(size) || size < 1) throw new Error(`${op}: size must be a positive integer, got ${size}`);
    if (!Number.isInteger(dim) || dim < 1) throw new Error(`${op}: dim must be a positive integer, got ${dim}`);
    checkOptions(op, options, ['init']);
    const init = options?.init ?? 'randn';
    if (init !== 'randn' && init !== 'zeros') throw new Error(`${op}: init must be 'randn' or 'zeros', got '${init}'`);
    this.keys = keep(
      noGrad(() => {
        if (init === 'zeros') return zeros([size, dim]);
        const r = randn([size, dim]);
        const n = l2NormalizeReference(r);
        r.dispose();
        return n;
      }),
    );
  }

  /** The row the next enqueued key goes to. */
  get ptr(): number {
    return this.ptrValue;
  }

  /**
   * Replaces the oldest keys with `keys` [B, dim] (B <= size), wrapping around the end; the keys are
   * copied (detached), so later changes to `keys` do not affect the queue.
   */
  enqueue(keys: Tensor): void {
    const op = 'MoCoQueue.enqueue';
    if (!(keys instanceof Tensor)) throw new Error(`${op}: keys must be a Tensor`);
    keys.storage(op);
    this.keys.storage(op);
    if (keys.dtype !== 'float32' || keys.rank !== 2 || keys.shape[1] !== this.dim) {
      throw new Error(`${op}: keys must be float32 [B, ${this.dim}], got ${keys.dtype} ${fmtShape(keys.shape)}`);
    }
    const B = keys.shape[0];
    if (B > this.size) throw new Error(`${op}: ${B} keys do not fit a queue of ${this.size}`);
    if (B === 0) return;
    const src = keys.isContiguous ? keys : noGrad(() => copy(keys));
    const first = Math.min(B, this.size - this.ptrValue);
    const row = this.dim * 4;
    const dst = this.keys.buffer(op);
    copyBuffer(src.buffer(op), src.offset * 4, dst, this.ptrValue * row, first * row);
    if (first < B) copyBuffer(src.buffer(op), (src.offset + first * this.dim) * 4, dst, 0, (B - first) * row);
    if (src !== keys) src.dispose();
    this.ptrValue = (this.ptrValue + B) % this.size;
  }

  /** Alias of enqueue (MoCo's _dequeue_and_enqueue). */
  dequeueAndEnqueue(keys: Tensor): void {
    this.enqueue(keys);
  }

  /** For checkpoints: the write position (the keys are `keys`). */
  state(): { ptr: number } {
    return { ptr: this.ptrValue };
  }

  setState(state: { ptr: number }): void {
    if (!Number.isInteger(state.ptr) || state.ptr < 0 || state.ptr >= this.size) throw new Error(`MoCoQueue.setState: ptr must be an integer in [0, ${this.size}), got ${state.ptr}`);
    this.ptrValue = state.ptr;
  }

  dispose(): void {
    this.keys.dispose();
  }
}
