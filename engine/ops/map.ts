// The elementwise engine behind every pointwise op: one generated kernel per (expression, input
// layout) from shaders/elementwise.wgsl. Inputs may be any strided view; the output is contiguous.
import { dispatch, groups1d } from '../commands.js';
import { elementMain, elementTiling, kernel, renderTemplate, shaderSource } from '../kernels.js';
import { contiguousStrides, fmtShape, numel, sameShape, type Shape } from '../shape.js';
import { empty, type Tensor } from '../tensor.js';

export const MAX_RANK = 8;

/** Extra WGSL helpers available to every expression. */
const FUNCTIONS = `
fn pow_s(x: f32, e: f32) -> f32 {
  if (e == 0.0) { return 1.0; }
  if (e == 1.0) { return x; }
  if (e == 2.0) { return x * x; }
  let r = pow(abs(x), e);
  if (x < 0.0) {
    if (floor(e) != e) { var nanBits = 0x7fc00000u; return bitcast<f32>(nanBits); }
    if (floor(e * 0.5) * 2.0 != e) { return -r; }
  }
  return r;
}`;

/** Input strides of `t` as seen from an output of shape `out` (broadcast dims get stride 0). */
export function broadcastStrides(t: Tensor, out: Shape): number[] {
  const r = out.length;
  const s = new Array<number>(r).fill(0);
  for (let i = 0; i < t.rank; i++) {
    const o = r - t.rank + i;
    s[o] = t.shape[i] === 1 && out[o] !== 1 ? 0 : t.strides[i];
  }
  return s;
}

function packVec(values: readonly number[], u32: Uint32Array, at: number): void {
  for (let i = 0; i < MAX_RANK; i++) u32[at + i] = values[i] ?? 0;
}

/**
 * out = expr(inputs, s0, s1), elementwise over the broadcast of the inputs to `outShape`.
 * `names` are the WGSL variable names the inputs are loaded into (e.g. ['a', 'b'] or ['g', 'x']).
 */
export function map(op: string, expr: string, names: string[], inputs: Tensor[], outShape: Shape, s0 = 0, s1 = 0): Tensor {
  if (inputs.length !== names.length || inputs.length > 3) throw new Error(`${op}: internal: ${inputs.length} inputs`);
  if (outShape.length > MAX_RANK) throw new Error(`${op}: tensors of rank ${outShape.length} exceed the maximum rank ${MAX_RANK}`);
  for (const t of inputs) {
    t.storage(op);
    if (t.dtype !== 'float32') throw new Error(`${op}: expected float32 tensors, got ${t.dtype} ${fmtShape(t.shape)}`);
  }
  const out = empty(outShape, 'float32', op);
  const n = numel(outShape);
  if (n === 0) return out;
  const ostride = contiguousStrides(outShape);
  const strides = inputs.map((t) => broadcastStrides(t, outShape));
  const direct = inputs.map((t, k) => sameShape(t.shape, outShape) && strides[k].every((s, d) => outShape[d] === 1 || s === ostride[d]));
  const rank = outShape.length;
  const comps = ['x', 'y', 'z', 'w'];
  const dimRef = (arr: string, d: number) => `p.${arr}[${d >> 2}].${comps[d & 3]}`;
  const sname = ['astride', 'bstride', 'cstride'];
  // 4 elements an invocation when output rows are multiples of 4 (the vec4 form of shaders/elementwise.wgsl)
  const vec = outShape[rank - 1] % 4 === 0;
  const forms = inputs.map((t, j): 'vec4' | 'splat' | 'gather' => {
    const s = strides[j];
    if (s[rank - 1] === 0) return 'splat';
    return s[rank - 1] === 1 && t.offset % 4 === 0 && s.every((v, d) => d === rank - 1 || v % 4 === 0) ? 'vec4' : 'gather';
  });
  const key = `map:${op}:${expr}:${names.join(',')}:${rank}:${direct.map(Number).join('')}${vec ? `:v${forms.join(',')}` : ''}`;
  const k = kernel(key, () => {
    const coords = (flat: string) => {
      let index = '';
      if (direct.every(Boolean)) return index;
      index += `  var r = ${flat};\n`;
      for (let d = 0; d < rank; d++) {
        index += `  let c${d} = r / ${dimRef('ostride', d)};\n`;
        if (d < rank - 1) index += `  r = r - c${d} * ${dimRef('ostride', d)};\n`;
      }
      return index;
    };
    const at = (j: number) => [`p.offs.${comps[j]}`, ...[...Array(rank).keys()].map((d) => `c${d} * ${dimRef(sname[j], d)}`)].join(' + ');
    if (!vec) {
      const bindings = names.map((_, j) => `@group(0) @binding(${j + 2}) var<storage, read> in${j}: array<f32>;`).join('\n');
      const loads = names.map((nm, j) => (direct[j] ? `  let ${nm} = in${j}[p.offs.${comps[j]} + i];` : `  let ${nm} = in${j}[${at(j)}];`)).join('\n');
      return renderTemplate(shaderSource('elementwise'), { ELEMENT_MAIN: elementMain(), OUT: 'f32', BINDINGS: bindings, FUNCTIONS, INDEX: coords('i'), LOADS: loads, STORE: `  out[i] = ${expr};` });
    }
    const bindings = names.map((_, j) => `@group(0) @binding(${j + 2}) var<storage, read> in${j}: array<${forms[j] === 'vec4' ? 'vec4<f32>' : 'f32'}>;`).join('\n');
    const loads = names
      .map((nm, j) => {
        if (forms[j] === 'vec4') return direct[j] ? `  let ${nm}4 = in${j}[p.offs.${comps[j]} / 4u + i];` : `  let ${nm}4 = in${j}[(${at(j)}) / 4u];`;
        const base = direct[j] ? `p.offs.${comps[j]} + e` : at(j);
        if (forms[j] === 'splat') return `  let ${nm}4 = vec4<f32>(in${j}[${base}]);`;
        const s = dimRef(sname[j], rank - 1);
        return `  let ${nm}b = ${base};\n  let ${nm}4 = vec4<f32>(in${j}[${nm}b], in${j}[${nm}b + ${s}], in${j}[${nm}b + 2u * ${s}], in${j}[${nm}b + 3u * ${s}]);`;
      })
      .join('\n');
    const components = comps.map((c) => `  { ${names.map((nm) => `let ${nm} = ${nm}4.${c}; `).join('')}o.${c} = ${expr}; }`);
    const store = ['  var o: vec4<f32>;', ...components, '  out[i] = o;'].join('\n');
    return renderTemplate(shaderSource('elementwise'), { ELEMENT_MAIN: elementMain(), OUT: 'vec4<f32>', BINDINGS: bindings, FUNCTIONS, INDEX: `  let e = i * 4u;\n${coords('e')}`, LOADS: loads, STORE: store });
  });
  const params = new Uint32Array(4 + 4 + 5 * MAX_RANK);
  const f = new Float32Array(params.buffer);
  const count = vec ? n / 4 : n;
  const [gx, gy] = groups1d(Math.ceil(count / elementTiling().BLOCK));
  params[0] = count;
  f[1] = s0;
  f[2] = s1;
  params[3] = gx;
  inputs.forEach((t, j) => (params[4 + j] = t.offset));
  packVec(outShape, params, 8);
  packVec(ostride, params, 8 + MAX_RANK);
  strides.forEach((s, j) => packVec(s, params, 8 + (2 + j) * MAX_RANK));
  dispatch(k, [out.buffer(op), ...inputs.map((t) => t.buffer(op))], params, [gx, gy]);
  return out;
}
