// Every fused loss frees all it allocates: live GPU memory is flat over repeated forward and
// backward passes (and through the int32-label and strided-input paths).
import * as E from '../../engine/index.js';
import { expectFlatMemory, randomData } from '../helpers.js';
import { param } from './util.js';

async function flat(inputs: E.Tensor[], loss: () => E.Tensor): Promise<void> {
  const step = async () => {
    const l = loss();
    l.backward();
    await l.item();
    l.dispose();
    for (const t of inputs) t.zeroGrad();
  };
  await expectFlatMemory(step, 4, 'liveBytes');
}

describe('losses: memory stays flat', () => {
  it('supConLoss ([bsz, views, d], int32 labels)', async () => {
    const f = param(randomData(5 * 2 * 3, 1), [5, 2, 3]);
    const labels = E.tensor(Int32Array.from([0, 1, 0, 1, 2]), [5], { dtype: 'int32' });
    await flat([f], () => E.supConLoss(f, labels));
    f.dispose();
    labels.dispose();
  });
  it('clipLoss (all three gradients)', async () => {
    const a = param(randomData(12, 2), [4, 3]);
    const b = param(randomData(12, 3), [4, 3]);
    const s = param([2.6], [1]);
    await flat([a, b, s], () => E.clipLoss(a, b, s));
    [a, b, s].forEach((t) => t.dispose());
  });
  it('infoNCE with a MoCoQueue and a transposed query', async () => {
    const base = param(randomData(12, 4), [3, 4]);
    const k = param(randomData(12, 5), [4, 3]);
    const queue = new E.MoCoQueue(8, 3);
    await flat([base, k], () => {
      const q = E.transpose(base, 0, 1);
      const l = E.infoNCE(q, k, queue);
      q.dispose();
      queue.enqueue(k);
      return l;
    });
    [base, k].forEach((t) => t.dispose());
    queue.dispose();
  });
});
