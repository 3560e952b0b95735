// Autograd semantics: accumulation across backward calls, zeroGrad, detach, noGrad, one visit per
// node (a diamond graph is not walked once per path), freeing of saved activations, graph reuse errors.
import { expect } from 'chai';
import * as E from '../../engine/index.js';
import { assertClose, expectError } from '../helpers.js';

describe('autograd', () => {
  it('accumulates gradients across backward calls until zeroGrad', async () => {
    const x = E.tensor([1, 2, 3], [3], { requiresGrad: true });
    for (let i = 0; i < 2; i++) E.tidy(() => E.sum(E.mul(x, x)).backward());
    assertClose(await x.grad!.toArray(), [4, 8, 12], {}, 'accumulated 2 * 2x');
    x.zeroGrad();
    expect(x.grad).to.equal(null);
    E.tidy(() => E.sum(E.mul(x, 3)).backward());
    assertClose(await x.grad!.toArray(), [3, 3, 3], {}, 'after zeroGrad');
    x.dispose();
  });

  it('visits a shared node once: a 20-deep diamond chain (2^20 paths) gives the exact gradient', async () => {
    // y_{k+1} = y_k * 0.5 + y_k * 0.5 has 2^20 paths from x to the output; walked per path this would not finish.
    const x = E.tensor([2, -1], [2], { requiresGrad: true });
    const stats0 = E.commandStats().dispatches;
    E.tidy(() => {
      let y: E.Tensor = x;
      for (let k = 0; k < 20; k++) y = E.add(E.mul(y, 0.5), E.mul(y, 0.5));
      E.sum(E.mul(y, y)).backward();
    });
    const used = E.commandStats().dispatches - stats0;
    expect(used).to.be.below(400); // linear in the depth, not exponential
    assertClose(await x.grad!.toArray(), [4, -2], {}, 'd/dx sum(x^2)');
    x.dispose();
  });

  it('detach cuts the graph; noGrad records nothing', async () => {
    const x = E.tensor([1, 2], [2], { requiresGrad: true });
    E.tidy(() => {
      const y = E.mul(x, x);
      const z = E.add(E.mul(y.detach(), x), y); // d/dx = x^2 + 2x
      E.sum(z).backward();
    });
    assertClose(await x.grad!.toArray(), [3, 8], {}, 'detached product');
    const n = E.noGrad(() => E.mul(x, 2));
    expect(n.requiresGrad).to.equal(false);
    expect(n.node).to.equal(null);
    n.dispose();
    x.dispose();
  });

  it('frees saved activations during backward and refuses a second backward through a freed graph', () => {
    const x = E.tensor([1, 2, 3], [3], { requiresGrad: true });
    const before = E.memoryStats().liveBuffers;
    const loss = E.tidy(() => E.sum(E.exp(E.mul(x, x))));
    const withGraph = E.memoryStats().liveBuffers;
    expect(withGraph).to.be.above(before + 1); // the graph holds saved activations
    loss.backward();
    // after backward only the loss itself and x.grad remain beyond what was there before
    expect(E.memoryStats().liveBuffers).to.equal(before + 2);
    expectError(() => loss.backward(), /backward/, /already freed/);
    loss.dispose();
    x.dispose();
    expect(E.memoryStats().liveBuffers).to.equal(before - 1);
  });

  it('disposing an output without backward frees its whole graph', () => {
    const x = E.tensor([1, 2, 3], [3], { requiresGrad: true });
    const base = E.memoryStats().liveBuffers;
    const y = E.tidy(() => E.sum(E.sigmoid(E.mul(E.exp(x), x))));
    expect(E.memoryStats().liveBuffers).to.be.above(base + 1);
    y.dispose();
    expect(E.memoryStats().liveBuffers).to.equal(base);
    x.dispose();
  });

  it('backward with an explicit gradient on a non-scalar output', async () => {
    const x = E.tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true });
    const g = E.tensor([1, 0, 2, 0.5], [2, 2]);
    E.tidy(() => E.mul(x, x).backward(g));
    assertClose(await x.grad!.toArray(), [2, 0, 12, 4], {}, 'vector-Jacobian product');
    x.dispose();
    g.dispose();
  });

  it('keeps gradients of leaves contiguous even when the last op was a transpose', async () => {
    const w = E.tensor([1, 2, 3, 4, 5, 6], [2, 3], { requiresGrad: true });
    E.tidy(() => E.sum(E.mul(E.transpose(w), E.tensor([1, 2, 3, 4, 5, 6], [3, 2]))).backward());
    expect(w.grad!.isContiguous).to.equal(true);
    assertClose(await w.grad!.toArray(), [1, 3, 5, 2, 4, 6], {}, 'transposed gradient');
    w.dispose();
  });
});
