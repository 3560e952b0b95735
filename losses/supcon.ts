// Supervised contrastive loss (Khosla et al. 2020, the 'all' contrast mode), fused: see
// losses/contrastive.ts.
import { noGrad } from '../engine/autograd.js';
import { checkOptions } from '../engine/options.js';
import { fmtShape } from '../engine/shape.js';
import { record, Tensor } from '../engine/tensor.js';
import { copy } from '../engine/ops/elementwise.js';
import { contiguous, permute, reshape } from '../engine/ops/shape.js';
import { contrastiveBackward, contrastiveForward, normalizeRows, rowsOf, type ContrastiveKernelConfig, type RowSegment } from './contrastive.js';
import { checkTemperature, labelTensor, lossFromStats } from './common.js';

export interface SupConOptions {
  /** τ > 0 (default 0.07). */
  temperature?: number;
  /** The loss is scaled by τ / baseTemperature (default: τ, i.e. no scaling). */
  baseTemperature?: number;
}

/**
 * SupCon: features [N, d] (one row per sample) or [bsz, views, d] (rows taken view-major, as the
 * reference implementation's torch.cat(torch.unbind(features, 1))), labels [bsz] (host array or
 * int32 tensor). Rows are L2-normalized; for each anchor row the positives are all other rows with
 * the same label and the denominator runs over all other rows; the anchor's loss is
 * -mean_{p in P(i)} log softmax_i(p). Anchors without positives contribute 0 and the loss is
 * (τ / baseTemperature) times the mean over all anchors.
 */
export function supConLoss(features: Tensor, labels: Tensor | ArrayLike<number>, options: SupConOptions = {}): Tensor {
  const op = 'supConLoss';
  checkOptions(op, options, ['temperature', 'baseTemperature']);
  if (!(features instanceof Tensor)) throw new Error(`${op}: features must be a Tensor`);
  features.storage(op);
  if (features.dtype !== 'float32') throw new Error(`${op}: features must be float32, got ${features.dtype}`);
  if (features.rank !== 2 && features.rank !== 3) throw new Error(`${op}: features must be [N, d] or [bsz, views, d], got ${fmtShape(features.shape)}`);
  if (features.shape.some((s) => s === 0)) throw new Error(`${op}: features ${fmtShape(features.shape)} are empty`);
  const tau = options?.temperature ?? 0.07;
  checkTemperature(op, tau);
  const base = options?.baseTemperature ?? tau;
  checkTemperature(op, base);
  const B = features.shape[0];
  const views = features.rank === 3 ? features.shape[1] : 1;
  const d = features.shape[features.rank - 1];
  const R = B * views;
  if (R < 2) throw new Error(`${op}: needs at least 2 rows to contrast, got features ${fmtShape(features.shape)}`);
  const lab = labelTensor(op, labels, B);
  // Rows in view-major order: row v * B + b is features[b, v].
  let src = features;
  if (features.strides[features.rank - 1] !== 1 && d > 1) src = noGrad(() => copy(features));
  let segs: RowSegment[];
  let owned: Tensor | null = src !== features ? src : null;
  if (features.rank === 2) {
    const r = rowsOf(src, op);
    segs = [r.seg];
    if (r.owned) owned = r.owned;
  } else {
    segs = [...Array(views).keys()].map((v) => ({ t: src, rows: B, offset: src.offset + v * src.strides[1], rowStride: src.strides[0] }));
  }
  const A = normalizeRows(segs, d, op);
  owned?.dispose();
  const cfg: ContrastiveKernelConfig = { positives: 'labels', labelSource: 'buffer', d };
  const weight = tau / base / R;
  const stats = contrastiveForward({ cfg, A, labels: lab.t, labelMod: B, scale: 1 / tau, weight, op });
  const loss = lossFromStats([stats]);
  const out = record(op, [features], loss, [A.zn, A.norms, stats, lab.t], (g, _needs, [zn, norms, st, sl]) => {
    const { dA } = contrastiveBackward({
      cfg: { ...cfg, colTerm: true },
      A: { zn, norms, rows: R, d },
      statsA: st,
      labels: sl,
      labelMod: B,
      scale: 1 / tau,
      g,
      op: `${op}.backward`,
    });
    if (features.rank === 2) return [dA];
    const v = reshape(dA, [views, B, d]);
    const pm = permute(v, [1, 0, 2]);
    const gf = contiguous(pm);
    for (const t of [dA, v, pm]) t.dispose();
    return [gf];
  });
  for (const t of [A.zn, A.norms, stats]) t.dispose();
  if (lab.owned) lab.t.dispose();
  return out;
}
