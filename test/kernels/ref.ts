// Float64 references for the kernels of this folder (matmul, conv2d, batch norm, pooling), written
// directly from the definitions (loops over every output and every tap), row-major NCHW.

/** C[b] = A[b] @ B[b] (A: M x K, B: K x N, row-major); an operand without a batch flag is shared by all batches. */
export function refMatmul(A: ArrayLike<number>, B: ArrayLike<number>, M: number, N: number, K: number, batch = 1, aBatch = true, bBatch = true): Float64Array {
  const C = new Float64Array(batch * M * N);
  for (let b = 0; b < batch; b++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A[(aBatch ? b * M * K : 0) + i * K + k] * B[(bBatch ? b * K * N : 0) + k * N + j];
        C[(b * M + i) * N + j] = s;
      }
  return C;
}

export interface ConvCfg {
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
  groups?: number;
}

export interface ConvDims {
  N: number; C: number; H: number; W: number; O: number; KH: number; KW: number;
  sh: number; sw: number; ph: number; pw: number; dh: number; dw: number; G: number; OH: number; OW: number;
}

export function convDims(x: number[], w: number[], cfg: ConvCfg): ConvDims {
  const [N, C, H, W] = x;
  const [O, , KH, KW] = w;
  const [sh, sw] = cfg.stride ?? [1, 1];
  const [ph, pw] = cfg.padding ?? [0, 0];
  const [dh, dw] = cfg.dilation ?? [1, 1];
  const G = cfg.groups ?? 1;
  const OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  return { N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, G, OH, OW };
}

/** y[n][o][oh][ow] = b[o] + sum over c in o's group, kh, kw of x[n][c][ih][iw] * w[o][c'][kh][kw]. */
export function conv2dRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, d: ConvDims): Float64Array {
  const { N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, G, OH, OW } = d;
  const Cg = C / G;
  const Og = O / G;
  const y = new Float64Array(N * O * OH * OW);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / Og);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = b ? b[o] : 0;
          for (let c = 0; c < Cg; c++)
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * sh - ph + kh * dh;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * sw - pw + kw * dw;
                if (iw < 0 || iw >= W) continue;
                s += x[((n * C + g * Cg + c) * H + ih) * W + iw] * w[((o * Cg + c) * KH + kh) * KW + kw];
              }
            }
          y[((n * O + o) * OH + oh) * OW + ow] = s;
        }
    }
  return y;
}

/** Exact gradients of sum(gy * conv2d(x, w, b)) w.r.t. x, w and b (the adjoint loops). */
export function conv2dGradRef(x: ArrayLike<number>, w: ArrayLike<number>, gy: ArrayLike<number>, d: ConvDims): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const { N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw: dwl, G, OH, OW } = d;
  const Cg = C / G;
  const Og = O / G;
  const gx = new Float64Array(N * C * H * W);
  const gw = new Float64Array(O * Cg * KH * KW);
  const gb = new Float64Array(O);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / Og);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          const gv = gy[((n * O + o) * OH + oh) * OW + ow];
          gb[o] += gv;
          for (let c = 0; c < Cg; c++)
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * sh - ph + kh * dh;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * sw - pw + kw * dwl;
                if (iw < 0 || iw >= W) continue;
                const xi = ((n * C + g * Cg + c) * H + ih) * W + iw;
                const wi = ((o * Cg + c) * KH + kh) * KW + kw;
                gx[xi] += gv * w[wi];
                gw[wi] += gv * x[xi];
              }
            }
        }
    }
  return { dx: gx, dw: gw, db: gb };
}

/** Batch norm over NCHW in float64: batch statistics (biased variance) when training, else the running ones. */
export function batchNormRef(
  x: ArrayLike<number>, shape: number[], w: ArrayLike<number> | null, b: ArrayLike<number> | null,
  opts: { training: boolean; rm?: ArrayLike<number>; rv?: ArrayLike<number>; eps: number; relu?: boolean },
): { y: Float64Array; mean: Float64Array; varUnbiased: Float64Array } {
  const [N, C, H, W] = shape;
  const HW = H * W;
  const y = new Float64Array(N * C * HW);
  const mean = new Float64Array(C);
  const varU = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let m: number;
    let v: number;
    if (opts.training) {
      let s = 0;
      for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) s += x[(n * C + c) * HW + i];
      m = s / (N * HW);
      let q = 0;
      for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) q += (x[(n * C + c) * HW + i] - m) ** 2;
      v = q / (N * HW);
      varU[c] = q / (N * HW - 1);
    } else {
      m = opts.rm![c];
      v = opts.rv![c];
    }
    mean[c] = m;
    const inv = 1 / Math.sqrt(v + opts.eps);
    for (let n = 0; n < N; n++)
      for (let i = 0; i < HW; i++) {
        const k = (n * C + c) * HW + i;
        let o = (x[k] - m) * inv * (w ? w[c] : 1) + (b ? b[c] : 0);
        if (opts.relu) o = Math.max(o, 0);
        y[k] = o;
      }
  }
  return { y, mean, varUnbiased: varU };
}

export interface PoolCfg {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation?: [number, number];
  ceilMode?: boolean;
  countIncludePad?: boolean;
  divisorOverride?: number;
}

export function poolOut(H: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const num = H + 2 * p - d * (k - 1) - 1;
  let o = (ceil ? Math.ceil(num / s) : Math.floor(num / s)) + 1;
  if (ceil && (o - 1) * s >= H + p) o--;
  return o;
}

/** max_pool2d / avg_pool2d in float64 with PyTorch's window, padding, ceil_mode and divisor rules. */
export function poolRef(kind: 'max' | 'avg', x: ArrayLike<number>, shape: number[], cfg: PoolCfg): { y: Float64Array; OH: number; OW: number } {
  const [N, C, H, W] = shape;
  const [kh, kw] = cfg.kernel;
  const [sh, sw] = cfg.stride;
  const [ph, pw] = cfg.padding;
  const [dh, dw] = cfg.dilation ?? [1, 1];
  const OH = poolOut(H, kh, sh, ph, dh, !!cfg.ceilMode);
  const OW = poolOut(W, kw, sw, pw, dw, !!cfg.ceilMode);
  const y = new Float64Array(N * C * OH * OW);
  for (let nc = 0; nc < N * C; nc++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const h0 = oh * sh - ph;
        const w0 = ow * sw - pw;
        let acc = kind === 'max' ? -Infinity : 0;
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++) {
            const ih = h0 + i * dh;
            const iw = w0 + j * dw;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            const v = x[(nc * H + ih) * W + iw];
            acc = kind === 'max' ? Math.max(acc, v) : acc + v;
          }
        if (kind === 'avg') {
          let div: number;
          if (cfg.divisorOverride) div = cfg.divisorOverride;
          else if (cfg.countIncludePad ?? true) {
            const he = Math.min(h0 + kh, H + ph);
            const we = Math.min(w0 + kw, W + pw);
            div = (he - h0) * (we - w0);
          } else {
            const hs = Math.max(h0, 0);
            const ws = Math.max(w0, 0);
            div = (Math.min(h0 + kh, H) - hs) * (Math.min(w0 + kw, W) - ws);
          }
          acc /= div;
        }
        y[(nc * OH + oh) * OW + ow] = acc;
      }
  return { y, OH, OW };
}

/** adaptive_avg_pool2d in float64: window [floor(o * H / OH), ceil((o + 1) * H / OH)). */
export function adaptiveAvgPoolRef(x: ArrayLike<number>, shape: number[], OH: number, OW: number): Float64Array {
  const [N, C, H, W] = shape;
  const y = new Float64Array(N * C * OH * OW);
  for (let nc = 0; nc < N * C; nc++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const h0 = Math.floor((oh * H) / OH);
        const h1 = Math.ceil(((oh + 1) * H) / OH);
        const w0 = Math.floor((ow * W) / OW);
        const w1 = Math.ceil(((ow + 1) * W) / OW);
        let s = 0;
        for (let i = h0; i < h1; i++) for (let j = w0; j < w1; j++) s += x[(nc * H + i) * W + j];
        y[(nc * OH + oh) * OW + ow] = s / ((h1 - h0) * (w1 - w0));
      }
  return y;
}
