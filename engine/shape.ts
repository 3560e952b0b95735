// Shape arithmetic shared by ops: strides, broadcasting, axis normalization, validation messages.

export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Strides that give a tensor of `shape` / `strides` the shape `target` without moving its elements
 * (PyTorch's view rule), or null when no strides can. Dims are taken in runs that are contiguous
 * with each other (a run: dims whose stride is the product of the sizes and stride after them); each
 * run must be split or merged into target dims on its own, and size-1 dims take any stride.
 */
export function viewStrides(shape: Shape, strides: Shape, target: Shape): number[] | null {
  if (numel(shape) === 0 || shape.length === 0) return contiguousStrides(target);
  const out = new Array<number>(target.length);
  let t = target.length - 1;
  let runStride = strides[strides.length - 1];
  let runSize = 1;
  let viewSize = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    runSize *= shape[d];
    const runEnds = d === 0 || (shape[d - 1] !== 1 && strides[d - 1] !== runSize * runStride);
    if (!runEnds) continue;
    while (t >= 0 && (viewSize < runSize || target[t] === 1)) {
      out[t] = viewSize * runStride;
      viewSize *= target[t];
      t--;
    }
    if (viewSize !== runSize) return null;
    if (d > 0) {
      runStride = strides[d - 1];
      runSize = 1;
      viewSize = 1;
    }
  }
  return t === -1 ? out : null;
}

export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function assertValidShape(shape: Shape, op: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${op}: invalid shape ${fmtShape(shape)} (dimensions must be non-negative integers)`);
  }
}

/** NumPy broadcasting of any number of shapes; throws naming the op and the shapes. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (let i = 0; i < rank; i++) {
    for (const s of shapes) {
      const d = s[s.length - rank + i] ?? 1;
      if (d === 1) continue;
      if (out[i] === 1) out[i] = d;
      else if (out[i] !== d) {
        throw new Error(`${op}: cannot broadcast shapes ${shapes.map(fmtShape).join(' and ')}`);
      }
    }
  }
  return out;
}

/** Normalizes a possibly negative axis. */
export function normAxis(axis: number, rank: number, op: string): number {
  if (!Number.isInteger(axis)) throw new Error(`${op}: an axis must be an integer, got ${describeValue(axis)}`);
  if (axis < -Math.max(rank, 1) || axis >= Math.max(rank, 1)) {
    throw new Error(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Sorted, unique, non-negative axes; `undefined` means all axes. */
export function normAxes(axes: number | readonly number[] | undefined, rank: number, op: string): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = [...new Set(list.map((a) => normAxis(a, rank, op)))].sort((x, y) => x - y);
  if (out.length !== list.length) throw new Error(`${op}: repeated axis in ${JSON.stringify(axes)}`);
  return out;
}

/** A short description of an argument for error messages: numbers and strings as written, tensors by shape. */
export function describeValue(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'object' && v !== null && (v as { __isTensor?: boolean }).__isTensor) return `a tensor ${fmtShape((v as { shape: Shape }).shape)}`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return `a ${typeof v}`;
}
