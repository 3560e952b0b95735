// Shared helpers for the loss tests.
import * as E from '../../engine/index.js';
import { assertClose, scaledTol } from '../helpers.js';

export const param = (data: ArrayLike<number>, shape: number[]) => E.tensor(Float32Array.from(data), shape, { requiresGrad: true });
export const constant = (data: ArrayLike<number>, shape: number[]) => E.tensor(Float32Array.from(data), shape);

/** Runs loss(), backward, and returns the loss value and the gradients of `inputs` (null when none). */
export async function lossAndGrads(inputs: E.Tensor[], loss: () => E.Tensor): Promise<{ loss: number; grads: (Float32Array | null)[] }> {
  const l = loss();
  l.backward();
  const value = await l.item();
  l.dispose();
  const grads: (Float32Array | null)[] = [];
  for (const t of inputs) grads.push(t.grad ? await t.grad.toArray() : null);
  return { loss: value, grads };
}

/** Elementwise |a - e| <= rtol * |e| + rtol * max|e|: relative to the vector's scale. */
export function assertRelClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, what: string): void {
  let m = 0;
  for (let i = 0; i < expected.length; i++) m = Math.max(m, Math.abs(expected[i]));
  assertClose(actual, expected, { rtol, atol: rtol * m + 1e-30 }, what);
}

/**
 * scaledTol per row of a [rows, d] array (rows may have very different magnitudes). `atolFloor` is for
 * gradients that are exact cancellations (zero in exact arithmetic): their f32 value is rounding noise
 * of the size of the cancelling terms, which the caller knows and the zero reference cannot say.
 */
export function assertRowsClose(actual: ArrayLike<number>, expected: ArrayLike<number>, d: number, rtol: number, what: string, atolFloor = 0): void {
  const rows = expected.length / d;
  for (let r = 0; r < rows; r++) {
    const e = Array.from(expected).slice(r * d, (r + 1) * d);
    const a = Array.from(actual).slice(r * d, (r + 1) * d);
    const tol = scaledTol(e, rtol);
    assertClose(a, e, { rtol: tol.rtol, atol: Math.max(tol.atol ?? 0, atolFloor) }, `${what} row ${r}`);
  }
}

export function allFinite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

export function disposeAll(...ts: E.Tensor[]): void {
  for (const t of ts) t.dispose();
}
