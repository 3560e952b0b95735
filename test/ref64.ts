// Float64 reference implementations (plain JS, row-major) used to check the GPU kernels and,
// through finite differences, their gradients.

export interface Nd {
  shape: number[];
  data: Float64Array;
}

export const nd = (shape: number[], data: ArrayLike<number>): Nd => ({ shape: [...shape], data: Float64Array.from(data as ArrayLike<number>) });
export const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

export function strides(shape: number[]): number[] {
  const s = new Array(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function broadcastShape(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error('ref: bad broadcast');
    out.push(Math.max(x, y));
  }
  return out;
}

/** Value of `t` at output coordinate `coord` under broadcasting. */
function bget(t: Nd, coord: number[]): number {
  const st = strides(t.shape);
  const off = coord.length - t.shape.length;
  let idx = 0;
  for (let i = 0; i < t.shape.length; i++) idx += (t.shape[i] === 1 ? 0 : coord[off + i]) * st[i];
  return t.data[idx];
}

function coords(shape: number[], i: number): number[] {
  const c = new Array(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return c;
}

export function mapN(f: (...v: number[]) => number, ...ts: Nd[]): Nd {
  const shape = ts.map((t) => t.shape).reduce(broadcastShape);
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    const c = coords(shape, i);
    out[i] = f(...ts.map((t) => bget(t, c)));
  }
  return { shape, data: out };
}

export function reduce(t: Nd, axes: number[] | undefined, keepdim: boolean, kind: 'sum' | 'mean' | 'max' | 'var'): Nd {
  const ax = (axes ?? t.shape.map((_, i) => i)).map((a) => (a < 0 ? a + t.shape.length : a));
  const keepShape = t.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const groups = new Map<number, number[]>();
  const ks = strides(keepShape);
  for (let i = 0; i < t.data.length; i++) {
    const c = coords(t.shape, i);
    let k = 0;
    c.forEach((v, d) => (k += (ax.includes(d) ? 0 : v) * ks[d]));
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(t.data[i]);
  }
  const out = new Float64Array(size(keepShape));
  for (const [k, vs] of groups) {
    const s = vs.reduce((a, b) => a + b, 0);
    if (kind === 'sum') out[k] = s;
    else if (kind === 'mean') out[k] = s / vs.length;
    else if (kind === 'max') out[k] = Math.max(...vs);
    else {
      const m = s / vs.length;
      out[k] = vs.reduce((a, v) => a + (v - m) ** 2, 0) / (vs.length - 1);
    }
  }
  return { shape: keepdim ? keepShape : t.shape.filter((_, i) => !ax.includes(i)), data: out };
}

/** softmax / logSoftmax / logsumexp along `axis`. */
export function softmaxFamily(t: Nd, axis: number, kind: 'softmax' | 'logSoftmax' | 'logsumexp'): Nd {
  const a = axis < 0 ? axis + t.shape.length : axis;
  const st = strides(t.shape);
  const n = t.shape[a];
  const outShape = kind === 'logsumexp' ? t.shape.filter((_, i) => i !== a) : t.shape;
  const out = new Float64Array(size(outShape));
  let o = 0;
  for (let i = 0; i < t.data.length; i++) {
    const c = coords(t.shape, i);
    if (c[a] !== 0) continue;
    const idx = (k: number) => i + k * st[a];
    let m = -Infinity;
    for (let k = 0; k < n; k++) m = Math.max(m, t.data[idx(k)]);
    let s = 0;
    for (let k = 0; k < n; k++) s += Math.exp(t.data[idx(k)] - m);
    const lse = m + Math.log(s);
    if (kind === 'logsumexp') out[o++] = lse;
    else for (let k = 0; k < n; k++) out[idx(k)] = kind === 'softmax' ? Math.exp(t.data[idx(k)] - lse) : t.data[idx(k)] - lse;
  }
  return { shape: outShape, data: out };
}

/** Batched matmul with broadcasting over leading dims (both operands rank >= 2). */
export function matmul(a: Nd, b: Nd): Nd {
  const M = a.shape[a.shape.length - 2];
  const K = a.shape[a.shape.length - 1];
  const N = b.shape[b.shape.length - 1];
  const batch = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const nb = size(batch);
  const out = new Float64Array(nb * M * N);
  const sub = (t: Nd, bi: number, rows: number, cols: number) => {
    const tb = t.shape.slice(0, -2);
    const c = coords(batch, bi);
    const off = c.length - tb.length;
    let idx = 0;
    const st = strides(tb);
    tb.forEach((d, i) => (idx += (d === 1 ? 0 : c[off + i]) * st[i]));
    return idx * rows * cols;
  };
  for (let bi = 0; bi < nb; bi++) {
    const ao = sub(a, bi, M, K);
    const bo = sub(b, bi, K, N);
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a.data[ao + m * K + k] * b.data[bo + k * N + n];
        out[bi * M * N + m * N + n] = s;
      }
  }
  return { shape: [...batch, M, N], data: out };
}

export function permute(t: Nd, dims: number[]): Nd {
  const shape = dims.map((d) => t.shape[d]);
  const st = strides(t.shape);
  const out = new Float64Array(t.data.length);
  for (let i = 0; i < out.length; i++) {
    const c = coords(shape, i);
    let idx = 0;
    dims.forEach((d, k) => (idx += c[k] * st[d]));
    out[i] = t.data[idx];
  }
  return { shape, data: out };
}

export function crossEntropy(x: Nd, labels: number[], reduction: 'mean' | 'sum' | 'none'): Nd {
  const [n, c] = x.shape;
  const lse = softmaxFamily(x, 1, 'logsumexp');
  const per = new Float64Array(n);
  for (let i = 0; i < n; i++) per[i] = lse.data[i] - x.data[i * c + labels[i]];
  if (reduction === 'none') return { shape: [n], data: per };
  const s = per.reduce((a, b) => a + b, 0);
  return { shape: [], data: Float64Array.of(reduction === 'mean' ? s / n : s) };
}

/** sum(out * w): the scalar whose gradient the tests compare. */
export function dot(t: Nd, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < t.data.length; i++) s += t.data[i] * w[i];
  return s;
}
