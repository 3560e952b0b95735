// Argument checks and the loss reduction shared by the contrastive losses.
import { noGrad } from '../engine/autograd.js';
import { fmtShape } from '../engine/shape.js';
import { Tensor } from '../engine/tensor.js';
import { add } from '../engine/ops/elementwise.js';
import { sum } from '../engine/ops/reduce.js';
import { slice } from '../engine/ops/shape.js';

/** Checks a [rows, d] float32 embedding tensor that is alive, with at least one row and one feature. */
export function checkEmbeddings(op: string, name: string, t: unknown, rank = 2): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new Error(`${op}: ${name} must be a Tensor`);
  t.storage(op);
  if (t.dtype !== 'float32') throw new Error(`${op}: ${name} must be float32, got ${t.dtype}`);
  if (t.rank !== rank) throw new Error(`${op}: ${name} must be ${rank === 2 ? '[N, d]' : `rank ${rank}`}, got ${fmtShape(t.shape)}`);
  if (t.shape.some((s) => s === 0)) throw new Error(`${op}: ${name} ${fmtShape(t.shape)} is empty`);
}

export function checkTemperature(op: string, tau: unknown): void {
  if (typeof tau !== 'number' || !Number.isFinite(tau) || tau <= 0) throw new Error(`${op}: temperature must be a finite number > 0, got ${tau}`);
}

/** The scalar loss: the sum of the forward kernels' per-anchor contributions (stats[:, 3]). */
export function lossFromStats(stats: Tensor[]): Tensor {
  return noGrad(() => {
    let total: Tensor | null = null;
    for (const st of stats) {
      const col = slice(st, 1, 3, 4);
      const s = sum(col);
      col.dispose();
      if (total) {
        const t2 = add(total, s);
        total.dispose();
        s.dispose();
        total = t2;
      } else total = s;
    }
    return total!;
  });
}
