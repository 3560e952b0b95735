// conv2d, batch norm (plain and fused with ReLU) and pooling, forward and backward, against PyTorch
// (test/fixtures/kernels.json, made by scripts/fixtures/kernels.py). Tolerance rtol 1e-4 with atol
// scaled to the reference's magnitude; batch-norm running statistics are checked after the call.
import { expect } from 'chai';
import * as E from '../../engine/index.js';
import { type FixtureArray, assertClose, loadFixture, scaledTol } from '../helpers.js';

interface Case {
  op: string;
  args: Record<string, any>;
  inputs: FixtureArray[];
  out: FixtureArray;
  gout: FixtureArray;
  grads: FixtureArray[];
  running?: FixtureArray[];
  runningAfter?: FixtureArray[];
}

function run(c: Case, xs: E.Tensor[], running: E.Tensor[]): E.Tensor {
  const a = c.args;
  switch (c.op) {
    case 'conv2d':
      return E.conv2d(xs[0], xs[1], a.bias ? xs[2] : null, { stride: a.stride, padding: a.padding, dilation: a.dilation, groups: a.groups });
    case 'batchNorm2d': {
      const f = a.relu ? E.batchNorm2dRelu : E.batchNorm2d;
      return f(xs[0], running[0], running[1], a.affine ? xs[1] : null, a.affine ? xs[2] : null, { training: a.training, momentum: a.momentum, eps: a.eps });
    }
    case 'maxPool2d':
      return E.maxPool2d(xs[0], a.kernel, a.stride, a.padding, a.dilation, a.ceilMode);
    case 'avgPool2d':
      return E.avgPool2d(xs[0], a.kernel, a.stride, a.padding, a.ceilMode, a.countIncludePad, a.divisorOverride);
    case 'adaptiveAvgPool2d':
      return E.adaptiveAvgPool2d(xs[0], a.outputSize);
    default:
      throw new Error(`no runner for fixture op ${c.op}`);
  }
}

describe('kernels vs PyTorch fixtures (forward and backward)', () => {
  const { cases } = loadFixture<{ cases: Case[] }>('kernels');
  cases.forEach((c, i) => {
    const label = `${c.op}#${i} ${c.inputs.map((t) => `[${t.shape}]`).join(' ')} ${JSON.stringify(c.args)}`;
    it(label, async () => {
      const xs = c.inputs.map((t) => E.tensor(t.data, t.shape, { requiresGrad: true }));
      const running = (c.running ?? []).map((t) => E.tensor(t.data, t.shape));
      try {
        const out = E.tidy(() => {
          const o = run(c, xs, running);
          E.sum(E.mul(o, E.tensor(c.gout.data, c.gout.shape))).backward();
          return o;
        });
        assertClose(await out.toArray(), c.out.data, scaledTol(c.out.data), `${c.op} forward`);
        out.dispose();
        for (let k = 0; k < xs.length; k++) {
          expect(xs[k].grad, `gradient of input ${k}`).to.not.equal(null);
          assertClose(await xs[k].grad!.toArray(), c.grads[k].data, scaledTol(c.grads[k].data, 2e-4), `${c.op} gradient of input ${k}`);
        }
        if (c.runningAfter) {
          assertClose(await running[0].toArray(), c.runningAfter[0].data, { rtol: 1e-4, atol: 1e-6 }, 'running_mean');
          assertClose(await running[1].toArray(), c.runningAfter[1].data, { rtol: 1e-4, atol: 1e-6 }, 'running_var');
        }
      } finally {
        [...xs, ...running].forEach((t) => t.dispose());
      }
    });
  });
});

