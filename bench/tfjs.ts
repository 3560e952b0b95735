// The TensorFlow.js peer of `npm run bench`: @tensorflow/tfjs-core + @tensorflow/tfjs-backend-webgpu
// (devDependencies, 4.22) on the same Dawn instance, hence the same adapter, in the same process.
// tfjs requests its own GPUDevice from that adapter. Its waits go through the engine's gpuWait, so it
// gets the same hybrid host polling as the engine (with node-webgpu's busy setImmediate polling it
// would lose about half its throughput on a 2-core machine, which would flatter our ratios).
// Its waits carry a key for their work as the engine's do (the function run and how many times), so a
// repeated run sleeps through its forecast as the engine's runs do (engine/wait_plan.ts); the bench
// hands `once` the same function object for every run of a row.
// interleave() times the engine and tfjs in alternation, so they share the load (the naive kernels apart).
import { createRequire } from 'node:module';
import { sync } from '../engine/commands.js';
import { gpuObject, gpuWait, initDevice } from '../engine/device.js';
import { EMPTY_KEY, mixKey } from '../engine/wait_plan.js';
import { benchMinMs, itersFor, median } from './harness.js';

// tfjs's types are not needed: the bench calls a handful of ops.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

export interface TfjsPeer {
  tf: Any;
  version: string;
  /** Runs `fn` (tfjs ops; returned tensors are disposed) `iters` times, waits for the GPU; ms per run. */
  once(fn: () => Any, iters?: number): Promise<number>;
  /** Median ms of `fn` (tfjs ops; returned tensors are disposed) after warm-up, waiting for the GPU each run. */
  time(fn: () => Any, opts?: { warmup?: number; runs?: number }): Promise<number>;
}

let peer: Promise<TfjsPeer | string> | null = null;

async function load(): Promise<TfjsPeer | string> {
  await initDevice();
  const gpu = gpuObject();
  if (!gpu) return 'no GPU object';
  const g = globalThis as Any;
  if (!g.navigator) g.navigator = {};
  if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  const require = createRequire(import.meta.url);
  let tf: Any;
  try {
    tf = require('@tensorflow/tfjs-core');
    require('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    return `TensorFlow.js not installed (${(e as Error).message.split('\n')[0]}); run npm install`;
  }
  tf.env().set('PROD', true);
  if (!(await tf.setBackend('webgpu'))) return 'tfjs could not initialize its webgpu backend';
  await tf.ready();
  const backend = tf.backend();
  const fnIds = new WeakMap<object, number>();
  let nextFnId = 1;
  // the key of `iters` runs of fn
  const workKey = (fn: () => Any, iters: number): number => {
    let id = fnIds.get(fn);
    if (id === undefined) fnIds.set(fn, (id = nextFnId++));
    return mixKey(EMPTY_KEY, 0x7f1a, id, iters);
  };
  const wait = async (key: number) => {
    if (backend.commandEncoder) {
      backend.endComputePassEncoder();
      backend.submitQueue();
    }
    await gpuWait(backend.queue.onSubmittedWorkDone(), 'tfjs', key);
  };
  const run = (fn: () => Any) => {
    const out = fn();
    tf.dispose(out);
  };
  return {
    tf,
    version: tf.version_core,
    async once(fn, iters = 1) {
      const t0 = performance.now();
      for (let i = 0; i < iters; i++) run(fn);
      await wait(workKey(fn, iters));
      return (performance.now() - t0) / iters;
    },
    async time(fn, opts = {}) {
      const warmup = opts.warmup ?? 1;
      const runs = opts.runs ?? 5;
      for (let i = 0; i < warmup; i++) {
        run(fn);
        await wait(workKey(fn, 1));
      }
      const ts: number[] = [];
      for (let r = 0; r < runs; r++) {
        const t0 = performance.now();
        run(fn);
        await wait(workKey(fn, 1));
        ts.push(performance.now() - t0);
      }
      return median(ts);
    },
  };
}

/** A timer: runs its work `iters` times, waits for the GPU once, returns milliseconds per run. */
export type Timer = (iters: number) => Promise<number>;

/**
 * Interleaved timing: after `warmup` rounds, `runs` rounds each run every timer once in turn, so every
 * column of a row sees the same machine load (on a shared 2-core machine, measuring one column after
 * the other can swing a ratio by 2x). Each timer repeats its work enough times per round to last
 * about `minMs` (calibrated after the warm-up), so a GPU's fixed submit-and-wait latency does not
 * swamp fast kernels; a timer that repeats its work runs one more warm-up at that size. Timers named
 * in `apart` (the slow naive reference) are timed after the rounds, in their own `runs` runs: one
 * naive run can last a second, and inside the rounds it would put that much time between the two
 * columns that are compared, where this machine's bursts of load (a second or more) then hit one and
 * not the other. Returns each timer's median milliseconds per run of the work;
 * `samples`, when given, receives each timer's timed runs in the order they ran.
 */
export async function interleave(timers: Record<string, Timer>, opts: { warmup?: number; runs?: number; minMs?: number; apart?: string[]; samples?: Record<string, number[]> } = {}): Promise<Record<string, number>> {
  const apart = Object.keys(timers).filter((n) => opts.apart?.includes(n));
  const together = Object.keys(timers).filter((n) => !apart.includes(n));
  const minMs = opts.minMs ?? benchMinMs();
  const warmup = opts.warmup ?? 1;
  const out: Record<string, number> = {};
  for (const group of [together, ...apart.map((n) => [n])]) {
    if (group.length === 0) continue;
    for (let w = 0; w < warmup; w++) for (const n of group) await timers[n](1);
    const iters: Record<string, number> = {};
    for (const n of group) iters[n] = itersFor(await timers[n](1), minMs);
    // The first run of `iters` calls back to back ran slower than the next ones (the 1x1 expand
    // input-grad at 25 calls a run: 3.06-3.84 ms a call against 2.8-2.9; its host encoding accounts for
    // 0.1 ms of that), so the warm-up ends with one round at the timed size where that size is new.
    if (warmup > 0) for (const n of group) if (iters[n] > 1) await timers[n](iters[n]);
    const ts: Record<string, number[]> = Object.fromEntries(group.map((n) => [n, []]));
    for (let r = 0; r < (opts.runs ?? 5); r++) for (const n of group) ts[n].push(await timers[n](iters[n]));
    for (const n of group) {
      out[n] = median(ts[n]);
      if (opts.samples) opts.samples[n] = ts[n];
    }
  }
  return out;
}

/** A timer for engine work: runs `fn` (which encodes GPU work) `iters` times, waits for the GPU; ms per run. */
export function engineTimer(fn: () => void): Timer {
  return async (iters = 1) => {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) fn();
    await sync('bench');
    return (performance.now() - t0) / iters;
  };
}

/** The tfjs peer, or a string saying why it is unavailable (set BENCH_TFJS=0 to skip it). */
export function tfjsPeer(): Promise<TfjsPeer | string> {
  if (process.env.BENCH_TFJS === '0') return Promise.resolve('skipped (BENCH_TFJS=0)');
  if (!peer) peer = load().catch((e) => `tfjs failed: ${(e as Error).message}`);
  return peer;
}

// ---- backward passes for the peer ------------------------------------------------------------------
// tfjs-core's Node bundle registers no gradient functions (they ship in the full @tensorflow/tfjs
// package), so tf.grads fails for most ops. The peer's backward passes are therefore written out with
// the same kernels tfjs's own gradients use: MaxPoolGrad, AvgPoolGrad, Conv2DBackpropInput,
// Conv2DBackpropFilter, and elementwise ops and reductions for batch norm and ReLU.

/** Training-mode batch norm over NHWC: forward and the gradients w.r.t. x, scale, offset. */
export function tfBatchNormTrain(tf: Any, x: Any, scale: Any, offset: Any, dy: Any, relu: boolean, eps = 1e-5): Any[] {
  return tf.tidy(() => {
    const axes = [0, 1, 2];
    const mv = tf.moments(x, axes);
    const inv = tf.rsqrt(tf.add(mv.variance, eps));
    const xh = tf.mul(tf.sub(x, mv.mean), inv);
    const y = tf.add(tf.mul(xh, scale), offset);
    const out = relu ? tf.relu(y) : y;
    const g = relu ? tf.mul(dy, tf.step(y)) : dy;
    const m = x.size / x.shape[3];
    const dOffset = tf.sum(g, axes);
    const dScale = tf.sum(tf.mul(g, xh), axes);
    const dx = tf.mul(tf.mul(scale, tf.div(inv, m)), tf.sub(tf.sub(tf.mul(g, m), dOffset), tf.mul(xh, dScale)));
    return [out, dx, dScale, dOffset];
  });
}

/** Max pool (k, stride s, symmetric padding p) forward and input gradient, NHWC. */
export function tfMaxPoolFwdBwd(tf: Any, x: Any, dy: Any, k: number, s: number, p: number): Any[] {
  return tf.tidy(() => {
    const y = tf.maxPool(x, k, s, p);
    const dx = tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: k, strides: s, pad: p });
    return [y, dx];
  });
}

/** Average pool forward and input gradient, NHWC. */
export function tfAvgPoolFwdBwd(tf: Any, x: Any, dy: Any, k: number, s: number, p: number): Any[] {
  return tf.tidy(() => {
    const y = tf.avgPool(x, k, s, p);
    const dx = tf.engine().runKernel('AvgPoolGrad', { dy, input: x }, { filterSize: k, strides: s, pad: p });
    return [y, dx];
  });
}

/** Global average pool (mean over H, W) forward and input gradient, NHWC. */
export function tfGlobalAvgFwdBwd(tf: Any, x: Any, dy: Any): Any[] {
  return tf.tidy(() => {
    const y = tf.mean(x, [1, 2], true);
    const dx = tf.mul(tf.broadcastTo(dy, x.shape), 1 / (x.shape[1] * x.shape[2]));
    return [y, dx];
  });
}

/** 3x3 'same' conv gradients (input and filter), NHWC / HWIO. */
function tfConvGrads(tf: Any, x: Any, w: Any, dy: Any): Any[] {
  const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined };
  const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: x.shape });
  const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape });
  return [dx, dw];
}

/** The bench's residual basic block, forward and backward (all gradients), NHWC. */
export function tfBasicBlockFwdBwd(tf: Any, x: Any, w1: Any, w2: Any, s1: Any, o1: Any, s2: Any, o2: Any, dy: Any): Any[] {
  return tf.tidy(() => {
    const c1 = tf.conv2d(x, w1, 1, 'same');
    const zero = tf.zerosLike(c1);
    const [h, , ,] = tfBatchNormTrain(tf, c1, s1, o1, zero, true);
    const c2 = tf.conv2d(h, w2, 1, 'same');
    const [z] = tfBatchNormTrain(tf, c2, s2, o2, zero, false);
    const pre = tf.add(z, x);
    const out = tf.relu(pre);
    // backward
    const dOut = tf.mul(dy, tf.step(pre));
    const [, dc2, ds2, do2] = tfBatchNormTrain(tf, c2, s2, o2, dOut, false);
    const [dh, dw2] = tfConvGrads(tf, h, w2, dc2);
    const [, dc1, ds1, do1] = tfBatchNormTrain(tf, c1, s1, o1, dh, true);
    const [dxc, dw1] = tfConvGrads(tf, x, w1, dc1);
    const dx = tf.add(dxc, dOut);
    return [out, dx, dw1, dw2, ds1, do1, ds2, do2];
  });
}
