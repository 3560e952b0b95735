// A pool of worker threads that read, decode and resize image files off the main thread, so the
// thread that encodes GPU work is not blocked by JPEG decoding. Jobs go to the least-busy worker;
// workers are unref'd while idle, so an idle pool never keeps the process alive.
import { Worker } from 'node:worker_threads';
import { ImageDecodeError } from './decode.js';
import type { Target } from './load_image.js';

interface Pending {
  resolve: (px: Uint8Array) => void;
  reject: (e: Error) => void;
  worker: number;
}

export class DecodePool {
  private workers: Worker[] = [];
  private busy: number[] = [];
  private pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`DecodePool: size must be a positive integer, got ${size}`);
    const url = new URL('./decode_worker.js', import.meta.url);
    for (let i = 0; i < size; i++) {
      const w = new Worker(url);
      w.unref();
      w.on('message', (m: { id: number; ok: boolean; pixels?: Uint8Array; reason?: string; decodeError?: boolean }) => this.onMessage(i, m));
      w.on('error', (e) => this.failWorker(i, e));
      this.workers.push(w);
      this.busy.push(0);
    }
  }

  private onMessage(i: number, m: { id: number; ok: boolean; pixels?: Uint8Array; reason?: string; decodeError?: boolean }): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (--this.busy[i] === 0) this.workers[i].unref();
    if (m.ok) p.resolve(new Uint8Array(m.pixels!.buffer, m.pixels!.byteOffset, m.pixels!.byteLength));
    else p.reject(m.decodeError ? new ImageDecodeError(m.reason!) : new Error(m.reason));
  }

  private failWorker(i: number, e: Error): void {
    for (const [id, p] of this.pending) {
      if (p.worker === i) {
        this.pending.delete(id);
        p.reject(new Error(`decode worker ${i} failed: ${e.message}`));
      }
    }
    this.busy[i] = 0;
  }

  run(path: string, target: Target): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new Error('DecodePool: closed'));
    let i = 0;
    for (let k = 1; k < this.workers.length; k++) if (this.busy[k] < this.busy[i]) i = k;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker: i });
      if (this.busy[i]++ === 0) this.workers[i].ref();
      this.workers[i].postMessage({ id, path, target });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new Error('DecodePool: closed'));
    this.pending.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
