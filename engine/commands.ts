// Command batching: ops encode dispatches into one open compute pass; work is submitted in batches
// (every MAX_BATCH dispatches, before an upload, before a readback). Only reads wait on the GPU.
// Kernel parameters of a batch are gathered on the host, one aligned slot per dispatch, and written to
// one persistent uniform buffer just before the batch is submitted (queue order keeps the previous
// batch's values until it has run). Kernels bind it at a dynamic offset, so the bind group of a kernel
// and its buffers is created once and reused (createBindGroup was half of an op's host cost).
import { deviceContext, gpuWait } from './device.js';
import type { Kernel } from './kernels.js';
import { sizeClass } from './memory.js';
import { finishProfile, profiling, resolveBatch, timestampWrites, type KernelProfileRow } from './profile.js';
import { EMPTY_KEY, mixKey } from './wait_plan.js';

const MAX_BATCH = 256;
const ARENA_BYTES = 65536;

let encoder: GPUCommandEncoder | null = null;
let pass: GPUComputePassEncoder | null = null;
let batched = 0;
let arena: GPUBuffer | null = null;
const arenaHost = new Uint8Array(ARENA_BYTES);
let arenaOffset = 0;

// bind groups by kernel and bound resources; cleared when buffers are destroyed (emptyCache) or it grows large
const bindGroups = new Map<string, GPUBindGroup>();
const MAX_BIND_GROUPS = 8192;
const resourceIds = new WeakMap<object, number>();
let nextResourceId = 1;

function resourceId(r: object): number {
  let id = resourceIds.get(r);
  if (id === undefined) resourceIds.set(r, (id = nextResourceId++));
  return id;
}

let cacheBindGroups = true;

/** Benchmarks: turn the bind-group cache off (a bind group per dispatch, as before it existed) or on. */
export function setBindGroupCaching(on: boolean): void {
  cacheBindGroups = on;
}

/** Forgets every cached bind group (their buffers may be about to be destroyed). */
export function clearBindGroups(): void {
  bindGroups.clear();
}
// the key of the work encoded since the last wait began: its kernels, their sizes and the copies
// (a wait for the same work again can sleep through the time it took; engine/wait_plan.ts)
let workKey = EMPTY_KEY;
const COPY = 1;
const CLEAR = 2;
const TEXTURE_COPY = 3;
const READBACK = 4;
const UPLOAD = 5;

function takeWorkKey(): number {
  const key = workKey;
  workKey = EMPTY_KEY;
  return key;
}

let submits = 0;
let dispatches = 0;
let bindGroupsCreated = 0;

function ensurePass(): GPUComputePassEncoder {
  const { device } = deviceContext();
  if (!encoder) encoder = device.createCommandEncoder();
  if (!pass) pass = encoder.beginComputePass();
  return pass;
}

function paramSlot(params: Uint32Array): { buffer: GPUBuffer; offset: number; size: number } {
  const { device, limits } = deviceContext();
  const align = Math.max(16, limits.minUniformBufferOffsetAlignment ?? 256);
  const size = Math.ceil(params.byteLength / 16) * 16;
  if (size > ARENA_BYTES) throw new Error(`kernel params of ${size} bytes exceed the arena`);
  if (arenaOffset + size > ARENA_BYTES) flush();
  arena ??= device.createBuffer({ size: ARENA_BYTES, usage: 0x40 /* UNIFORM */ | 0x08 /* COPY_DST */, label: 'params' });
  const offset = arenaOffset;
  arenaHost.fill(0, offset, offset + size);
  arenaHost.set(new Uint8Array(params.buffer, params.byteOffset, params.byteLength), offset);
  arenaOffset = Math.ceil((offset + size) / align) * align;
  return { buffer: arena, offset, size };
}

/** A kernel binding: a storage buffer, or a texture view (the GEMM's texture panels). */
export type Binding = GPUBuffer | GPUTextureView;

/** Encodes one dispatch. `buffers` bind at 1..n; `params` (if any) at 0. */
export function dispatch(k: Kernel, buffers: Binding[], params: Uint32Array | null, groups: [number, number?, number?]): void {
  const { device, limits } = deviceContext();
  const maxG = limits.maxComputeWorkgroupsPerDimension;
  const [x, y = 1, z = 1] = groups;
  if (x > maxG || y > maxG || z > maxG) throw new Error(`${k.name}: dispatch ${x}x${y}x${z} exceeds ${maxG} workgroups per dimension`);
  if (x === 0 || y === 0 || z === 0) return;
  if (k.hasParams && !params) throw new Error(`${k.name}: kernel expects parameters`);
  if (k.dynamicParams && k.bindings !== buffers.length + (k.hasParams ? 1 : 0)) {
    throw new Error(`${k.name}: internal: ${buffers.length} resources for ${k.bindings - (k.hasParams ? 1 : 0)} bindings`);
  }
  const slot = k.hasParams ? paramSlot(params!) : null;
  const resource = (b: Binding): GPUBindingResource => ('mapAsync' in b ? { buffer: b } : b);
  let bindGroup: GPUBindGroup | undefined;
  let key = '';
  // texture views come from textureView (engine/memory.ts), one per pooled texture, so they key like buffers
  if (cacheBindGroups && k.dynamicParams) {
    key = `${k.name}|${slot ? `${resourceId(slot.buffer)}:${slot.size}` : '-'}|${buffers.map((b) => resourceId(b)).join(',')}`;
    bindGroup = bindGroups.get(key);
  }
  if (!bindGroup) {
    const entries: GPUBindGroupEntry[] = [];
    if (slot) entries.push({ binding: 0, resource: { buffer: slot.buffer, offset: k.dynamicParams ? 0 : slot.offset, size: slot.size } });
    buffers.forEach((b, i) => entries.push({ binding: i + 1, resource: resource(b) }));
    bindGroup = device.createBindGroup({ layout: k.layout, entries, label: k.name });
    bindGroupsCreated++;
    if (key) {
      if (bindGroups.size >= MAX_BIND_GROUPS) bindGroups.clear();
      bindGroups.set(key, bindGroup);
    }
  }
  let timed: GPUComputePassTimestampWrites | null = null;
  if (profiling()) {
    timed = timestampWrites(k.name);
    if (!timed) {
      flush();
      timed = timestampWrites(k.name)!;
    }
    copyEncoder();
    pass = encoder!.beginComputePass({ timestampWrites: timed });
  }
  const p = ensurePass();
  p.setPipeline(k.pipeline);
  if (k.dynamicParams && slot) p.setBindGroup(0, bindGroup, [slot.offset]);
  else p.setBindGroup(0, bindGroup);
  p.dispatchWorkgroups(x, y, z);
  workKey = mixKey(workKey, resourceId(k), x, y, z);
  if (timed) copyEncoder(); // ends the dispatch's own pass
  dispatches++;
  if (++batched >= MAX_BATCH) flush();
}

/** Splits a 1-D count of workgroups over x and y so neither exceeds the per-dimension limit. */
export function groups1d(count: number): [number, number] {
  const maxG = deviceContext().limits.maxComputeWorkgroupsPerDimension;
  if (count <= maxG) return [Math.max(count, 1), 1];
  const y = Math.ceil(count / maxG);
  return [Math.ceil(count / y), y];
}

/** The open encoder with no compute pass open, for a copy command. */
function copyEncoder(): GPUCommandEncoder {
  if (pass) {
    pass.end();
    pass = null;
  }
  encoder ??= deviceContext().device.createCommandEncoder();
  return encoder;
}

export function copyBuffer(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
  copyEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  workKey = mixKey(workKey, COPY, bytes);
  if (++batched >= MAX_BATCH) flush();
}

/** Zeroes `bytes` bytes of dst from byteOffset (both multiples of 4): a memset in CPU drivers. */
export function clearBuffer(dst: GPUBuffer, byteOffset: number, bytes: number): void {
  copyEncoder().clearBuffer(dst, byteOffset, bytes);
  workKey = mixKey(workKey, CLEAR, bytes);
  if (++batched >= MAX_BATCH) flush();
}

/**
 * Copies a row-major buffer of rgba32 texels (bytesPerRow a multiple of 256) into `rows` rows of a
 * texture from row `firstRow` (by default the whole texture), the first `width` texels of each (by
 * default whole rows).
 */
export function copyBufferToTexture(src: GPUBuffer, bytesPerRow: number, dst: GPUTexture, offset = 0, firstRow = 0, rows = dst.height - firstRow, width = dst.width, firstColumn = 0): void {
  copyEncoder().copyBufferToTexture({ buffer: src, bytesPerRow, offset }, { texture: dst, origin: [firstColumn, firstRow] }, [width, rows]);
  workKey = mixKey(workKey, TEXTURE_COPY, width, rows);
  if (++batched >= MAX_BATCH) flush();
}

/** Submits everything encoded so far. */
export function flush(): void {
  if (!encoder && arenaOffset === 0) return;
  const { device } = deviceContext();
  if (pass) {
    pass.end();
    pass = null;
  }
  if (arena && arenaOffset > 0) device.queue.writeBuffer(arena, 0, arenaHost.buffer, 0, arenaOffset);
  arenaOffset = 0;
  if (encoder) {
    const afterSubmit = resolveBatch(encoder);
    device.queue.submit([encoder.finish()]);
    afterSubmit?.();
    submits++;
    encoder = null;
  }
  batched = 0;
}

/** Uploads host data; earlier encoded work is submitted first so it cannot see the new contents. */
export function writeBuffer(dst: GPUBuffer, byteOffset: number, data: ArrayBufferView): void {
  flush();
  const { device } = deviceContext();
  device.queue.writeBuffer(dst, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  workKey = mixKey(workKey, UPLOAD, data.byteLength);
}

const staging = new Map<number, GPUBuffer[]>();

/** Copies `bytes` from `src` (at `byteOffset`) into `into`, waiting for the GPU. */
export async function readBuffer(src: GPUBuffer, byteOffset: number, into: Uint8Array, where: string): Promise<void> {
  const { device } = deviceContext();
  const bytes = into.byteLength;
  const alignedStart = byteOffset & ~3;
  const head = byteOffset - alignedStart;
  const span = Math.ceil((head + bytes) / 4) * 4;
  const size = sizeClass(span);
  let buf = staging.get(size)?.pop();
  if (!buf) buf = device.createBuffer({ size, usage: 0x01 /* MAP_READ */ | 0x08 /* COPY_DST */, label: 'readback' });
  copyBuffer(src, alignedStart, buf, 0, span);
  flush();
  await gpuWait(buf.mapAsync(0x01 /* READ */, 0, span), where, mixKey(takeWorkKey(), READBACK));
  into.set(new Uint8Array(buf.getMappedRange(0, span), head, bytes));
  buf.unmap();
  let list = staging.get(size);
  if (!list) staging.set(size, (list = []));
  list.push(buf);
}

/** Waits until all submitted work has finished (benchmarks use this). */
export async function sync(where = 'sync'): Promise<void> {
  flush();
  await gpuWait(deviceContext().device.queue.onSubmittedWorkDone(), where, takeWorkKey());
}

export function commandStats(): { submits: number; dispatches: number; bindGroupsCreated: number } {
  return { submits, dispatches, bindGroupsCreated };
}

/** Ends a profile opened by startProfile() and returns GPU time per kernel, longest first. */
export async function stopProfile(): Promise<KernelProfileRow[]> {
  return finishProfile(sync);
}
