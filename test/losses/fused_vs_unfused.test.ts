// The fused kernels against the unfused compositions of core ops (losses/reference.ts), which
// materialize the similarity matrix: loss and every gradient to 1e-5 relative (elementwise
// |a - e| <= 1e-5 |e| + 1e-5 max|e|, i.e. relative to each gradient's scale), over random and
// adversarial inputs and the large-row kernel configuration (>= 512 rows).
import * as E from '../../engine/index.js';
import { assertClose, randomData } from '../helpers.js';
import { assertRelClose, disposeAll, lossAndGrads, param } from './util.js';

type Make = () => { inputs: E.Tensor[]; all: E.Tensor[] };

async function compare(make: Make, fused: (xs: E.Tensor[]) => E.Tensor, unfused: (xs: E.Tensor[]) => E.Tensor, rtol = 1e-5): Promise<void> {
  const a = make();
  const b = make();
  const ra = await lossAndGrads(a.inputs, () => fused(a.all));
  const rb = await lossAndGrads(b.inputs, () => unfused(b.all));
  assertClose([ra.loss], [rb.loss], { rtol, atol: 1e-7 }, 'loss');
  ra.grads.forEach((g, i) => {
    if (!g) return;
    assertRelClose(g, rb.grads[i]!, rtol, `grad ${i}`);
  });
  disposeAll(...a.all, ...b.all);
}

function adversarial(n: number, d: number, seed: number): Float32Array {
  const x = randomData(n * d, seed);
  x.fill(0, 0, d); // a zero row
  for (let k = 0; k < d; k++) x[d + k] *= 1e6; // a huge row
  if (n > 3) for (let k = 0; k < d; k++) x[3 * d + k] = x[2 * d + k] + 1e-5; // near duplicates
  return x;
}

describe('losses: fused kernels vs the unfused compositions of core ops', () => {
  for (const [name, gen] of [
    ['random', (n: number, d: number, s: number) => randomData(n * d, s)],
    ['adversarial', adversarial],
  ] as const) {
    it(`ntXent, ${name} inputs, tau 0.5 / 0.05`, async () => {
      for (const tau of [0.5, 0.05]) {
        const make = () => {
          const z1 = param(gen(6, 10, 1), [6, 10]);
          const z2 = param(gen(6, 10, 2), [6, 10]);
          return { inputs: [z1, z2], all: [z1, z2] };
        };
        await compare(make, ([x, y]) => E.ntXent(x, y, { temperature: tau }), ([x, y]) => E.ntXentReference(x, y, { temperature: tau }));
      }
    });
    it(`supConLoss, ${name} inputs`, async () => {
      const make = () => {
        const f = param(gen(10, 7, 3), [5, 2, 7]);
        return { inputs: [f], all: [f] };
      };
      const labels = [0, 1, 0, 2, 1];
      await compare(make, ([f]) => E.supConLoss(f, labels, { temperature: 0.2, baseTemperature: 0.07 }), ([f]) => E.supConLossReference(f, labels, { temperature: 0.2, baseTemperature: 0.07 }));
    });
    it(`clipLoss, ${name} inputs (learnable scale, below and at the cap)`, async () => {
      for (const s of [Math.log(1 / 0.07), 4.7]) {
        const make = () => {
          const i = param(gen(6, 9, 4), [6, 9]);
          const t = param(gen(6, 9, 5), [6, 9]);
          const ls = param([s], [1]);
          return { inputs: [i, t, ls], all: [i, t, ls] };
        };
        await compare(make, ([i, t, ls]) => E.clipLoss(i, t, ls), ([i, t, ls]) => E.clipLossReference(i, t, ls));
      }
    });
    it(`infoNCE, ${name} inputs`, async () => {
      const make = () => {
        const q = param(gen(5, 8, 6), [5, 8]);
        const k = param(gen(5, 8, 7), [5, 8]);
        const queue = E.tensor(gen(33, 8, 8), [33, 8]);
        return { inputs: [q, k], all: [q, k, queue] };
      };
      await compare(make, ([q, k, c]) => E.infoNCE(q, k, c, { temperature: 0.1 }), ([q, k, c]) => E.infoNCEReference(q, k, c, { temperature: 0.1 }));
    });
  }

  it('agrees in the large-row configuration (2N = 640, d = 24, tau = 0.1)', async () => {
    const make = () => {
      const z1 = param(randomData(320 * 24, 9), [320, 24]);
      const z2 = param(randomData(320 * 24, 10), [320, 24]);
      return { inputs: [z1, z2], all: [z1, z2] };
    };
    await compare(make, ([x, y]) => E.ntXent(x, y, { temperature: 0.1 }), ([x, y]) => E.ntXentReference(x, y, { temperature: 0.1 }));
  });
});
