// Optimizers against torch.optim (test/fixtures/optim.json, made by scripts/fixtures/optim.py):
// 20 steps on fixed gradients, parameters compared after every step to rtol 1e-6 (atol 1e-7).
// stateDict round trips give bit-identical continuations; schedules and bad options are checked.
import { expect } from 'chai';
import * as E from '../../engine/index.js';
import { assertClose, expectError, loadFixture } from '../helpers.js';

interface OptCase {
  name: string;
  type: 'Adam' | 'AdamW' | 'SGD' | 'LARS';
  options: Record<string, number | boolean>;
  groups: ({ params: number[] } & Record<string, number | boolean>)[];
  shapes: number[][];
  init: number[][];
  grads: number[][][];
  history: number[][][];
}

function build(c: OptCase, params: E.Tensor[]) {
  const groups = c.groups.map(({ params: idx, ...over }) => ({ params: idx.map((i) => params[i]), ...over }));
  switch (c.type) {
    case 'Adam':
      return new E.Adam(groups as any, c.options);
    case 'AdamW':
      return new E.AdamW(groups as any, c.options);
    case 'SGD':
      return new E.SGD(groups as any, c.options);
    case 'LARS':
      return new E.LARS(groups as any, c.options);
  }
}

function makeParams(c: OptCase): E.Tensor[] {
  return c.init.map((d, i) => E.tensor(d, c.shapes[i], { requiresGrad: true }));
}

function setGrads(params: E.Tensor[], grads: number[][], shapes: number[][]): void {
  params.forEach((p, i) => {
    p.zeroGrad();
    p.grad = E.tensor(grads[i], shapes[i]);
  });
}

describe('optimizers vs torch.optim', () => {
  const { cases } = loadFixture<{ cases: OptCase[] }>('optim');
  for (const c of cases) {
    it(`${c.name}: 20 steps match to 1e-6`, async () => {
      const params = makeParams(c);
      const opt = build(c, params);
      try {
        for (let s = 0; s < 20; s++) {
          setGrads(params, c.grads[s], c.shapes);
          opt.step();
          if (s === 0 || s === 9 || s === 19) {
            for (let i = 0; i < params.length; i++) {
              assertClose(await params[i].toArray(), c.history[s][i], { rtol: 1e-6, atol: 1e-7 }, `${c.name} step ${s + 1} param ${i}`);
            }
          }
        }
      } finally {
        opt.dispose();
        params.forEach((p) => p.dispose());
      }
    });
  }

  it('stateDict/loadStateDict continue bit-identically (Adam with amsgrad, SGD with momentum, LARS)', async () => {
    for (const name of ['adam-amsgrad', 'sgd-nesterov', 'lars-simclr-groups']) {
      const c = cases.find((x) => x.name === name)!;
      const a = makeParams(c);
      const optA = build(c, a);
      for (let s = 0; s < 10; s++) {
        setGrads(a, c.grads[s], c.shapes);
        optA.step();
      }
      const sd = JSON.parse(JSON.stringify(await optA.stateDict()));
      const b = await Promise.all(a.map(async (p, i) => E.tensor(await p.toArray(), c.shapes[i], { requiresGrad: true })));
      const optB = build(c, b);
      optB.loadStateDict(sd);
      for (let s = 10; s < 20; s++) {
        setGrads(a, c.grads[s], c.shapes);
        setGrads(b, c.grads[s], c.shapes);
        optA.step();
        optB.step();
      }
      for (let i = 0; i < a.length; i++) {
        expect(Array.from(await b[i].toArray()), `${name} param ${i}`).to.deep.equal(Array.from(await a[i].toArray()));
      }
      for (const o of [optA, optB]) o.dispose();
      [...a, ...b].forEach((p) => p.dispose());
    }
  });

  it('Adam, AdamW, amsgrad and SGD on a tensor longer than one optimizer workgroup (1024 elements on CPU drivers) match a float64 reference', async () => {
    // torch.optim's single-tensor Adam, in float64; 2600 elements: 3 workgroups, the last one partial
    const n = 2600;
    const rng = (k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + k * 78.233) * 0.5);
    const configs: [string, boolean, { lr: number; weightDecay: number; amsgrad: boolean }][] = [
      ['Adam', false, { lr: 1e-2, weightDecay: 0.1, amsgrad: false }],
      ['AdamW amsgrad', true, { lr: 1e-2, weightDecay: 0.1, amsgrad: true }],
    ];
    for (const [name, decoupled, o] of configs) {
      const init = rng(0);
      const p = E.tensor(init, [n], { requiresGrad: true });
      const opt = decoupled ? new E.AdamW([p], o) : new E.Adam([p], o);
      const x = Float64Array.from(init);
      const m = new Float64Array(n);
      const v = new Float64Array(n);
      const vmax = new Float64Array(n);
      const [b1, b2, eps] = [0.9, 0.999, 1e-8];
      for (let step = 1; step <= 3; step++) {
        const g32 = rng(step);
        p.grad = E.tensor(g32, [n]);
        opt.step();
        const bc1 = 1 - b1 ** step;
        const bc2 = 1 - b2 ** step;
        for (let i = 0; i < n; i++) {
          let g = g32[i];
          if (decoupled) x[i] *= 1 - o.lr * o.weightDecay;
          else g += o.weightDecay * x[i];
          m[i] = m[i] * b1 + g * (1 - b1);
          v[i] = v[i] * b2 + (1 - b2) * g * g;
          vmax[i] = Math.max(vmax[i], v[i]);
          const vhat = o.amsgrad ? vmax[i] : v[i];
          x[i] += (-o.lr / bc1) * (m[i] / (Math.sqrt(vhat) / Math.sqrt(bc2) + eps));
        }
      }
      assertClose(await p.toArray(), x, { rtol: 1e-5, atol: 1e-6 }, `${name} after 3 steps`);
    }
    // SGD with nesterov momentum and weight decay, and plain SGD (a kernel without the momentum buffer)
    for (const momentum of [0.9, 0]) {
      const init = rng(0);
      const p = E.tensor(init, [n], { requiresGrad: true });
      const opt = new E.SGD([p], { lr: 0.1, momentum, nesterov: momentum > 0, weightDecay: 0.1 });
      const x = Float64Array.from(init);
      const buf = new Float64Array(n);
      for (let step = 1; step <= 3; step++) {
        const g32 = rng(step);
        p.grad = E.tensor(g32, [n]);
        opt.step();
        for (let i = 0; i < n; i++) {
          let d = g32[i] + 0.1 * x[i];
          if (momentum > 0) {
            buf[i] = step === 1 ? d : buf[i] * momentum + d;
            d = d + momentum * buf[i];
          }
          x[i] += -0.1 * d;
        }
      }
      assertClose(await p.toArray(), x, { rtol: 1e-5, atol: 1e-6 }, `SGD momentum ${momentum} after 3 steps`);
    }
  });

  it('trains an MLP with Adam inside the flat-memory loop', async () => {
    E.manualSeed(3);
    const w1 = E.mul(E.randn([4, 16]), 0.5);
    const w2 = E.mul(E.randn([16, 1]), 0.5);
    for (const p of [w1, w2]) p.requiresGrad = true;
    const opt = new E.Adam([w1, w2], { lr: 0.01 });
    const x = E.rand([64, 4]);
    const y = E.sum(x, 1, true);
    const live: number[] = [];
    let first = 0;
    let last = 0;
    for (let s = 0; s < 100; s++) {
      const loss = E.tidy(() => {
        const d = E.sub(E.matmul(E.relu(E.matmul(x, w1)), w2), y);
        const l = E.mean(E.mul(d, d));
        l.backward();
        return l;
      });
      opt.step();
      opt.zeroGrad();
      if (s === 0) first = await loss.item();
      if (s === 99) last = await loss.item();
      loss.dispose();
      live.push(E.memoryStats().liveBytes);
    }
    expect(new Set(live.slice(1)).size, 'live bytes after step 1').to.equal(1);
    expect(last).to.be.below(first * 0.1);
    opt.dispose();
    [w1, w2, x, y].forEach((t) => t.dispose());
  });
});

describe('learning-rate schedules', () => {
  it('linear warm-up then cosine decay', () => {
    const f = E.warmupCosineSchedule({ warmupSteps: 10, totalSteps: 110, minFactor: 0 });
    expect(f(0)).to.be.closeTo(0.1, 1e-12);
    expect(f(9)).to.be.closeTo(1, 1e-12);
    expect(f(10)).to.be.closeTo(1, 1e-12);
    expect(f(60)).to.be.closeTo(0.5, 1e-12); // half-way through the cosine
    expect(f(110)).to.be.closeTo(0, 1e-12);
    expect(f(500)).to.be.closeTo(0, 1e-12);
    const g = E.warmupCosineSchedule({ warmupSteps: 0, totalSteps: 4, minFactor: 0.1 });
    expect(g(2)).to.be.closeTo(0.1 + 0.9 * 0.5, 1e-12);
  });

  it('LRScheduler scales every group from its own base lr and round-trips its state', () => {
    const a = E.ones([2], { requiresGrad: true });
    const b = E.ones([3], { requiresGrad: true });
    const opt = new E.SGD([{ params: [a] }, { params: [b], lr: 1 }], { lr: 0.1 });
    const sched = new E.LRScheduler(opt, E.warmupCosineSchedule({ warmupSteps: 4, totalSteps: 8 }));
    expect(sched.lr(0)).to.be.closeTo(0.025, 1e-12);
    expect(sched.lr(1)).to.be.closeTo(0.25, 1e-12);
    for (let i = 0; i < 5; i++) sched.step();
    const sd = sched.stateDict();
    const lr5 = [sched.lr(0), sched.lr(1)];
    const opt2 = new E.SGD([{ params: [a] }, { params: [b], lr: 1 }], { lr: 0.1 });
    const sched2 = new E.LRScheduler(opt2, E.warmupCosineSchedule({ warmupSteps: 4, totalSteps: 8 }));
    sched2.loadStateDict(sd);
    expect([sched2.lr(0), sched2.lr(1)]).to.deep.equal(lr5);
    expect(E.constantSchedule()(1000)).to.equal(1);
    a.dispose();
    b.dispose();
  });
});

describe('optimizer errors', () => {
  it('rejects bad options and parameters, naming the option', () => {
    const p = E.ones([3], { requiresGrad: true });
    const q = E.ones([3]);
    expectError(() => new E.Adam([p], { lr: -1 }), /^Adam:/, /'lr'/);
    expectError(() => new E.Adam([p], { beta1: 1 }), /^Adam:/, /'beta1'/);
    expectError(() => new E.SGD([p], { nesterov: true }), /^SGD:/, /nesterov/);
    expectError(() => new E.SGD([{ params: [p], lrr: 1 } as any]), /^SGD:/, /unknown option 'lrr'/);
    expectError(() => new E.AdamW([q]), /^AdamW:/, /requiresGrad/);
    expectError(() => new E.LARS([p, p]), /^LARS:/, /twice/);
    expectError(() => new E.Adam([]), /^Adam:/, /no parameters/);
    expectError(() => E.warmupCosineSchedule({ warmupSteps: 5, totalSteps: 5 }), /totalSteps/);
    const opt = new E.SGD([p], { lr: 0.1 });
    p.grad = E.ones([2]);
    expectError(() => opt.step(), /^SGD.step:/, /gradient/);
    p.dispose();
    q.dispose();
  });

  it('LARS.simclrGroups excludes batch-norm and bias parameters from decay and adaptation', () => {
    const w = E.ones([2, 2], { requiresGrad: true });
    const bias = E.ones([2], { requiresGrad: true });
    const bn = E.ones([2], { requiresGrad: true });
    const groups = E.LARS.simclrGroups([['conv1.weight', w], ['conv1.bias', bias], ['bn1.weight', bn]]);
    expect(groups).to.have.length(2);
    expect(groups[0].params).to.deep.equal([w]);
    expect(groups[1].params).to.deep.equal([bias, bn]);
    expect(groups[1].weightDecay).to.equal(0);
    expect(groups[1].adapt).to.equal(false);
    [w, bias, bn].forEach((t) => t.dispose());
  });
});
