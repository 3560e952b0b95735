// CLIP's symmetric contrastive loss with a learnable logit scale, fused: see losses/contrastive.ts.
import { noGrad } from '../engine/autograd.js';
import { fmtShape } from '../engine/shape.js';
import { record, type Tensor } from '../engine/tensor.js';
import { full } from '../engine/ops/creation.js';
import { exp, le, mul } from '../engine/ops/elementwise.js';
import { sum } from '../engine/ops/reduce.js';
import { contrastiveBackward, contrastiveForward, normalizeRows, rowsOf, type ContrastiveKernelConfig } from './contrastive.js';
import { checkEmbeddings, checkScalarTensor, lossFromStats } from './common.js';

/** CLIP's cap on the logit scale: scale = min(exp(logitScale), 100). */
export const CLIP_MAX_SCALE = 100;

/**
 * CLIP: image and text embeddings [N, d] are L2-normalized; logits = scale * img · txtᵀ with
 * scale = min(exp(logitScale), 100) (CLIP stores the scale as a log and caps it at 100); pair i is
 * (image i, text i); the loss is (CE over images->texts + CE over texts->images) / 2. logitScale is
 * a one-element tensor, typically a parameter initialized to log(1 / 0.07); it receives a gradient
 * (zero while exp(logitScale) > 100, as through torch.clamp).
 */
export function clipLoss(imageEmb: Tensor, textEmb: Tensor, logitScale: Tensor): Tensor {
  const op = 'clipLoss';
  checkEmbeddings(op, 'imageEmb', imageEmb);
  checkEmbeddings(op, 'textEmb', textEmb);
  checkScalarTensor(op, 'logitScale', logitScale);
  if (imageEmb.shape[0] !== textEmb.shape[0] || imageEmb.shape[1] !== textEmb.shape[1]) {
    throw new Error(`${op}: imageEmb ${fmtShape(imageEmb.shape)} and textEmb ${fmtShape(textEmb.shape)} must have the same shape [N, d] (pair i is image i with text i)`);
  }
  const [N, d] = imageEmb.shape;
  const ri = rowsOf(imageEmb, op);
  const rt = rowsOf(textEmb, op);
  const I = normalizeRows([ri.seg], d, op);
  const T = normalizeRows([rt.seg], d, op);
  ri.owned?.dispose();
  rt.owned?.dispose();
  const cfg: ContrastiveKernelConfig = { positives: 'diag', scaleFromBuffer: true, d };
  const weight = 1 / (2 * N);
  const statsI = contrastiveForward({ cfg, A: I, C: T, scaleTensor: logitScale, weight, op });
  const statsT = contrastiveForward({ cfg, A: T, C: I, scaleTensor: logitScale, weight, op });
  const loss = lossFromStats([statsI, statsT]);
  const saved = [I.zn, I.norms, T.zn, T.norms, statsI, statsT, logitScale];
  const out = record(op, [imageEmb, textEmb, logitScale], loss, saved, (g, needs, [izn, inorm, tzn, tnorm, sI, sT, ls]) => {
    const bop = `${op}.backward`;
    const Ib = { zn: izn, norms: inorm, rows: N, d };
    const Tb = { zn: tzn, norms: tnorm, rows: N, d };
    const pass1 = contrastiveBackward({ cfg: { ...cfg, colTerm: true, scaleGrad: needs[2] }, A: Ib, statsA: sI, C: Tb, statsC: sT, scaleTensor: ls, g, op: bop });
    let dT: Tensor | null = null;
    if (needs[1]) dT = contrastiveBackward({ cfg: { ...cfg, colTerm: true }, A: Tb, statsA: sT, C: Ib, statsC: sI, scaleTensor: ls, g, op: bop }).dA;
    let dScale: Tensor | null = null;
    if (pass1.scalePartials) {
      // dL/dlogitScale = (sum_i partial_i) * exp(l) where exp(l) <= 100, else 0.
      const parts = pass1.scalePartials;
      dScale = noGrad(() => {
        const e = exp(ls);
        const cap = full(ls.shape as number[], CLIP_MAX_SCALE);
        const pass = le(e, cap);
        const f = mul(e, pass);
        const tot = sum(parts);
        const r = mul(f, tot);
        for (const t of [e, cap, pass, f, tot]) t.dispose();
        return r;
      });
      parts.dispose();
    }
    const dI = needs[0] ? pass1.dA : null;
    if (!needs[0]) pass1.dA.dispose();
    return [dI, dT, dScale];
  });
  for (const t of [I.zn, I.norms, T.zn, T.norms, statsI, statsT]) t.dispose();
  return out;
}
