// MoCo's InfoNCE loss against a queue of negative keys, fused: see losses/contrastive.ts.
import { checkOptions } from '../engine/options.js';
import { fmtShape } from '../engine/shape.js';
import { record, Tensor } from '../engine/tensor.js';
import { contrastiveBackward, contrastiveForward, normalizeRows, rowsOf, type ContrastiveKernelConfig } from './contrastive.js';
import { checkEmbeddings, checkTemperature, lossFromStats } from './common.js';
import { MoCoQueue } from './moco_queue.js';

export interface InfoNCEOptions {
  /** τ > 0 (default 0.07, MoCo's). */
  temperature?: number;
}

/**
 * MoCo: query and positiveKey [N, d] and the queue's K keys [K, d] are L2-normalized (MoCo's keys
 * are unit vectors already; normalizing again changes nothing); per query i the logits are
 * [q_i·k_i, q_i·queue_0, ..., q_i·queue_{K-1}] / τ with the positive first, and the loss is the mean
 * cross-entropy. Gradients flow into query and (when it requires one) positiveKey; never into the
 * queue. `queue` is a [K, d] tensor or a MoCoQueue.
 */
export function infoNCE(query: Tensor, positiveKey: Tensor, queue: Tensor | MoCoQueue, options: InfoNCEOptions = {}): Tensor {
  const op = 'infoNCE';
  checkOptions(op, options, ['temperature']);
  checkEmbeddings(op, 'query', query);
  checkEmbeddings(op, 'positiveKey', positiveKey);
  const qt = queue instanceof MoCoQueue ? queue.keys : queue;
  checkEmbeddings(op, 'queue', qt);
  if (positiveKey.shape[0] !== query.shape[0] || positiveKey.shape[1] !== query.shape[1]) {
    throw new Error(`${op}: query ${fmtShape(query.shape)} and positiveKey ${fmtShape(positiveKey.shape)} must have the same shape [N, d]`);
  }
  if (qt.shape[1] !== query.shape[1]) throw new Error(`${op}: queue ${fmtShape(qt.shape)} must be [K, ${query.shape[1]}] for query ${fmtShape(query.shape)}`);
  const tau = options?.temperature ?? 0.07;
  checkTemperature(op, tau);
  const [N, d] = query.shape;
  const rq = rowsOf(query, op);
  const rk = rowsOf(positiveKey, op);
  const rc = rowsOf(qt, op);
  const Q = normalizeRows([rq.seg], d, op);
  const K = normalizeRows([rk.seg], d, op);
  const C = normalizeRows([rc.seg], d, op);
  for (const r of [rq, rk, rc]) r.owned?.dispose();
  const cfg: ContrastiveKernelConfig = { positives: 'extra', d };
  const stats = contrastiveForward({ cfg, A: Q, C, K, scale: 1 / tau, weight: 1 / N, op });
  const loss = lossFromStats([stats]);
  const saved = [Q.zn, Q.norms, K.zn, K.norms, C.zn, stats];
  const out = record(op, [query, positiveKey], loss, saved, (g, needs, [qzn, qn, kzn, kn, czn, st]) => {
    const r = contrastiveBackward({
      cfg: { ...cfg, colTerm: false, extraGrad: needs[1] },
      A: { zn: qzn, norms: qn, rows: N, d },
      statsA: st,
      C: { zn: czn, norms: czn, rows: czn.shape[0], d },
      K: { zn: kzn, norms: kn, rows: N, d },
      scale: 1 / tau,
      g,
      op: `${op}.backward`,
    });
    if (!needs[0]) r.dA.dispose();
    return [needs[0] ? r.dA : null, r.dK];
  });
  for (const t of [Q.zn, Q.norms, K.zn, K.norms, C.zn, C.norms, stats]) t.dispose();
  return out;
}
