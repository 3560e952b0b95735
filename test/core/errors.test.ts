// Bad input: a clear Error naming the op and the shapes, raised before any GPU work
// (checked by counting encoded dispatches before and after).
import { expect } from 'chai';
import * as E from '../../engine/index.js';
import { expectError } from '../helpers.js';

/** Asserts fn throws with the patterns and encodes no GPU work. */
function refuses(fn: () => unknown, ...patterns: RegExp[]): void {
  E.flush();
  const before = E.commandStats().dispatches;
  expectError(() => E.tidy(fn as () => void), ...patterns);
  expect(E.commandStats().dispatches, 'dispatches encoded before the error').to.equal(before);
}

describe('errors on bad input', () => {
  let a: E.Tensor, b: E.Tensor, m: E.Tensor;
  before(() => {
    a = E.ones([2, 3]);
    b = E.ones([4]);
    m = E.ones([3, 5]);
  });
  after(() => [a, b, m].forEach((t) => t.dispose()));

  it('impossible broadcasts name the op and both shapes', () => {
    refuses(() => E.add(a, b), /^add:/, /\[2, 3\]/, /\[4\]/);
    refuses(() => E.mul(a, b), /^mul:/, /cannot broadcast/);
    refuses(() => E.where(a, a, b), /^where:/);
  });

  it('matmul with mismatched inner dimensions', () => {
    refuses(() => E.matmul(a, a), /^matmul:/, /\[2, 3\] @ \[2, 3\]/);
    const x = E.ones([2, 2, 3]);
    const y = E.ones([3, 3, 2]);
    refuses(() => E.matmul(x, y), /^matmul:/, /broadcast/);
    x.dispose();
    y.dispose();
  });

  it('linear with wrong weight or bias shapes', () => {
    const w = E.ones([4, 2]);
    const w2 = E.ones([5, 3]);
    const bias = E.ones([3]);
    refuses(() => E.linear(a, w), /^linear:/, /\[4, 2\]/);
    refuses(() => E.linear(a, w2, bias), /^linear:/, /bias/);
    [w, w2, bias].forEach((t) => t.dispose());
  });

  it('a disposed tensor', () => {
    const t = E.ones([3]);
    t.dispose();
    refuses(() => E.add(t, 1), /^add:/, /disposed/);
    refuses(() => E.sum(t), /^sum:/, /disposed/);
    expectError(() => t.backward(), /^backward:/, /disposed/);
  });

  it('a disposed tensor cannot be read', async () => {
    const t = E.ones([3]);
    t.dispose();
    let msg = '';
    await t.toArray().catch((e: Error) => (msg = e.message));
    expect(msg).to.match(/^toArray:.*disposed/);
  });

  it('backward on a non-scalar without a gradient, or on a tensor without grad', () => {
    const x = E.ones([3], { requiresGrad: true });
    const y = E.mul(x, 2);
    expectError(() => y.backward(), /^backward:/, /non-scalar/, /\[3\]/);
    expectError(() => E.sum(a).backward(), /^backward:/, /does not require grad/);
    const g = E.ones([2]);
    expectError(() => y.backward(g), /^backward:/, /\[2\]/, /\[3\]/);
    [x, y, g].forEach((t) => t.dispose());
  });

  it('crossEntropy with labels out of range, the wrong count, or non-integers', () => {
    refuses(() => E.crossEntropy(a, [0, 3]), /^crossEntropy:/, /\[0, 3\)/, /\[0, 3\]/);
    refuses(() => E.crossEntropy(a, [-1, 0]), /^crossEntropy:/, /labels must be in/);
    refuses(() => E.crossEntropy(a, [0]), /^crossEntropy:/, /\[2\]/);
    refuses(() => E.crossEntropy(a, [0.5, 1]), /^crossEntropy:/, /not an integer/);
    refuses(() => E.crossEntropy(b, [0]), /^crossEntropy:/, /\[N, C\]/);
  });

  it('indexSelect with an index out of range', () => {
    refuses(() => E.indexSelect(a, [0, 2]), /^indexSelect:/, /\[0, 2\)/);
  });

  it('shape ops with impossible arguments', () => {
    refuses(() => E.reshape(a, [4, 2]), /^reshape:/, /\[2, 3\]/, /\[4, 2\]/);
    refuses(() => E.reshape(a, [-1, -1]), /^reshape:/, /-1/);
    refuses(() => E.permute(a, [0, 0]), /^permute:/, /repeated/);
    refuses(() => E.transpose(a, 0, 2), /^transpose:/, /axis 2/);
    refuses(() => E.concat([a, m]), /^concat:/, /\[2, 3\]/, /\[3, 5\]/);
    refuses(() => E.sum(a, 3), /^sum:/, /axis 3/);
    refuses(() => E.softmax(a, -3), /^softmax:/, /axis -3/);
    refuses(() => E.expand(a, [3, 3]), /^expand:/);
    refuses(() => E.tensor([1, 2, 3], [2, 2]), /^tensor:/, /3 values/);
    refuses(() => E.tensor([[1, 2], [3]]), /^tensor:/, /ragged/);
    refuses(() => E.zeros([2, -1]), /^zeros:/, /invalid shape/);
  });

  it('scalar op arguments', () => {
    refuses(() => E.clamp(a, 1, 0), /^clamp:/, /min/);
    refuses(() => E.pow(a, NaN), /^pow:/, /exponent/);
    const one = E.ones([1]);
    refuses(() => E.variance(one), /^var:/, /degrees of freedom/);
    one.dispose();
  });

  it('a tensor larger than the device allows', () => {
    const limit = E.deviceContext().limits.maxStorageBufferBindingSize;
    refuses(() => E.zeros([Math.ceil(limit / 4) + 1]), /^zeros:/, /maxStorageBufferBindingSize/);
  });
});

describe('GPU errors surface as exceptions naming the op', () => {
  it('a kernel the device rejects is reported at the next sync, with the kernel name', async () => {
    const { kernel } = await import('../../engine/kernels.js');
    const { dispatch } = await import('../../engine/commands.js');
    let msg = '';
    try {
      const k = kernel('broken-test-kernel', () => '@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }');
      dispatch(k, [], null, [1]);
      await E.sync('test');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).to.match(/broken-test-kernel/);
    // the device is still usable afterwards
    const t = E.add(E.ones([2]), 1);
    expect(Array.from(await t.toArray())).to.deep.equal([2, 2]);
    t.dispose();
  });
});
