// Every core op, forward and backward, against PyTorch (test/fixtures/core.json, made by
// scripts/fixtures/core.py). Tolerance: rtol 1e-4 (atol scaled to 1e-6 of the largest magnitude).
import * as E from '../../engine/index.js';
import { type FixtureArray, assertClose, loadFixture, scaledTol } from '../helpers.js';

interface Case {
  op: string;
  args: Record<string, any>;
  inputs: FixtureArray[];
  ints: FixtureArray[];
  cond?: FixtureArray;
  out: FixtureArray;
  gout: FixtureArray;
  grads: (FixtureArray | null)[];
}

function run(c: Case, xs: E.Tensor[], ints: E.Tensor[]): E.Tensor {
  const a = c.args;
  const [x, y, z] = xs;
  switch (c.op) {
    case 'neg': case 'exp': case 'log': case 'sqrt': case 'rsqrt': case 'relu': case 'sigmoid': case 'tanh': case 'abs':
      return (E as any)[c.op](x);
    case 'pow': return E.pow(x, a.exponent);
    case 'clamp': return E.clamp(x, a.min, a.max);
    case 'add': case 'sub': case 'mul': case 'div': case 'maximum': case 'minimum':
      return (E as any)[c.op](x, y);
    case 'addScalar': return E.add(x, a.scalar);
    case 'rsubScalar': return E.sub(a.scalar, x);
    case 'mulScalar': return E.mul(a.scalar, x);
    case 'divScalar': return E.div(x, a.scalar);
    case 'rdivScalar': return E.div(a.scalar, x);
    case 'maximumScalar': return E.maximum(x, a.scalar);
    case 'where': {
      const cond = E.tensor(c.cond!.data, c.cond!.shape);
      return E.where(cond, x, y);
    }
    case 'sum': return E.sum(x, a.axes ?? undefined, a.keepdim);
    case 'mean': return E.mean(x, a.axes ?? undefined, a.keepdim);
    case 'max': return E.max(x, a.axes ?? undefined, a.keepdim);
    case 'var': return E.variance(x, a.axes ?? undefined, a.keepdim);
    case 'softmax': return E.softmax(x, a.axis);
    case 'logSoftmax': return E.logSoftmax(x, a.axis);
    case 'logsumexp': return E.logsumexp(x, a.axis, a.keepdim);
    case 'reshape': return E.reshape(x, a.shape);
    case 'transposeReshape': return E.reshape(E.transpose(x, a.d0, a.d1), a.shape);
    case 'transpose': return E.transpose(x, a.d0, a.d1);
    case 'permute': return E.permute(x, a.dims);
    case 'flatten': return E.flatten(x, a.start, a.end);
    case 'slice': return E.slice(x, a.dim, a.start, a.end);
    case 'concat': return E.concat(xs, a.dim);
    case 'indexSelect': return E.indexSelect(x, ints[0], a.dim);
    case 'matmul': return E.matmul(x, y);
    case 'matmulTA': return E.matmul(E.transpose(x), y);
    case 'matmulTB': return E.matmul(x, E.transpose(y));
    case 'linear': return E.linear(x, y, z);
    case 'linearNoBias': return E.linear(x, y);
    case 'crossEntropy': return E.crossEntropy(x, ints[0], { reduction: a.reduction });
    default: throw new Error(`no runner for fixture op ${c.op}`);
  }
}

describe('core ops vs PyTorch fixtures (forward and backward)', () => {
  const { cases } = loadFixture<{ cases: Case[] }>('core');
  cases.forEach((c, i) => {
    const label = `${c.op}#${i} ${c.inputs.map((t) => `[${t.shape}]`).join(' ')} ${JSON.stringify(c.args)}`;
    it(label, async () => {
      const handles: E.Tensor[] = [];
      const { outArr, grads } = await (async () => {
        const xs = c.inputs.map((t) => E.tensor(t.data, t.shape, { requiresGrad: true }));
        const ints = c.ints.map((t) => E.tensor(Int32Array.from(t.data), t.shape));
        handles.push(...xs, ...ints);
        const out = E.tidy(() => {
          const o = run(c, xs, ints);
          const g = E.tensor(c.gout.data, c.gout.shape);
          const loss = E.sum(E.mul(o, g));
          loss.backward();
          return o;
        });
        handles.push(out);
        const outArr = await out.toArray();
        const grads = await Promise.all(xs.map((x) => (x.grad ? x.grad.toArray() : Promise.resolve(null))));
        return { outArr, grads };
      })();
      try {
        assertClose(outArr, c.out.data, scaledTol(c.out.data), `${c.op} forward`);
        c.grads.forEach((g, k) => {
          if (!g) return;
          if (!grads[k]) throw new Error(`${c.op}: input ${k} got no gradient`);
          assertClose(grads[k]!, g.data, scaledTol(g.data), `${c.op} grad of input ${k}`);
        });
      } finally {
        for (const h of handles) h.dispose();
      }
    });
  });
});
