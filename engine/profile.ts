// Kernel profiler: while a profile is open, every dispatch is encoded in its own compute pass with
// timestamp writes at its start and end, so the GPU's own clock says how long each kernel ran.
// Results are summed per kernel (by its cache key, which names the op and the variant).
// Costs: one pass per dispatch and a query resolve per submitted batch, so profiled code runs a little
// slower than unprofiled; copies and clears are not timed (they are not in compute passes).
import { deviceContext } from './device.js';

export interface KernelProfileRow {
  /** The kernel's cache key: the op and its variant, e.g. `gemm:matmul:…`. */
  kernel: string;
  calls: number;
  /** Total GPU time of its dispatches, milliseconds. */
  totalMs: number;
}

interface Batch {
  set: GPUQuerySet;
  names: string[];
}

const QUERIES = 512; // timestamps per query set: 256 dispatches, one command batch (MAX_BATCH in commands.ts)

let open = false;
let batch: Batch | null = null;
const spare: GPUQuerySet[] = [];
const pending: Promise<void>[] = [];
const totals = new Map<string, { calls: number; ns: bigint }>();

/** Starts collecting kernel times. Throws if the device has no `timestamp-query` feature. */
export function startProfile(): void {
  const { features } = deviceContext();
  if (!features.has('timestamp-query')) throw new Error("startProfile: the adapter has no 'timestamp-query' feature");
  if (open) throw new Error('startProfile: a profile is already open');
  totals.clear();
  open = true;
}

export function profiling(): boolean {
  return open;
}

/**
 * The timestampWrites for the next dispatch's pass, or null when no profile is open or the current
 * batch's query set is full (the caller then flushes and asks again).
 */
export function timestampWrites(name: string): GPUComputePassTimestampWrites | null {
  if (!open) return null;
  if (!batch) {
    const set = spare.pop() ?? deviceContext().device.createQuerySet({ type: 'timestamp', count: QUERIES, label: 'profile' });
    batch = { set, names: [] };
  }
  if (batch.names.length * 2 >= QUERIES) return null;
  const i = batch.names.length * 2;
  batch.names.push(name);
  return { querySet: batch.set, beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 };
}

/** Called by flush() before the encoder is finished: resolves this batch's timestamps into a readback. */
export function resolveBatch(encoder: GPUCommandEncoder): (() => void) | null {
  if (!batch || batch.names.length === 0) return null;
  const { device } = deviceContext();
  const { set, names } = batch;
  batch = null;
  const bytes = names.length * 16;
  const resolved = device.createBuffer({ size: bytes, usage: 0x200 /* QUERY_RESOLVE */ | 0x04 /* COPY_SRC */, label: 'profile resolve' });
  const read = device.createBuffer({ size: bytes, usage: 0x01 /* MAP_READ */ | 0x08 /* COPY_DST */, label: 'profile read' });
  encoder.resolveQuerySet(set, 0, names.length * 2, resolved, 0);
  encoder.copyBufferToBuffer(resolved, 0, read, 0, bytes);
  // after submit: read the times back, return the query set for reuse
  return () => {
    pending.push(
      read.mapAsync(0x01 /* READ */).then(() => {
        const t = new BigInt64Array(read.getMappedRange());
        names.forEach((name, j) => {
          const row = totals.get(name) ?? { calls: 0, ns: 0n };
          const dt = t[2 * j + 1] - t[2 * j];
          row.calls++;
          row.ns += dt > 0n ? dt : 0n;
          totals.set(name, row);
        });
        read.unmap();
        read.destroy();
        resolved.destroy();
        spare.push(set);
      }),
    );
  };
}

/**
 * Ends the profile: submits pending work, waits for its timestamps and returns the kernels by total
 * time, longest first. `sync` is commands.ts's (passed in to keep this module below it); users call
 * stopProfile() there.
 */
export async function finishProfile(sync: () => Promise<void>): Promise<KernelProfileRow[]> {
  if (!open) throw new Error('stopProfile: no profile is open');
  await sync();
  open = false;
  await Promise.all(pending.splice(0));
  return [...totals.entries()]
    .map(([kernel, r]) => ({ kernel, calls: r.calls, totalMs: Number(r.ns) / 1e6 }))
    .sort((a, b) => b.totalMs - a.totalMs);
}
