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

  it('no op leaks a buffer: forward + backward of every op family, then dispose, returns to baseline', () => {
    const base = E.memoryStats().liveBuffers;
    const x = E.rand([3, 4, 5], { requiresGrad: true });
    const y = E.rand([4, 5], { requiresGrad: true });
    const graphs: ((a: E.Tensor, b: E.Tensor) => E.Tensor)[] = [
      (a) => E.sum(a, 0), // reduction over a non-trailing axis (strided permute + copy)
      (a) => E.max(a, [0, 2], true),
      (a) => E.variance(a, 1),
      (a) => E.softmax(a, 1),
      (a) => E.logSoftmax(a, 0),
      (a) => E.logsumexp(a, 0),
      (a, b) => E.concat([E.reshape(a, [12, 5]), b], 0),
      (a, b) => E.matmul(a, E.transpose(b)),
      (a) => E.indexSelect(a, [2, 0, 2], 1),
      (a) => E.slice(E.permute(a, [2, 0, 1]), 1, 1, 3),
      (a, b) => E.where(E.gt(b, E.mean(b)), a, b),
      (a) => E.crossEntropy(E.reshape(a, [12, 5]), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]),
      (a, b) => E.linear(E.reshape(a, [15, 4]), E.transpose(b), null),
    ];
    for (const f of graphs) {
      E.tidy(() => {
        const out = f(x, y);
        E.sum(E.mul(out, out)).backward();
      });
      x.zeroGrad();
      y.zeroGrad();
      expect(E.memoryStats().liveBuffers, f.toString()).to.equal(base + 2);
    }
    x.dispose();
    y.dispose();
    expect(E.memoryStats().liveBuffers).to.equal(base);
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
