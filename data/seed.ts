// Independent random streams derived from one seed: the loader draws the shuffle of epoch e from
// stream (seed, e, SHUFFLE) and the augmentations of batch k from (seed, e, k, AUGMENT), so a batch
// does not depend on how far prefetching ran ahead, on worker timing, or on earlier epochs.
import { Rng } from '../engine/random.js';

export const STREAM_SHUFFLE = 0x5348;
export const STREAM_AUGMENT = 0x4155;

function mix32(h: number, v: number): number {
  // murmur3-style combine of a 32-bit word (v may exceed 32 bits: its high part is folded in)
  const lo = v >>> 0;
  const hi = Math.floor(v / 2 ** 32) >>> 0;
  for (const w of [lo, hi]) {
    let k = Math.imul(w, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  return h >>> 0;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit seed from several integers (non-negative). */
export function deriveSeed(...parts: number[]): number {
  let h = 0x9747b28c;
  for (const p of parts) {
    if (!Number.isInteger(p) || p < 0) throw new Error(`deriveSeed: parts must be non-negative integers, got ${p}`);
    h = mix32(h, p);
  }
  return fmix32(h ^ parts.length);
}

export function streamRng(...parts: number[]): Rng {
  return new Rng(deriveSeed(...parts));
}
