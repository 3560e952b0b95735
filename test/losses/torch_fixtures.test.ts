// The fused losses against PyTorch (test/fixtures/losses.json, made by scripts/fixtures/losses.py
// in float64 with torch.nn.functional.normalize / cross_entropy and the reference implementations'
// formulations). Tolerance: rtol 1e-4 on the loss; gradients rtol 1e-4 per row (atol 1e-6 of the
// row's largest component: a zero row's gradient is ~1e12 times larger than the others).
import { expect } from 'chai';
import * as E from '../../engine/index.js';
import { type FixtureArray, assertClose, loadFixture } from '../helpers.js';
import { assertRowsClose, disposeAll, lossAndGrads } from './util.js';

interface Case {
  kind: 'ntxent' | 'infonce' | 'clip' | 'supcon';
  name: string;
  options: { temperature?: number; baseTemperature?: number };
  inputs: FixtureArray[];
  loss: number;
  grads: (FixtureArray | null)[];
  labels?: number[];
}

const { cases } = loadFixture<{ cases: Case[] }>('losses');

function run(c: Case, xs: E.Tensor[]): E.Tensor {
  switch (c.kind) {
    case 'ntxent':
      return E.ntXent(xs[0], xs[1], c.options);
    case 'infonce':
      return E.infoNCE(xs[0], xs[1], xs[2], c.options);
    case 'clip':
      return E.clipLoss(xs[0], xs[1], xs[2]);
    case 'supcon':
      return E.supConLoss(xs[0], c.labels!, c.options);
  }
}

describe('losses: PyTorch fixtures', () => {
  it('has cases for every loss', () => {
    expect(new Set(cases.map((c) => c.kind))).to.deep.equal(new Set(['ntxent', 'infonce', 'clip', 'supcon']));
  });
  for (const c of cases) {
    it(`matches PyTorch: ${c.name}`, async () => {
      const xs = c.inputs.map((x, i) => E.tensor(Float32Array.from(x.data), x.shape, { requiresGrad: c.grads[i] !== null }));
      const { loss, grads } = await lossAndGrads(xs, () => run(c, xs));
      assertClose([loss], [c.loss], { rtol: 1e-4, atol: 1e-6 }, 'loss');
      // CLIP with N = 1 has an exactly zero gradient (one logit per row): its f32 value is rounding
      // noise of softmax(one logit) - 1 times the logit scale, which hardware exp() leaves at ~1e-7 x scale
      const n = c.inputs[0].shape[0];
      const floor = c.kind === 'clip' && n === 1 ? 1e-6 * Math.min(Math.exp(c.inputs[2].data[0]), 100) : 0;
      c.grads.forEach((g, i) => {
        if (!g) return expect(grads[i], `input ${i} gets no gradient`).to.equal(null);
        assertRowsClose(grads[i]!, g.data, g.shape[g.shape.length - 1], 1e-4, `grad ${i}`, floor);
      });
      disposeAll(...xs);
    });
  }
  it('matches PyTorch for SupCon given [N, d] features (views = 1)', async () => {
    const c = cases.find((x) => x.kind === 'supcon' && x.inputs[0].shape[1] === 1)!;
    const [bsz, , d] = c.inputs[0].shape;
    const f = E.tensor(Float32Array.from(c.inputs[0].data), [bsz, d], { requiresGrad: true });
    const { loss, grads } = await lossAndGrads([f], () => E.supConLoss(f, c.labels!, c.options));
    assertClose([loss], [c.loss], { rtol: 1e-4, atol: 1e-6 }, 'loss');
    assertRowsClose(grads[0]!, c.grads[0]!.data, d, 1e-4, 'grad');
    f.dispose();
  });
});
