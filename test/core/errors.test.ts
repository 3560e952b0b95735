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

  it('indexSelect with an index out of range, or in torch.index_select\'s argument order', () => {
    refuses(() => E.indexSelect(a, [0, 2]), /^indexSelect:/, /\[0, 2\)/);
    const idx = E.tensor(Int32Array.from([0, 1]));
    refuses(() => E.indexSelect(a, 0 as never, idx as never), /^indexSelect: indices must be .* got the number 0 \(the order is indexSelect\(x, indices, dim\)/);
    idx.dispose();
  });

  it('an axis that is not an integer is named as such, not as out of range', () => {
    refuses(() => E.sum(a, 1.5), /^sum: an axis must be an integer, got 1\.5$/);
    refuses(() => E.softmax(a, a as never), /^softmax: an axis must be an integer, got a tensor \[2, 3\]$/);
    refuses(() => E.transpose(a, '0' as never, 1), /^transpose: an axis must be an integer, got "0"$/);
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

describe('options objects: an unknown key is an error, not a silently used default', () => {
  let x: E.Tensor, w: E.Tensor, z: E.Tensor, p: E.Tensor;
  before(() => {
    x = E.ones([1, 3, 5, 5]);
    w = E.ones([2, 3, 3, 3]);
    z = E.ones([4, 8]);
    p = E.ones([3], { requiresGrad: true });
  });
  after(() => [x, w, z, p].forEach((t) => t.dispose()));

  it('checkOptions: the key, the op, the accepted keys and a hint for snake_case or other casing', () => {
    expectError(() => E.checkOptions('op', { strides: 2 }, ['stride', 'padding']), /^op: unknown option 'strides'; expected one of stride, padding$/);
    expectError(() => E.checkOptions('op', { count_include_pad: false }, ['countIncludePad']), /'count_include_pad' \(did you mean 'countIncludePad'\?\)/);
    expectError(() => E.checkOptions('op', { Lr: 1 }, ['lr']), /did you mean 'lr'/);
    expectError(() => E.checkOptions('op', [1], ['lr']), /^op: options must be an object, got an array/);
    expectError(() => E.checkOptions('op', 3, ['lr']), /^op: options must be an object, got number/);
    for (const ok of [undefined, null, {}, { lr: 1 }]) E.checkOptions('op', ok, ['lr']);
    expect(E.optionKeys<E.Conv2dOptions>({ stride: 1, padding: 1, dilation: 1, groups: 1 })).to.deep.equal(['stride', 'padding', 'dilation', 'groups']);
  });

  it('the kernels: conv2d, batch norm, pooling, crossEntropy', () => {
    const bad = (o: unknown) => o as never;
    refuses(() => E.conv2d(x, w, null, bad({ strides: 2 })), /^conv2d: unknown option 'strides'/, /stride, padding, dilation, groups/);
    const rm = E.zeros([3]);
    const rv = E.ones([3]);
    // { train: true } must not quietly run in eval mode
    refuses(() => E.batchNorm2d(x, rm, rv, null, null, bad({ train: true })), /^batchNorm2d: unknown option 'train'/, /training, momentum, eps/);
    refuses(() => E.batchNorm2dRelu(x, rm, rv, null, null, bad({ epsilon: 1e-3 })), /^batchNorm2dRelu: unknown option 'epsilon'/);
    refuses(() => E.batchNorm2d(x, rm, rv, null, null, bad(5)), /^batchNorm2d: options must be an object/);
    rm.dispose();
    rv.dispose();
    refuses(() => E.maxPool2d(x, 3, bad({ strde: 2 })), /^maxPool2d: unknown option 'strde'/);
    refuses(() => E.maxPool2d(x, 3, bad({ ceil_mode: true })), /^maxPool2d: unknown option 'ceil_mode' \(did you mean 'ceilMode'\?\)/);
    refuses(() => E.avgPool2d(x, 3, bad({ count_include_pad: false })), /^avgPool2d: unknown option 'count_include_pad' \(did you mean 'countIncludePad'\?\)/);
    refuses(() => E.crossEntropy(z, [0, 1, 2, 3], bad({ reductoin: 'sum' })), /^crossEntropy: unknown option 'reductoin'; expected one of reduction/);
  });

  it('creation: keys, dtype values, and int32 fills (which used to come back float32)', async () => {
    refuses(() => E.tensor([1, 2], undefined, { requires_grad: true } as never), /^tensor: unknown option 'requires_grad' \(did you mean 'requiresGrad'\?\)/);
    refuses(() => E.randn([2], { requires_grad: true } as never), /^randn: unknown option/);
    refuses(() => E.zeros([2], { dtype: 'float64' } as never), /^zeros: dtype must be 'float32' or 'int32', got "float64"/);
    refuses(() => E.rand([2], { dtype: 'int32' }), /^rand: only float32/);
    refuses(() => E.full([2], 1.5, { dtype: 'int32' }), /^full: an int32 fill value must be an integer/);
    refuses(() => E.ones([2], { dtype: 'int32', requiresGrad: true }), /^ones: int32 tensors cannot require grad/);
    refuses(() => E.zeros([2], { requiresGrad: 1 } as never), /^zeros: requiresGrad must be a boolean/);
    const t = E.full([2, 3], -7, { dtype: 'int32' });
    expect(t.dtype).to.equal('int32');
    expect(Array.from(await t.toArray())).to.deep.equal([-7, -7, -7, -7, -7, -7]);
    t.dispose();
    const o = E.ones([3], { dtype: 'int32' });
    expect(o.dtype).to.equal('int32');
    expect(Array.from(await o.toArray())).to.deep.equal([1, 1, 1]);
    const zl = E.zerosLike(o);
    expect(zl.dtype, 'zerosLike keeps the dtype, as torch.zeros_like').to.equal('int32');
    expect(Array.from(await zl.toArray())).to.deep.equal([0, 0, 0]);
    const ol = E.onesLike(o);
    expect(ol.dtype).to.equal('int32');
    [o, zl, ol].forEach((u) => u.dispose());
  });

  it('the losses and the MoCo queue', () => {
    refuses(() => E.ntXent(z, z, { temp: 0.1 } as never), /^ntXent: unknown option 'temp'; expected one of temperature/);
    refuses(() => E.infoNCE(z, z, z, { tau: 0.1 } as never), /^infoNCE: unknown option 'tau'/);
    refuses(() => E.supConLoss(z, [0, 1, 0, 1], { base_temperature: 0.07 } as never), /^supConLoss: unknown option 'base_temperature' \(did you mean 'baseTemperature'\?\)/);
    refuses(() => new E.MoCoQueue(8, 8, { initialization: 'zeros' } as never), /^MoCoQueue: unknown option 'initialization'/);
  });

  it('the optimizers and the schedule (lr would have stayed at its default)', () => {
    refuses(() => new E.Adam([p], { learning_rate: 0.1 } as never), /^Adam: unknown option 'learning_rate'/, /\blr\b/);
    refuses(() => new E.AdamW([p], { weight_decay: 0.1 } as never), /^AdamW: unknown option 'weight_decay' \(did you mean 'weightDecay'\?\)/);
    refuses(() => new E.SGD([p], { lr: 0.1, mom: 0.9 } as never), /^SGD: unknown option 'mom'/);
    refuses(() => new E.LARS([p], { trust: 0.001 } as never), /^LARS: unknown option 'trust'/);
    refuses(() => E.warmupCosineSchedule({ warmupSteps: 1, totalSteps: 10, min_factor: 0 } as never), /^warmupCosineSchedule: unknown option 'min_factor'/);
    const o = new E.SGD([p], { lr: 0.1, momentum: undefined });
    expect(o.groups[0].hyper.momentum, 'an undefined option keeps its default').to.equal(0);
    expect(o.groups[0].hyper.lr).to.equal(0.1);
  });

  it('the data pipeline: datasets, the loader and its augmentation', () => {
    const ds = new E.ArrayDataset('tiny', new Uint8Array(4 * 4 * 4), null, 4, 4, 1);
    expectError(() => new E.ArrayDataset('tiny', new Uint8Array(16), null, 4, 4, 1, { norm: null } as never), /^tiny: unknown option 'norm'/);
    expectError(() => new E.DataLoader(ds, { batch_size: 2 } as never), /^DataLoader: unknown option 'batch_size' \(did you mean 'batchSize'\?\)/);
    expectError(() => new E.DataLoader(ds, { batchSize: 2, augment: { flip: 0.5 } } as never), /^SimCLR augment: unknown option 'flip'/, /flipP/);
    // checked before the files are looked for: no dataset needs to be installed for these
    expectError(() => new E.FashionMNIST({ trian: true } as never), /^FashionMNIST: unknown option 'trian'/);
    expectError(() => new E.ImageFolder('/nonexistent', { size: 8, cache_bytes: 1 } as never), /^ImageFolder: unknown option 'cache_bytes' \(did you mean 'cacheBytes'\?\)/);
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
