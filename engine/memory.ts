// GPU buffer ownership: a pool of storage buffers by size class, and the counters behind memoryStats().
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

const free = new Map<number, GPUBuffer[]>();
const stats: Stats = { liveBuffers: 0, liveBytes: 0, pooledBuffers: 0, pooledBytes: 0, peakLiveBytes: 0, created: 0 };

export function acquireBuffer(bytes: number, op: string): GPUBuffer {
  const size = sizeClass(bytes);
  const { device, limits } = deviceContext();
  if (size > limits.maxBufferSize) {
    throw new Error(`${op}: needs a ${bytes}-byte buffer, above this device's maxBufferSize (${limits.maxBufferSize})`);
  }
  const list = free.get(size);
  let buf = list?.pop();
  if (buf) {
    stats.pooledBuffers--;
    stats.pooledBytes -= size;
  } else {
    buf = device.createBuffer({ size, usage: STORAGE_USAGE, label: op });
    stats.created++;
  }
  stats.liveBuffers++;
  stats.liveBytes += size;
  if (stats.liveBytes > stats.peakLiveBytes) stats.peakLiveBytes = stats.liveBytes;
  return buf;
}

export function releaseBuffer(buf: GPUBuffer): void {
  const size = buf.size;
  stats.liveBuffers--;
  stats.liveBytes -= size;
  let list = free.get(size);
  if (!list) free.set(size, (list = []));
  list.push(buf);
  stats.pooledBuffers++;
  stats.pooledBytes += size;
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
const freeTextures = new Map<string, GPUTexture[]>();
const TEXTURE_USAGE = 0x04 /* TEXTURE_BINDING */ | 0x02; /* COPY_DST */

/** A width x height rgba32uint texture (16 bytes a texel) that a copy fills and kernels read. */
export function acquireTexture(width: number, height: number, op: string): GPUTexture {
  const { device, limits } = deviceContext();
  const max = limits.maxTextureDimension2D;
  if (width > max || height > max) throw new Error(`${op}: needs a ${width}x${height} texture, above this device's maxTextureDimension2D (${max})`);
  const bytes = width * height * 16;
  let tex = freeTextures.get(`${width}x${height}`)?.pop();
  if (tex) {
    stats.pooledBuffers--;
    stats.pooledBytes -= bytes;
  } else {
    tex = device.createTexture({ size: [width, height], format: 'rgba32uint', usage: TEXTURE_USAGE, label: op });
    stats.created++;
  }
  stats.liveBuffers++;
  stats.liveBytes += bytes;
  if (stats.liveBytes > stats.peakLiveBytes) stats.peakLiveBytes = stats.liveBytes;
  return tex;
}

/** Returns a texture to the pool; work already encoded that uses it still runs first (queue order). */
export function releaseTexture(tex: GPUTexture): void {
  const bytes = tex.width * tex.height * 16;
  stats.liveBuffers--;
  stats.liveBytes -= bytes;
  const key = `${tex.width}x${tex.height}`;
  let list = freeTextures.get(key);
  if (!list) freeTextures.set(key, (list = []));
  list.push(tex);
  stats.pooledBuffers++;
  stats.pooledBytes += bytes;
}

/** Destroys every pooled buffer and texture. Live ones are untouched. */
export function emptyCache(): void {
  for (const list of free.values()) for (const b of list) b.destroy();
  free.clear();
  for (const list of freeTextures.values()) for (const t of list) t.destroy();
  freeTextures.clear();
  stats.pooledBuffers = 0;
  stats.pooledBytes = 0;
}
