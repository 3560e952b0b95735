// A small convolutional network trained with Adam, built from the ops a ResNet is made of (conv2d
// 3x3 / 1x1 / strided, batchNorm2d in training mode with its running statistics, the fused BN+ReLU,
// maxPool2d, a residual add, adaptiveAvgPool2d, linear, crossEntropy): GPU memory must be flat from
// step to step (live bytes, and live + pooled bytes, so no step allocates anything new once the first
// has filled the pools), and training must actually train (the loss falls, the running statistics move).
import { expect } from 'chai';
import * as E from '../../engine/index.js';

describe('training memory: a small conv net with Adam', () => {
  it('live and pooled GPU memory are flat over 12 steps after the first; the loss falls', async () => {
    E.manualSeed(11);
    const he = (shape: number[], fanIn: number) => {
      const t = E.mul(E.randn(shape), Math.sqrt(2 / fanIn));
      t.requiresGrad = true;
      return t;
    };
    const bn = (c: number) => ({
      weight: E.ones([c], { requiresGrad: true }),
      bias: E.zeros([c], { requiresGrad: true }),
      mean: E.zeros([c]),
      var: E.ones([c]),
    });
    const w1 = he([8, 3, 3, 3], 27);
    const w2 = he([8, 8, 3, 3], 72);
    const w3 = he([16, 8, 1, 1], 8);
    const fc = he([5, 16], 16);
    const fcb = E.zeros([5], { requiresGrad: true });
    const [bn1, bn2, bn3] = [bn(8), bn(8), bn(16)];
    const params = [w1, w2, w3, fc, fcb, ...[bn1, bn2, bn3].flatMap((b) => [b.weight, b.bias])];
    const opt = new E.Adam(params, { lr: 0.01 });
    // odd spatial size and batch: no shape is a multiple of a tile
    const x = E.randn([5, 3, 15, 15]);
    const labels = [0, 1, 2, 3, 4];
    const train = { training: true, momentum: 0.1, eps: 1e-5 };

    const step = () =>
      E.tidy(() => {
        let h = E.batchNorm2dRelu(E.conv2d(x, w1, null, { padding: 1 }), bn1.mean, bn1.var, bn1.weight, bn1.bias, train);
        h = E.maxPool2d(h, 3, 2, 1); // [5, 8, 8, 8]
        const r = E.batchNorm2d(E.conv2d(h, w2, null, { padding: 1 }), bn2.mean, bn2.var, bn2.weight, bn2.bias, train);
        h = E.relu(E.add(r, h));
        h = E.batchNorm2dRelu(E.conv2d(h, w3, null, { stride: 2 }), bn3.mean, bn3.var, bn3.weight, bn3.bias, train); // [5, 16, 4, 4]
        const logits = E.linear(E.flatten(E.adaptiveAvgPool2d(h, 1), 1), fc, fcb);
        const loss = E.crossEntropy(logits, labels);
        loss.backward();
        return loss;
      });

    const live: number[] = [];
    const held: number[] = [];
    const buffers: number[] = [];
    const losses: number[] = [];
    try {
      for (let s = 0; s < 13; s++) {
        const loss = step();
        opt.step();
        opt.zeroGrad();
        losses.push(await loss.item());
        loss.dispose();
        await E.sync();
        const m = E.memoryStats();
        live.push(m.liveBytes);
        held.push(m.liveBytes + m.pooledBytes);
        buffers.push(m.liveBuffers);
      }
      const after = (a: number[]) => a.slice(1);
      expect(new Set(after(live)).size, `live bytes after step 1: ${after(live).join(', ')}`).to.equal(1);
      expect(new Set(after(held)).size, `live + pooled bytes after step 1: ${after(held).join(', ')}`).to.equal(1);
      expect(new Set(after(buffers)).size, `live buffers after step 1: ${after(buffers).join(', ')}`).to.equal(1);
      expect(losses.every(Number.isFinite), `losses ${losses.join(', ')}`).to.equal(true);
      expect(losses[12], `loss after 13 steps (first ${losses[0]})`).to.be.below(losses[0] * 0.7);
      // the running statistics were updated in training mode (they started at 0 and 1)
      const rm = await bn2.mean.toArray();
      expect(Math.max(...Array.from(rm, Math.abs)), 'bn2 running mean moved').to.be.above(1e-3);
    } finally {
      opt.dispose();
      for (const t of [...params, bn1.mean, bn1.var, bn2.mean, bn2.var, bn3.mean, bn3.var, x]) t.dispose();
    }
  });
});
