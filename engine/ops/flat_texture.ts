// Flat texture copies: a run of floats in a buffer copied into an rgba32uint texture whose texel t holds
// elements 4t .. 4t + 3, in rows of a power-of-2 width. A kernel reads element run [4t, 4t + 4) at
// (t & (width - 1), t >> log2(width)). The copy is a memcpy in a CPU driver, where a kernel that
// re-lays the floats out pays a per-lane, per-component cost for every load and store.
import { copyBuffer, copyBufferToTexture } from '../commands.js';
import { deviceContext } from '../device.js';
import { acquireTexture } from '../memory.js';
import { empty } from '../tensor.js';

/**
 * The width of a texture that wraps a flat run of texels into rows: a power of 2 from 64 texels (1 KiB
 * rows, a multiple of the copy's 256-byte row pitch), doubled until `rowsAt(width)` rows fit the
 * device (or the width reaches its limit).
 */
export function wrapWidth(rowsAt: (width: number) => number): number {
  const maxDim = deviceContext().limits.maxTextureDimension2D;
  let width = 64;
  while (rowsAt(width) > maxDim && width < maxDim) width *= 2;
  return width;
}

/** The texture of flatBufferTexture for `size` elements: rows of `width` texels (wrapWidth), or null if it cannot fit. */
export function flatTextureLayout(size: number): { width: number; rows: number } | null {
  const texels = Math.ceil(size / 4);
  const width = wrapWidth((w) => Math.ceil(texels / w));
  const rows = Math.ceil(texels / width);
  return rows <= deviceContext().limits.maxTextureDimension2D ? { width, rows } : null;
}

/**
 * `size` elements of `buffer` from element `offset` in a flat texture (flatTextureLayout, which must
 * fit). Copied straight from the buffer where the run starts on a texel (a 16-byte aligned offset) and
 * the buffer holds the texture's whole rows, else through a staging buffer; texels past the run's end
 * hold whatever the copy brought (a kernel must not use them).
 */
export function flatBufferTexture(buffer: GPUBuffer, offset: number, size: number, op: string): GPUTexture {
  const { width, rows } = flatTextureLayout(size)!;
  const texture = acquireTexture(width, rows, op);
  if (offset % 4 === 0 && buffer.size >= offset * 4 + rows * width * 16) {
    copyBufferToTexture(buffer, width * 16, texture, offset * 4);
  } else {
    const staging = empty([rows * width * 4], 'float32', op);
    copyBuffer(buffer, offset * 4, staging.buffer(op), 0, size * 4);
    copyBufferToTexture(staging.buffer(op), width * 16, texture);
    staging.dispose();
  }
  return texture;
}
