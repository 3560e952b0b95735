// Float64 reference implementations of the contrastive losses (plain JS, straight from the
// definitions, one anchor at a time), used with finite differences to check the fused kernels.

export const EPS = 1e-12;

/** Rows divided by max(||row||, 1e-12). */
export function normalize64(x: ArrayLike<number>, rows: number, d: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += x[r * d + k] ** 2;
    const n = Math.max(Math.sqrt(s), EPS);
    out.push(Float64Array.from({ length: d }, (_, k) => x[r * d + k] / n));
  }
  return out;
}

export function dot64(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k] * b[k];
  return s;
}

export function logSumExp64(v: number[]): number {
  const m = Math.max(...v);
  let s = 0;
  for (const x of v) s += Math.exp(x - m);
  return m + Math.log(s);
}

/** SimCLR NT-Xent: anchors are the 2N rows of [z1; z2]; row i's positive is row (i + N) mod 2N. */
export function ntxent64(z1: ArrayLike<number>, z2: ArrayLike<number>, n: number, d: number, tau: number): number {
  const z = [...normalize64(z1, n, d), ...normalize64(z2, n, d)];
  let total = 0;
  for (let i = 0; i < 2 * n; i++) {
    const logits: number[] = [];
    for (let j = 0; j < 2 * n; j++) if (j !== i) logits.push(dot64(z[i], z[j]) / tau);
    total += logSumExp64(logits) - dot64(z[i], z[(i + n) % (2 * n)]) / tau;
  }
  return total / (2 * n);
}

/**
 * NT-Xent written the way the sample code did it: the diagonal is dropped from each row (2N - 1
 * logits left) and the label is column (i + N) mod 2N. When `shiftLabels` is true the label is moved
 * left by one for i < N (the column shift the drop causes), which is correct; false reproduces the
 * bug of labels made before the drop. `normalize` false reproduces the missing normalization.
 */
export function ntxentDroppedDiagonal64(z1: ArrayLike<number>, z2: ArrayLike<number>, n: number, d: number, tau: number, shiftLabels: boolean, normalize = true): number {
  const raw = (x: ArrayLike<number>) => Array.from({ length: n }, (_, r) => Float64Array.from({ length: d }, (_, k) => x[r * d + k]));
  const z = normalize ? [...normalize64(z1, n, d), ...normalize64(z2, n, d)] : [...raw(z1), ...raw(z2)];
  let total = 0;
  for (let i = 0; i < 2 * n; i++) {
    const row: number[] = [];
    for (let j = 0; j < 2 * n; j++) if (j !== i) row.push(dot64(z[i], z[j]) / tau);
    let label = (i + n) % (2 * n);
    if (shiftLabels && label > i) label -= 1;
    total += logSumExp64(row) - row[label % row.length]; // unshifted labels can run past the end
  }
  return total / (2 * n);
}

/** MoCo InfoNCE: logits [q·k, q·queue_0..K-1] / τ, label 0, everything normalized. */
export function infonce64(q: ArrayLike<number>, k: ArrayLike<number>, queue: ArrayLike<number>, n: number, K: number, d: number, tau: number): number {
  const qn = normalize64(q, n, d);
  const kn = normalize64(k, n, d);
  const cn = normalize64(queue, K, d);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const pos = dot64(qn[i], kn[i]) / tau;
    const logits = [pos, ...cn.map((c) => dot64(qn[i], c) / tau)];
    total += logSumExp64(logits) - pos;
  }
  return total / n;
}

/** CLIP: scale = min(exp(logitScale), 100); mean of the two directions' cross-entropies. */
export function clip64(img: ArrayLike<number>, txt: ArrayLike<number>, n: number, d: number, logitScale: number): number {
  const a = normalize64(img, n, d);
  const b = normalize64(txt, n, d);
  const scale = Math.min(Math.exp(logitScale), 100);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const rowI = b.map((t) => scale * dot64(a[i], t));
    const rowT = a.map((im) => scale * dot64(b[i], im));
    total += logSumExp64(rowI) - rowI[i] + logSumExp64(rowT) - rowT[i];
  }
  return total / (2 * n);
}

/**
 * SupCon over `rows` rows (already in contrast order) with per-row labels: per anchor, minus the
 * mean over its positives of log softmax over all other rows; anchors without positives give 0;
 * scaled by τ / baseτ and averaged over all anchors.
 */
export function supcon64(x: ArrayLike<number>, rows: number, d: number, rowLabels: number[], tau: number, baseTau: number): number {
  const z = normalize64(x, rows, d);
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const logits: number[] = [];
    const pos: number[] = [];
    for (let j = 0; j < rows; j++) {
      if (j === i) continue;
      const s = dot64(z[i], z[j]) / tau;
      logits.push(s);
      if (rowLabels[j] === rowLabels[i]) pos.push(s);
    }
    if (!pos.length) continue;
    const lse = logSumExp64(logits);
    total += pos.reduce((acc, s) => acc + (lse - s), 0) / pos.length;
  }
  return ((tau / baseTau) * total) / rows;
}

/** [bsz, views, d] features to rows in view-major order (row v * bsz + b). */
export function viewMajor(x: ArrayLike<number>, bsz: number, views: number, d: number): Float64Array {
  const out = new Float64Array(bsz * views * d);
  for (let b = 0; b < bsz; b++) for (let v = 0; v < views; v++) for (let k = 0; k < d; k++) out[(v * bsz + b) * d + k] = x[(b * views + v) * d + k];
  return out;
}
