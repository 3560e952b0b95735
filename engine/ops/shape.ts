// Shape ops. reshape/transpose/permute/expand/slice/squeeze return views (no copy) whenever the
// layout allows; contiguous, concat and indexSelect write new memory (shaders/strided_copy.wgsl,
// shaders/gather_rows.wgsl, shaders/scatter_add_rows.wgsl). Every op returns a new handle.
import { dispatch, groups1d } from '../commands.js';
import { kernel, shaderSource } from '../kernels.js';
import { assertValidShape, contiguousStrides, fmtShape, normAxis, numel, sameShape, viewStrides, type Shape } from '../shape.js';
import { empty, record, Tensor, fromHost } from '../tensor.js';
import { copy } from './elementwise.js';
import { MAX_RANK } from './map.js';
import { sumTo } from './reduce.js';
import { zeros } from './creation.js';

function viewOf(x: Tensor, shape: Shape, strides: Shape, offset: number): Tensor {
  return x.view(shape, strides, offset);
}

/** Resolves one -1 in a target shape. */
function inferShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  const s = [...shape];
  const neg = s.filter((d) => d === -1).length;
  if (neg > 1) throw new Error(`${op}: only one dimension can be -1, got ${fmtShape(shape)}`);
  if (neg === 1) {
    const known = numel(s.filter((d) => d !== -1));
    const i = s.indexOf(-1);
    if (known === 0 || x.size % known !== 0) throw new Error(`${op}: cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)}`);
    s[i] = x.size / known;
  }
  assertValidShape(s, op);
  if (numel(s) !== x.size) throw new Error(`${op}: cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)} (${numel(s)} elements)`);
  return s;
}

/** A contiguous tensor: a view when x already is one, else a copy. Gradient passes through. */
export function contiguous(x: Tensor): Tensor {
  x.storage('contiguous');
  if (x.isContiguous) {
    const v = viewOf(x, x.shape, contiguousStrides(x.shape), x.offset);
    return record('contiguous', [x], v, [], (g) => [g]);
  }
  return copy(x);
}

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  x.storage('reshape');
  const s = inferShape('reshape', x, shape);
  // a view wherever x's strides allow one (PyTorch's rule), else a contiguous copy
  const strides = x.isContiguous ? contiguousStrides(s) : viewStrides(x.shape, x.strides, s);
  const src = strides ? x : copy(x);
  const out = viewOf(src, s, strides ?? contiguousStrides(s), src.offset);
  if (src !== x) src.dispose();
  return record('reshape', [x], out, [], (g) => [reshape(g, x.shape)]);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const a = normAxis(startDim, x.rank, 'flatten');
  const b = normAxis(endDim, x.rank, 'flatten');
  if (a > b) throw new Error(`flatten: startDim ${startDim} is after endDim ${endDim} for shape ${fmtShape(x.shape)}`);
  const shape = [...x.shape.slice(0, a), numel(x.shape.slice(a, b + 1)), ...x.shape.slice(b + 1)];
  return reshape(x, shape);
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  x.storage('permute');
  if (dims.length !== x.rank) throw new Error(`permute: expected ${x.rank} dims for shape ${fmtShape(x.shape)}, got [${dims.join(', ')}]`);
  const d = dims.map((a) => normAxis(a, x.rank, 'permute'));
  if (new Set(d).size !== d.length) throw new Error(`permute: repeated dim in [${dims.join(', ')}]`);
  const out = viewOf(x, d.map((i) => x.shape[i]), d.map((i) => x.strides[i]), x.offset);
  const inv = new Array<number>(d.length);
  d.forEach((src, i) => (inv[src] = i));
  return record('permute', [x], out, [], (g) => [permute(g, inv)]);
}

export function transpose(x: Tensor, d0 = -2, d1 = -1): Tensor {
  if (x.rank < 2 && d0 === -2 && d1 === -1) return permute(x, [...Array(x.rank).keys()]);
  const a = normAxis(d0, x.rank, 'transpose');
  const b = normAxis(d1, x.rank, 'transpose');
  const dims = [...Array(x.rank).keys()];
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

/** Broadcasts size-1 dims (and new leading dims) to `shape` as a stride-0 view. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  x.storage('expand');
  if (shape.length < x.rank) throw new Error(`expand: cannot expand ${fmtShape(x.shape)} to fewer dims ${fmtShape(shape)}`);
  const extra = shape.length - x.rank;
  const strides = shape.map((d, i) => {
    if (i < extra) return 0;
    const xd = x.shape[i - extra];
    if (xd === d) return x.strides[i - extra];
    if (xd === 1) return 0;
    throw new Error(`expand: cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  });
  const out = viewOf(x, shape, strides, x.offset);
  return record('expand', [x], out, [], (g) => [sumTo(g, x.shape)]);
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normAxis(dim, x.rank + 1, 'unsqueeze');
  const shape = [...x.shape];
  shape.splice(d, 0, 1);
  return reshape(x, shape);
}

export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const d = normAxis(dim, x.rank, 'squeeze');
  if (x.shape[d] !== 1) return reshape(x, x.shape);
  return reshape(x, x.shape.filter((_, i) => i !== d));
}

/** x[start:end] along `dim` (a view). Negative start/end count from the end, as in Python. */
export function slice(x: Tensor, dim: number, start: number, end?: number): Tensor {
  x.storage('slice');
  const d = normAxis(dim, x.rank, 'slice');
  const n = x.shape[d];
  const norm = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
  if (!Number.isInteger(start) || (end !== undefined && !Number.isInteger(end))) throw new Error(`slice: start and end must be integers`);
  const s = norm(start);
  const e = Math.max(norm(end ?? n), s);
  const shape = [...x.shape];
  shape[d] = e - s;
  const out = viewOf(x, shape, x.strides, x.offset + s * x.strides[d]);
  return record('slice', [x], out, [], (g) => {
    const full = zeros(x.shape);
    const region = viewOf(full, shape, full.strides, s * full.strides[d]);
    stridedCopy(region, g, 'slice.backward');
    region.dispose();
    return [full];
  });
}

/** Copies src into the (possibly strided) region dst, elementwise; shapes must match. */
export function stridedCopy(dst: Tensor, src: Tensor, op: string): void {
  if (!sameShape(dst.shape, src.shape)) throw new Error(`${op}: internal: copy ${fmtShape(src.shape)} into ${fmtShape(dst.shape)}`);
  if (dst.rank > MAX_RANK) throw new Error(`${op}: rank ${dst.rank} exceeds ${MAX_RANK}`);
  const n = dst.size;
  if (n === 0) return;
  const k = kernel('strided_copy', () => shaderSource('strided_copy'));
  const params = new Uint32Array(8 + 3 * MAX_RANK);
  const [gx, gy] = groups1d(Math.ceil(n / 64));
  params.set([n, dst.rank, src.offset, dst.offset, gx * 64]);
  params.set(dst.shape, 8);
  params.set(src.strides, 8 + MAX_RANK);
  params.set(dst.strides, 8 + 2 * MAX_RANK);
  dispatch(k, [dst.buffer(op), src.buffer(op)], params, [gx, gy]);
}

export function concat(tensors: Tensor[], dim = 0): Tensor {
  if (!tensors.length) throw new Error('concat: needs at least one tensor');
  const first = tensors[0];
  for (const t of tensors) t.storage('concat');
  const d = normAxis(dim, first.rank, 'concat');
  for (const t of tensors) {
    if (t.rank !== first.rank || t.shape.some((s, i) => i !== d && s !== first.shape[i])) {
      throw new Error(`concat: shapes ${tensors.map((x) => fmtShape(x.shape)).join(', ')} differ outside dim ${d}`);
    }
    if (t.dtype !== first.dtype) throw new Error(`concat: mixed dtypes ${first.dtype} and ${t.dtype}`);
  }
  const shape = [...first.shape];
  shape[d] = tensors.reduce((a, t) => a + t.shape[d], 0);
  const out = empty(shape, first.dtype, 'concat');
  let at = 0;
  const starts: number[] = [];
  for (const t of tensors) {
    starts.push(at);
    const region = viewOf(out, t.shape, out.strides, at * out.strides[d]);
    stridedCopy(region, t, 'concat');
    region.dispose();
    at += t.shape[d];
  }
  return record('concat', tensors, out, [], (g, needs) =>
    tensors.map((t, i) => {
      if (!needs[i]) return null;
      const part = slice(g, d, starts[i], starts[i] + t.shape[d]);
      const c = contiguous(part);
      part.dispose();
      return c;
    }),
  );
}

/** Host int32 indices as a tensor with a known range (for validation before GPU work). */
function indexTensor(indices: Tensor | ArrayLike<number>, op: string): Tensor {
  if (indices instanceof Tensor) {
    indices.storage(op);
    if (indices.dtype !== 'int32') throw new Error(`${op}: indices must be int32, got ${indices.dtype}`);
    if (indices.rank !== 1) throw new Error(`${op}: indices must be 1-D, got ${fmtShape(indices.shape)}`);
    return indices;
  }
  const arr = Int32Array.from(indices as ArrayLike<number>);
  for (let i = 0; i < arr.length; i++) {
    if (arr[i] !== (indices as ArrayLike<number>)[i]) throw new Error(`${op}: index ${(indices as ArrayLike<number>)[i]} at position ${i} is not an int32`);
  }
  return fromHost(arr, [arr.length], 'int32', op);
}

/** Checks an int32 tensor's host-known range against [0, n). */
export function checkIndexRange(idx: Tensor, n: number, op: string, what: string): void {
  if (!idx.intRange) throw new Error(`${op}: ${what} must come from host data (their range is checked before GPU work)`);
  const [lo, hi] = idx.intRange;
  if (idx.size && (lo < 0 || hi >= n)) throw new Error(`${op}: ${what} must be in [0, ${n}), got values in [${lo}, ${hi}]`);
}

/** Gathers slices of x along `dim` (rows by default): out = x.index_select(dim, indices). */
export function indexSelect(x: Tensor, indices: Tensor | ArrayLike<number>, dim = 0): Tensor {
  x.storage('indexSelect');
  if (typeof indices === 'number') {
    throw new Error(`indexSelect: indices must be an int32 tensor or an array of integers, got the number ${indices} (the order is indexSelect(x, indices, dim); torch.index_select takes (input, dim, index))`);
  }
  if (x.rank === 0) throw new Error('indexSelect: input must have at least one dim');
  const d = normAxis(dim, x.rank, 'indexSelect');
  const idx = indexTensor(indices, 'indexSelect');
  checkIndexRange(idx, x.shape[d], 'indexSelect', 'indices');
  const ownIdx = idx !== indices;
  // Move `dim` to the front, gather rows, move it back.
  const front = d === 0 ? x : permute(x, [d, ...[...Array(x.rank).keys()].filter((i) => i !== d)]);
  const src = front.isContiguous ? front : copy(front);
  const rows = src.shape[0];
  const cols = rows ? src.size / rows : 0;
  const n = idx.size;
  const gathered = empty([n, ...src.shape.slice(1)], 'float32', 'indexSelect');
  if (n * cols > 0) {
    const k = kernel('gather_rows', () => shaderSource('gather_rows'));
    const [gx, gy] = groups1d(Math.ceil((n * cols) / 64));
    dispatch(k, [gathered.buffer('indexSelect'), src.buffer('indexSelect'), idx.buffer('indexSelect')], new Uint32Array([n, cols, src.offset, gx * 64]), [gx, gy]);
  }
  if (src !== front) src.dispose();
  if (front !== x) front.dispose();
  let out = gathered;
  if (d !== 0) {
    const back = [...Array(x.rank).keys()].map((i) => (i === d ? 0 : i < d ? i + 1 : i));
    const p = permute(gathered, back);
    out = copy(p);
    p.dispose();
    gathered.dispose();
  }
  const result = record('indexSelect', [x], out, [idx], (g, _n, [sidx]) => {
    const gf = d === 0 ? g : permute(g, [d, ...[...Array(x.rank).keys()].filter((i) => i !== d)]);
    const gc = gf.isContiguous ? gf : copy(gf);
    const shapeF = [x.shape[d], ...x.shape.filter((_, i) => i !== d)];
    const gx0 = empty(shapeF, 'float32', 'indexSelect.backward');
    const rowsX = shapeF[0];
    if (rowsX * cols > 0) {
      const k = kernel('scatter_add_rows', () => shaderSource('scatter_add_rows'));
      const [gx, gy] = groups1d(Math.ceil((rowsX * cols) / 64));
      dispatch(k, [gx0.buffer('indexSelect.backward'), gc.buffer('indexSelect.backward'), sidx.buffer('indexSelect.backward')], new Uint32Array([rowsX, cols, n, gx * 64, gc.offset, 0, 0, 0]), [gx, gy]);
    }
    if (gc !== gf) gc.dispose();
    if (gf !== g) gf.dispose();
    if (d === 0) return [gx0];
    const back = [...Array(x.rank).keys()].map((i) => (i === d ? 0 : i < d ? i + 1 : i));
    const p = permute(gx0, back);
    const r = copy(p);
    p.dispose();
    gx0.dispose();
    return [r];
  });
  if (ownIdx) idx.dispose();
  return result;
}
