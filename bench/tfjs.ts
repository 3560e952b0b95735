// The TensorFlow.js peer of `npm run bench`: @tensorflow/tfjs-core + @tensorflow/tfjs-backend-webgpu
// (devDependencies, 4.22) on the same Dawn instance, hence the same adapter, in the same process.
// tfjs requests its own GPUDevice from that adapter. Its waits go through the engine's gpuWait, so it
// gets the same hybrid host polling as the engine (with node-webgpu's busy setImmediate polling it
// would lose about half its throughput on a 2-core machine, which would flatter our ratios).
import { createRequire } from 'node:module';
import { gpuObject, gpuWait, initDevice } from '../engine/device.js';
import { median } from './harness.js';

// tfjs's types are not needed: the bench calls a handful of ops.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

export interface TfjsPeer {
  tf: Any;
  version: string;
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
  const wait = async () => {
    if (backend.commandEncoder) {
      backend.endComputePassEncoder();
      backend.submitQueue();
    }
    await gpuWait(backend.queue.onSubmittedWorkDone(), 'tfjs');
  };
  const run = (fn: () => Any) => {
    const out = fn();
    tf.dispose(out);
  };
  return {
    tf,
    version: tf.version_core,
    async time(fn, opts = {}) {
      const warmup = opts.warmup ?? 1;
      const runs = opts.runs ?? 5;
      for (let i = 0; i < warmup; i++) {
        run(fn);
        await wait();
      }
      const ts: number[] = [];
      for (let r = 0; r < runs; r++) {
        const t0 = performance.now();
        run(fn);
        await wait();
        ts.push(performance.now() - t0);
      }
      return median(ts);
    },
  };
}

/** The tfjs peer, or a string saying why it is unavailable (set BENCH_TFJS=0 to skip it). */
export function tfjsPeer(): Promise<TfjsPeer | string> {
  if (process.env.BENCH_TFJS === '0') return Promise.resolve('skipped (BENCH_TFJS=0)');
  if (!peer) peer = load().catch((e) => `tfjs failed: ${(e as Error).message}`);
  return peer;
}
