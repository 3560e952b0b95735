// GPU buffer ownership: a pool of storage buffers by size class, and the counters behind memoryStats().
import { clearBindGroups } from './commands.js';
import { deviceContext } from './device.js';

const STORAGE_USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08; /* COPY_DST */

/** Size classes: 256 B granularity below 4 KiB, then 8 steps per power of two (waste <= 12.5%). */
export function sizeClass(bytes: number): number {
  const b = Math.max(bytes, 16);
  if (b <= 4096) return Math.ceil(b / 256) * 256;
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 8;
  return Math.ceil(b / step) * step;
}

interface Stats {
  liveBuffers: number;
  liveBytes: number;
  pooledBuffers: number;
  pooledBytes: number;
  peakLiveBytes: number;
  created: number;
}

const free = new Map<string | number, GPUBuffer[]>();
const stats: Stats = { liveBuffers: 0, liveBytes: 0, pooledBuffers: 0, pooledBytes: 0, peakLiveBytes: 0, created: 0 };

/** Counters for one pooled resource of `bytes` changing hands: taken from the pool, newly created, or released to it. */
function account(bytes: number, how: 'reused' | 'created' | 'released'): void {
  if (how === 'released') {
    stats.liveBuffers--;
    stats.liveBytes -= bytes;
    stats.pooledBuffers++;
    stats.pooledBytes += bytes;
    return;
  }
  if (how === 'reused') {
    stats.pooledBuffers--;
    stats.pooledBytes -= bytes;
  } else stats.created++;
  stats.liveBuffers++;
  stats.liveBytes += bytes;
  if (stats.liveBytes > stats.peakLiveBytes) stats.peakLiveBytes = stats.liveBytes;
}

function pooled<T>(pool: Map<string | number, T[]>, key: string | number): T[] {
  let list = pool.get(key);
  if (!list) pool.set(key, (list = []));
  return list;
}

export function acquireBuffer(bytes: number, op: string): GPUBuffer {
  const size = sizeClass(bytes);
  const { device, limits } = deviceContext();
  if (size > limits.maxBufferSize) {
    throw new Error(`${op}: needs a ${bytes}-byte buffer, above this device's maxBufferSize (${limits.maxBufferSize})`);
  }
  const reused = free.get(size)?.pop();
  const buf = reused ?? device.createBuffer({ size, usage: STORAGE_USAGE, label: op });
  account(size, reused ? 'reused' : 'created');
  return buf;
}

export function releaseBuffer(buf: GPUBuffer): void {
  pooled(free, buf.size).push(buf);
  account(buf.size, 'released');
}

/** Live buffers/bytes (owned by tensors and saved activations), pooled (free, reusable) buffers/bytes. */
export function memoryStats(): Readonly<Stats> {
  return { ...stats };
}

/** Resets the peak counter to the current live bytes (for measuring one region's peak). */
export function resetPeakMemory(): void {
  stats.peakLiveBytes = stats.liveBytes;
}

// Panel textures (rgba32uint, the GEMM's B panels on CPU drivers, filled by a buffer-to-texture copy):
// pooled by size like buffers and counted with them in memoryStats().
const freeTextures = new Map<string | number, GPUTexture[]>();
const TEXTURE_USAGE = 0x04 /* TEXTURE_BINDING */ | 0x02; /* COPY_DST */
const STORAGE_BINDING = 0x08; // read-only storage panels on CPU drivers (kernels.ts panelsAsStorageTextures)

/** A width x height rgba32uint texture (16 bytes a texel) that a copy fills and kernels read. */
export function acquireTexture(width: number, height: number, op: string): GPUTexture {
  const { device, limits } = deviceContext();
  const max = limits.maxTextureDimension2D;
  if (width > max || height > max) throw new Error(`${op}: needs a ${width}x${height} texture, above this device's maxTextureDimension2D (${max})`);
  const reused = freeTextures.get(`${width}x${height}`)?.pop();
  const tex = reused ?? device.createTexture({ size: [width, height], format: 'rgba32uint', usage: TEXTURE_USAGE | (deviceContext().summary.isSoftware ? STORAGE_BINDING : 0), label: op });
  account(width * height * 16, reused ? 'reused' : 'created');
  return tex;
}

// one view per texture: pooled textures come back with the same view, so the bind groups of the
// kernels that read them can be cached like those of buffers (engine/commands.ts)
const views = new WeakMap<GPUTexture, GPUTextureView>();

/** The texture's view for binding (made once per texture). */
export function textureView(tex: GPUTexture): GPUTextureView {
  let v = views.get(tex);
  if (!v) views.set(tex, (v = tex.createView()));
  return v;
}

/** Returns a texture to the pool; work already encoded that uses it still runs first (queue order). */
export function releaseTexture(tex: GPUTexture): void {
  pooled(freeTextures, `${tex.width}x${tex.height}`).push(tex);
  account(tex.width * tex.height * 16, 'released');
}

/** Destroys every pooled buffer and texture. Live ones are untouched. */
export function emptyCache(): void {
  clearBindGroups();
  for (const list of free.values()) for (const b of list) b.destroy();
  free.clear();
  for (const list of freeTextures.values()) for (const t of list) t.destroy();
  freeTextures.clear();
  stats.pooledBuffers = 0;
  stats.pooledBytes = 0;
}
