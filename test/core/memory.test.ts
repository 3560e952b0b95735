// Memory ownership: tidy frees intermediates, the pool reuses buffers, and a training loop's live
// GPU memory is flat from step to step.
import { expect } from 'chai';
import * as E from '../../engine/index.js';

describe('memory', () => {
  it('tidy disposes everything not returned, including nested scopes and thrown errors', () => {
    const base = E.memoryStats().liveBuffers;
    const kept = E.tidy(() => {
      const a = E.ones([4, 4]);
      const inner = E.tidy(() => {
        const b = E.add(a, 1);
        return { pair: [E.mul(b, 2)], other: E.exp(b) };
      });
      inner.other.dispose();
      return inner.pair[0];
    });
    expect(E.memoryStats().liveBuffers).to.equal(base + 1);
    expect(() =>
      E.tidy(() => {
        E.ones([3]);
        throw new Error('boom');
      }),
    ).to.throw('boom');
    expect(E.memoryStats().liveBuffers).to.equal(base + 1);
    kept.dispose();
    expect(E.memoryStats().liveBuffers).to.equal(base);
  });

  it('reuses pooled buffers by size class instead of creating new ones', () => {
    E.tidy(() => {
      E.zeros([1000]);
    });
    const created = E.memoryStats().created;
    for (let i = 0; i < 20; i++) {
      E.tidy(() => {
        E.add(E.zeros([1000]), E.ones([1000]));
        E.zeros([999]); // same size class as 1000 floats
      });
    }
    expect(E.memoryStats().created - created).to.be.at.most(3);
  });

  it('no op leaks a buffer outside tidy: forward + backward of every op family, then dispose, returns to baseline', () => {
    type In = { x: E.Tensor; y: E.Tensor; x2: E.Tensor; cond: E.Tensor };
    const ops: [string, (i: In) => E.Tensor][] = [
      ['sum over a non-trailing axis', ({ x }) => E.sum(x, 0)],
      ['max keepdim', ({ x }) => E.max(x, [0, 2], true)],
      ['var', ({ x }) => E.variance(x, 1)],
      ['softmax axis 1', ({ x }) => E.softmax(x, 1)],
      ['logSoftmax axis 0', ({ x }) => E.logSoftmax(x, 0)],
      ['logsumexp axis 0', ({ x }) => E.logsumexp(x, 0)],
      ['concat', ({ x2, y }) => E.concat([x2, y], 0)],
      [
        'matmul with a transposed operand (the view disposed before backward)',
        ({ x, y }) => {
          const t = y.transpose();
          const o = E.matmul(x, t);
          t.dispose();
          return o;
        },
      ],
      ['indexSelect dim 1', ({ x }) => E.indexSelect(x, [2, 0, 2], 1)],
      ['permute', ({ x }) => E.permute(x, [2, 0, 1])],
      ['slice', ({ x }) => E.slice(x, 1, 1, 3)],
      ['where', ({ x, y, cond }) => E.where(cond, x, y)],
      ['crossEntropy', ({ x2 }) => E.crossEntropy(x2, [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1])],
      ['linear', ({ x2, y }) => E.linear(x2, y)],
      ['expand', ({ y }) => E.expand(y, [3, 4, 5])],
      ['flatten', ({ x }) => E.flatten(x, 1)],
    ];
    const base = E.memoryStats().liveBuffers;
    for (const [name, f] of ops) {
      const inputs: In = {
        x: E.rand([3, 4, 5], { requiresGrad: true }),
        y: E.rand([4, 5], { requiresGrad: true }),
        x2: E.rand([12, 5], { requiresGrad: true }),
        cond: E.rand([4, 5]),
      };
      const out = f(inputs);
      const sq = E.mul(out, out);
      const l = E.sum(sq);
      l.backward();
      for (const t of [out, sq, l, ...Object.values(inputs)]) t.dispose();
      expect(E.memoryStats().liveBuffers, name).to.equal(base);
    }
  });

  it('200 forward + backward + update steps of an MLP keep live memory flat after the first step', async () => {
    E.manualSeed(7);
    const params = [E.mul(E.randn([8, 16]), 0.3), E.zeros([16]), E.mul(E.randn([16, 1]), 0.3), E.zeros([1])].map((p) => {
      p.requiresGrad = true;
      return p;
    });
    const x = E.rand([32, 8]);
    const y = E.sum(x, 1, true);
    const lr = 0.05;
    const live: number[] = [];
    let firstLoss = 0;
    let lastLoss = 0;
    for (let step = 0; step < 200; step++) {
      const loss = E.tidy(() => {
        const h = E.relu(E.add(E.matmul(x, params[0]), params[1]));
        const out = E.add(E.matmul(h, params[2]), params[3]);
        const d = E.sub(out, y);
        const l = E.mean(E.mul(d, d));
        l.backward();
        return l;
      });
      E.noGrad(() => {
        for (let i = 0; i < params.length; i++) {
          const p = params[i];
          const np = E.tidy(() => E.sub(p, E.mul(p.grad!, lr)));
          np.requiresGrad = true;
          p.dispose();
          params[i] = np;
        }
      });
      if (step === 0) firstLoss = await loss.item();
      if (step === 199) lastLoss = await loss.item();
      loss.dispose();
      live.push(E.memoryStats().liveBytes);
    }
    const after = live.slice(1);
    expect(Math.max(...after), `live bytes over steps 2..200: min ${Math.min(...after)}, max ${Math.max(...after)}`).to.equal(Math.min(...after));
    expect(lastLoss).to.be.below(firstLoss * 0.5);
    for (const t of [...params, x, y]) t.dispose();
  });
});
