// Shared test utilities: tolerance checks, float64 finite differences, fixtures, seeded data.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { sync } from '../engine/commands.js';
import { memoryStats } from '../engine/memory.js';
import { Rng } from '../engine/random.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Tol {
  rtol?: number;
  atol?: number;
}

/**
 * Elementwise |actual - expected| <= atol + rtol * |expected|, reporting the worst element.
 * Defaults: rtol 1e-4, atol 1e-6 (f32 against a float64 or PyTorch reference).
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol = {}, what = 'values'): void {
  const rtol = tol.rtol ?? 1e-4;
  const atol = tol.atol ?? 1e-6;
  expect(actual.length, `${what}: length`).to.equal(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (e === a) continue;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  }
  if (worst >= 0) {
    throw new Error(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}

/** atol scaled to the magnitude of the reference: for gradients with near-zero components. */
export function scaledTol(expected: ArrayLike<number>, rtol = 1e-4): Tol {
  let m = 0;
  for (let i = 0; i < expected.length; i++) m = Math.max(m, Math.abs(expected[i]));
  return { rtol, atol: rtol * 1e-2 * m + 1e-7 };
}

/** Central finite differences in float64 of a scalar function of several flat inputs. */
export function finiteDiff(f: (xs: Float64Array[]) => number, xs: Float64Array[], eps = 1e-6): Float64Array[] {
  return xs.map((x, k) => {
    const g = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const orig = x[i];
      x[i] = orig + eps;
      const fp = f(xs);
      x[i] = orig - eps;
      const fm = f(xs);
      x[i] = orig;
      g[i] = (fp - fm) / (2 * eps);
    }
    void k;
    return g;
  });
}

/** Seeded test data rounded to f32 (so the GPU and the float64 reference see the same inputs). */
export function randomData(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = new Rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r.range(lo, hi);
  return a;
}

export function toF64(a: ArrayLike<number>): Float64Array {
  return Float64Array.from(a as ArrayLike<number>);
}

const fixtureCache = new Map<string, unknown>();

/** Loads test/fixtures/<name>.json (made by the scripts in scripts/fixtures/). */
/** A tensor as the fixture scripts (scripts/fixtures/*.py) write it: shape and row-major data. */
export interface FixtureArray {
  shape: number[];
  data: number[];
}

export function loadFixture<T = Record<string, unknown>>(name: string): T {
  let v = fixtureCache.get(name);
  if (!v) {
    v = JSON.parse(readFileSync(`${REPO_ROOT}test/fixtures/${name}.json`, 'utf8'));
    fixtureCache.set(name, v);
  }
  return v as T;
}

/** Asserts fn throws an Error whose message matches every pattern. */
export function expectError(fn: () => unknown, ...patterns: RegExp[]): void {
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  if (!err) throw new Error(`expected an error matching ${patterns.join(', ')}, but nothing was thrown`);
  const msg = (err as Error).message;
  for (const p of patterns) expect(msg, 'error message').to.match(p);
}

/**
 * Runs `step` once (compiles kernels, fills the buffer pool), then `times` more: the live GPU memory
 * counter must end where it was after the first step.
 */
export async function expectFlatMemory(step: () => void | Promise<void>, times: number, counter: 'liveBuffers' | 'liveBytes' = 'liveBuffers'): Promise<void> {
  await step();
  await sync('expectFlatMemory');
  const before = memoryStats()[counter];
  for (let i = 0; i < times; i++) await step();
  await sync('expectFlatMemory');
  expect(memoryStats()[counter], `${counter} after ${times} more steps`).to.equal(before);
}
