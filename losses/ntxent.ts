// NT-Xent (SimCLR's normalized temperature-scaled cross-entropy), fused: see losses/contrastive.ts.
import { checkOptions } from '../engine/options.js';
import { fmtShape } from '../engine/shape.js';
import { record, type Tensor } from '../engine/tensor.js';
import { slice } from '../engine/ops/shape.js';
import { contrastiveBackward, contrastiveForward, normalizeRows, rowsOf, type ContrastiveKernelConfig } from './contrastive.js';
import { checkEmbeddings, checkTemperature, lossFromStats } from './common.js';

export interface NTXentOptions {
  /** τ > 0 (default 0.5). */
  temperature?: number;
}

/**
 * SimCLR's loss. The 2N rows of [z1; z2] are L2-normalized (x / max(||x||, 1e-12)); the logit of a
 * pair is their dot product / τ; row i's positive is its other view (i <-> i + N), its own
 * self-similarity is excluded and the other 2N - 2 rows are its negatives; the loss is the mean
 * over the 2N anchors of -log softmax(positive). z1[i] and z2[i] must be two augmented views of
 * the same image. Returns a scalar with a fused backward into z1 and z2.
 */
export function ntXent(z1: Tensor, z2: Tensor, options: NTXentOptions = {}): Tensor {
  const op = 'ntXent';
  checkOptions(op, options, ['temperature']);
  checkEmbeddings(op, 'z1', z1);
  checkEmbeddings(op, 'z2', z2);
  if (z1.shape[0] !== z2.shape[0] || z1.shape[1] !== z2.shape[1]) {
    throw new Error(`${op}: z1 ${fmtShape(z1.shape)} and z2 ${fmtShape(z2.shape)} must have the same shape [N, d] (view i of each is the same image)`);
  }
  const tau = options?.temperature ?? 0.5;
  checkTemperature(op, tau);
  const [N, d] = z1.shape;
  const r1 = rowsOf(z1, op);
  const r2 = rowsOf(z2, op);
  const A = normalizeRows([r1.seg, r2.seg], d, op);
  r1.owned?.dispose();
  r2.owned?.dispose();
  const cfg: ContrastiveKernelConfig = { positives: 'labels', labelSource: 'mod', d };
  const stats = contrastiveForward({ cfg, A, labelMod: N, scale: 1 / tau, weight: 1 / (2 * N), op });
  const loss = lossFromStats([stats]);
  const out = record(op, [z1, z2], loss, [A.zn, A.norms, stats], (g, needs, [zn, norms, st]) => {
    const { dA } = contrastiveBackward({
      cfg: { ...cfg, colTerm: true },
      A: { zn, norms, rows: 2 * N, d },
      statsA: st,
      labelMod: N,
      scale: 1 / tau,
      g,
      op: `${op}.backward`,
    });
    const g1 = needs[0] ? slice(dA, 0, 0, N) : null;
    const g2 = needs[1] ? slice(dA, 0, N, 2 * N) : null;
    dA.dispose();
    return [g1, g2];
  });
  for (const t of [A.zn, A.norms, stats]) t.dispose();
  return out;
}
