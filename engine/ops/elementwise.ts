// Pointwise ops, driven by one table: each entry gives the forward WGSL expression and the
// gradient as a WGSL expression, so every op's kernel, backward kernel and tests come from one place.
// Unary gradients may read g (incoming gradient), x (input) and y (output).
// Binary gradients may read g, a and b, and are computed at the broadcast shape, then summed back.
import { broadcastShapes } from '../shape.js';
import { copyBuffer } from '../commands.js';
import { empty, record, Tensor } from '../tensor.js';
import { map } from './map.js';
import { sumTo } from './reduce.js';

interface UnarySpec {
  fwd: string;
  bwd: string | null;
}

export const UNARY_OPS = {
  neg: { fwd: '-a', bwd: '-g' },
  exp: { fwd: 'exp(a)', bwd: 'g * y' },
  log: { fwd: 'log(a)', bwd: 'g / x' },
  sqrt: { fwd: 'sqrt(a)', bwd: 'g * 0.5 / y' },
  rsqrt: { fwd: 'inverseSqrt(a)', bwd: '-0.5 * g * y * y * y' },
  relu: { fwd: 'max(a, 0.0)', bwd: 'select(0.0, g, x > 0.0)' },
  sigmoid: { fwd: '1.0 / (1.0 + exp(-a))', bwd: 'g * y * (1.0 - y)' },
  tanh: { fwd: 'tanh(a)', bwd: 'g * (1.0 - y * y)' },
  abs: { fwd: 'abs(a)', bwd: 'g * sign(x)' },
  // scalar-parameter ops: s0, s1 are uniforms
  pow: { fwd: 'pow_s(a, s0)', bwd: 'g * s0 * pow_s(x, s0 - 1.0)' },
  clamp: { fwd: 'min(max(a, s0), s1)', bwd: 'select(0.0, g, x >= s0 && x <= s1)' },
  addScalar: { fwd: 'a + s0', bwd: 'g' },
  mulScalar: { fwd: 'a * s0', bwd: 'g * s0' },
  divScalar: { fwd: 'a / s0', bwd: 'g / s0' },
  rsubScalar: { fwd: 's0 - a', bwd: '-g' },
  rdivScalar: { fwd: 's0 / a', bwd: '-g * y / x' },
  maximumScalar: { fwd: 'max(a, s0)', bwd: 'select(select(0.0, 0.5 * g, x == s0), g, x > s0)' },
  minimumScalar: { fwd: 'min(a, s0)', bwd: 'select(select(0.0, 0.5 * g, x == s0), g, x < s0)' },
  copy: { fwd: 'a', bwd: 'g' },
} satisfies Record<string, UnarySpec>;

export type UnaryOp = keyof typeof UNARY_OPS;

interface BinarySpec {
  fwd: string;
  ga: string | null;
  gb: string | null;
}

// maximum/minimum split the gradient of ties equally, as torch.maximum does.
export const BINARY_OPS = {
  add: { fwd: 'a + b', ga: 'g', gb: 'g' },
  sub: { fwd: 'a - b', ga: 'g', gb: '-g' },
  mul: { fwd: 'a * b', ga: 'g * b', gb: 'g * a' },
  div: { fwd: 'a / b', ga: 'g / b', gb: '-g * a / (b * b)' },
  maximum: { fwd: 'max(a, b)', ga: 'select(select(0.0, 0.5 * g, a == b), g, a > b)', gb: 'select(select(0.0, 0.5 * g, a == b), g, b > a)' },
  minimum: { fwd: 'min(a, b)', ga: 'select(select(0.0, 0.5 * g, a == b), g, a < b)', gb: 'select(select(0.0, 0.5 * g, a == b), g, b < a)' },
  eq: { fwd: 'select(0.0, 1.0, a == b)', ga: null, gb: null },
  ne: { fwd: 'select(0.0, 1.0, a != b)', ga: null, gb: null },
  gt: { fwd: 'select(0.0, 1.0, a > b)', ga: null, gb: null },
  ge: { fwd: 'select(0.0, 1.0, a >= b)', ga: null, gb: null },
  lt: { fwd: 'select(0.0, 1.0, a < b)', ga: null, gb: null },
  le: { fwd: 'select(0.0, 1.0, a <= b)', ga: null, gb: null },
} satisfies Record<string, BinarySpec>;

export type BinaryOp = keyof typeof BINARY_OPS;

const uses = (expr: string, v: string) => new RegExp(`\\b${v}\\b`).test(expr);

export function unary(op: UnaryOp, x: Tensor, s0 = 0, s1 = 0, name: string = op): Tensor {
  const spec: UnarySpec = UNARY_OPS[op];
  const y = map(name, spec.fwd, ['a'], [x], x.shape, s0, s1);
  const bwd = spec.bwd;
  if (!bwd) return y;
  const needX = uses(bwd, 'x');
  const needY = uses(bwd, 'y');
  const save = [...(needX ? [x] : []), ...(needY ? [y] : [])];
  return record(name, [x], y, save, (g, _needs, saved) => {
    if (bwd === 'g') return [g];
    const names = ['g', ...(needX ? ['x'] : []), ...(needY ? ['y'] : [])];
    return [map(`${name}.backward`, bwd, names, [g, ...saved], g.shape, s0, s1)];
  });
}

export function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const spec: BinarySpec = BINARY_OPS[op];
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = map(op, spec.fwd, ['a', 'b'], [a, b], shape);
  const { ga, gb } = spec;
  if (!ga || !gb) return out;
  const save = uses(ga, 'a') || uses(ga, 'b') || uses(gb, 'a') || uses(gb, 'b') ? [a, b] : [];
  return record(op, [a, b], out, save, (g, needs, saved) => {
    const grad = (expr: string, like: Tensor): Tensor => {
      if (expr === 'g') return sumTo(g, like.shape);
      const full = saved.length ? map(`${op}.backward`, expr, ['g', 'a', 'b'], [g, ...saved], g.shape) : map(`${op}.backward`, expr, ['g'], [g], g.shape);
      const r = sumTo(full, like.shape);
      if (r !== full) full.dispose();
      return r;
    };
    return [needs[0] ? grad(ga, a) : null, needs[1] ? grad(gb, b) : null];
  });
}

function checkOperand(op: string, v: Tensor | number, side: string): void {
  if (typeof v === 'number') return;
  if (!(v instanceof Tensor)) throw new Error(`${op}: ${side} operand must be a Tensor or a number, got ${typeof v}`);
}

/** Dispatches a (tensor|number, tensor|number) op to the binary kernel or a scalar kernel. */
function arith(op: 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum', a: Tensor | number, b: Tensor | number): Tensor {
  checkOperand(op, a, 'first');
  checkOperand(op, b, 'second');
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a Tensor`);
  if (typeof a !== 'number' && typeof b !== 'number') return binary(op, a, b);
  const t = (typeof a === 'number' ? b : a) as Tensor;
  const s = (typeof a === 'number' ? a : b) as number;
  const scalarFirst = typeof a === 'number';
  switch (op) {
    case 'add':
      return unary('addScalar', t, s, 0, 'add');
    case 'mul':
      return unary('mulScalar', t, s, 0, 'mul');
    case 'sub':
      return scalarFirst ? unary('rsubScalar', t, s, 0, 'sub') : unary('addScalar', t, -s, 0, 'sub');
    case 'div':
      return scalarFirst ? unary('rdivScalar', t, s, 0, 'div') : unary('divScalar', t, s, 0, 'div');
    case 'maximum':
      return unary('maximumScalar', t, s, 0, 'maximum');
    case 'minimum':
      return unary('minimumScalar', t, s, 0, 'minimum');
  }
}

export const add = (a: Tensor | number, b: Tensor | number) => arith('add', a, b);
export const sub = (a: Tensor | number, b: Tensor | number) => arith('sub', a, b);
export const mul = (a: Tensor | number, b: Tensor | number) => arith('mul', a, b);
export const div = (a: Tensor | number, b: Tensor | number) => arith('div', a, b);
export const maximum = (a: Tensor | number, b: Tensor | number) => arith('maximum', a, b);
export const minimum = (a: Tensor | number, b: Tensor | number) => arith('minimum', a, b);

const cmp = (op: 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le') => (a: Tensor, b: Tensor) => binary(op, a, b);
export const eq = cmp('eq');
export const ne = cmp('ne');
export const gt = cmp('gt');
export const ge = cmp('ge');
export const lt = cmp('lt');
export const le = cmp('le');

export const neg = (x: Tensor) => unary('neg', x);
export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const rsqrt = (x: Tensor) => unary('rsqrt', x);
export const relu = (x: Tensor) => unary('relu', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const abs = (x: Tensor) => unary('abs', x);

export function pow(x: Tensor, exponent: number): Tensor {
  if (typeof exponent !== 'number' || !Number.isFinite(exponent)) throw new Error(`pow: exponent must be a finite number, got ${exponent}`);
  return unary('pow', x, exponent);
}

export function clamp(x: Tensor, min: number, max: number): Tensor {
  if (!(min <= max)) throw new Error(`clamp: min (${min}) must be <= max (${max})`);
  return unary('clamp', x, min, max);
}

/** A contiguous copy (always a new buffer); of a contiguous float32 tensor, a buffer copy (memcpy on CPU drivers). */
export function copy(x: Tensor): Tensor {
  if (x instanceof Tensor && x.dtype === 'float32' && x.size > 0 && x.isContiguous) {
    const op = 'copy';
    const src = x.buffer(op);
    const y = empty(x.shape, 'float32', op);
    copyBuffer(src, x.offset * 4, y.buffer(op), y.offset * 4, x.size * 4);
    return record(op, [x], y, [], (g) => [g]);
  }
  return unary('copy', x);
}

/** where(cond, a, b): a where cond != 0, else b; all three broadcast together. */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  const ta = typeof a === 'number' ? null : a;
  const tb = typeof b === 'number' ? null : b;
  const shape = broadcastShapes('where', cond.shape, ...(ta ? [ta.shape] : []), ...(tb ? [tb.shape] : []));
  const aExpr = ta ? 'a' : 's0';
  const bExpr = tb ? 'b' : 's1';
  const names = ['c', ...(ta ? ['a'] : []), ...(tb ? ['b'] : [])];
  const inputs = [cond, ...(ta ? [ta] : []), ...(tb ? [tb] : [])];
  const out = map('where', `select(${bExpr}, ${aExpr}, c != 0.0)`, names, inputs, shape, ta ? 0 : (a as number), tb ? 0 : (b as number));
  const diff = [ta, tb].filter((t): t is Tensor => t !== null);
  if (!diff.length) return out;
  return record('where', diff, out, [cond], (g, needs, [c]) => {
    const grads: Tensor[] = [];
    const branch = (expr: string, like: Tensor) => {
      const full = map('where.backward', expr, ['g', 'c'], [g, c], g.shape);
      const r = sumTo(full, like.shape);
      if (r !== full) full.dispose();
      return r;
    };
    let i = 0;
    if (ta) grads.push(needs[i++] ? branch('select(0.0, g, c != 0.0)', ta) : (null as unknown as Tensor));
    if (tb) grads.push(needs[i++] ? branch('select(g, 0.0, c != 0.0)', tb) : (null as unknown as Tensor));
    return grads;
  });
}

