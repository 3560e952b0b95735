// Unfused reference compositions of the contrastive losses, built only from core ops (matmul,
// where, crossEntropy, logsumexp, ...): they materialize the full similarity matrix, so they are
// the memory and time baseline of the fused kernels (bench/losses.ts) and their independent check
// (test/losses). Same semantics as the fused losses, including the normalization epsilon.
import { noGrad } from '../engine/autograd.js';
import { fmtShape } from '../engine/shape.js';
import { Tensor } from '../engine/tensor.js';
import { arange, tensor } from '../engine/ops/creation.js';
import { crossEntropy } from '../engine/ops/cross_entropy.js';
import { add, clamp, div, eq, exp, maximum, mul, sqrt, sub, where } from '../engine/ops/elementwise.js';
import { matmul } from '../engine/ops/matmul.js';
import { mean, sum } from '../engine/ops/reduce.js';
import { logsumexp } from '../engine/ops/softmax.js';
import { concat, contiguous, permute, reshape, transpose } from '../engine/ops/shape.js';
import { tidy } from '../engine/scope.js';
import { NORM_EPS } from './contrastive.js';

/** x / max(||x||, 1e-12) along the last axis, written as x / sqrt(max(sum(x^2), 1e-24)) so the
 *  gradient of a zero row is finite (as torch's). */
export function l2NormalizeReference(x: Tensor): Tensor {
  return tidy(() => div(x, sqrt(maximum(sum(mul(x, x), -1, true), NORM_EPS * NORM_EPS))));
}

/** [n, n] with 1 on the diagonal, built on the device. */
function eyeMask(n: number): Tensor {
  return noGrad(() =>
    tidy(() => {
      const idx = arange(n);
      return eq(reshape(idx, [n, 1]), reshape(idx, [1, n]));
    }),
  );
}

const MASKED = -1e9;

export function ntXentReference(z1: Tensor, z2: Tensor, options: { temperature?: number } = {}): Tensor {
  const tau = options.temperature ?? 0.5;
  const N = z1.shape[0];
  return tidy(() => {
    const z = l2NormalizeReference(concat([z1, z2], 0));
    const logits = mul(matmul(z, transpose(z, 0, 1)), 1 / tau);
    const masked = where(eyeMask(2 * N), MASKED, logits);
    const labels = Array.from({ length: 2 * N }, (_, i) => (i + N) % (2 * N));
    return crossEntropy(masked, labels);
  });
}

/** MoCo: logits [N, 1 + K] = [q·k+, q·queue] / τ, label 0; the queue is a constant. */
export function infoNCEReference(query: Tensor, positiveKey: Tensor, queue: Tensor, options: { temperature?: number } = {}): Tensor {
  const tau = options.temperature ?? 0.07;
  return tidy(() => {
    const q = l2NormalizeReference(query);
    const k = l2NormalizeReference(positiveKey);
    const qu = noGrad(() => l2NormalizeReference(queue));
    const lpos = sum(mul(q, k), -1, true);
    const lneg = matmul(q, transpose(qu, 0, 1));
    const logits = mul(concat([lpos, lneg], 1), 1 / tau);
    return crossEntropy(logits, new Array<number>(query.shape[0]).fill(0));
  });
}

/** CLIP: logits = min(exp(logitScale), 100) * img·txtᵀ; (CE(logits) + CE(logitsᵀ)) / 2 with labels i. */
export function clipLossReference(imageEmb: Tensor, textEmb: Tensor, logitScale: Tensor): Tensor {
  const N = imageEmb.shape[0];
  return tidy(() => {
    const im = l2NormalizeReference(imageEmb);
    const tx = l2NormalizeReference(textEmb);
    const scale = clamp(exp(reshape(logitScale, [1, 1])), 0, 100);
    const logits = mul(matmul(im, transpose(tx, 0, 1)), scale);
    const labels = Array.from({ length: N }, (_, i) => i);
    const li = crossEntropy(logits, labels);
    const lt = crossEntropy(contiguous(transpose(logits, 0, 1)), labels);
    return mul(add(li, lt), 0.5);
  });
}

/**
 * SupCon (Khosla et al., 'all' contrast mode): features [R, d] or [bsz, views, d] (rows in view-major
 * order); per anchor, mean over its positives of log softmax over all other rows; anchors without
 * positives contribute 0; loss = -(τ / baseτ) * mean over anchors.
 */
export function supConLossReference(features: Tensor, labels: ArrayLike<number>, options: { temperature?: number; baseTemperature?: number } = {}): Tensor {
  const tau = options.temperature ?? 0.07;
  const base = options.baseTemperature ?? tau;
  if (features.rank !== 2 && features.rank !== 3) throw new Error(`supConLossReference: features must be [N, d] or [bsz, views, d], got ${fmtShape(features.shape)}`);
  return tidy(() => {
    const flat = features.rank === 3 ? reshape(contiguous(permute(features, [1, 0, 2])), [features.shape[0] * features.shape[1], features.shape[2]]) : features;
    const R = flat.shape[0];
    const B = labels.length;
    const lab = Float32Array.from({ length: R }, (_, r) => labels[r % B]);
    const z = l2NormalizeReference(flat);
    const logits = mul(matmul(z, transpose(z, 0, 1)), 1 / tau);
    const eye = eyeMask(R);
    const masked = where(eye, MASKED, logits);
    const lse = logsumexp(masked, -1, true);
    const logProb = sub(logits, lse);
    const posMask = noGrad(() => {
      const lt = tensor(lab, [R]);
      const same = eq(reshape(lt, [R, 1]), reshape(lt, [1, R]));
      return sub(same, eye);
    });
    const count = noGrad(() => maximum(sum(posMask, -1), 1));
    const meanLogProbPos = div(sum(mul(posMask, logProb), -1), count);
    return mul(mean(meanLogProbPos), -tau / base);
  });
}
