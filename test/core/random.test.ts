// Seeded random numbers: the same seed gives the same numbers; the distributions are right.
import { expect } from 'chai';
import * as E from '../../engine/index.js';

describe('random', () => {
  it('manualSeed reproduces rand and randn exactly, and a different seed differs', async () => {
    E.manualSeed(42);
    const a = await E.tidy(() => E.rand([1000])).toArray();
    const b = await E.tidy(() => E.randn([1000])).toArray();
    E.manualSeed(42);
    const a2 = await E.tidy(() => E.rand([1000])).toArray();
    const b2 = await E.tidy(() => E.randn([1000])).toArray();
    expect(Array.from(a2)).to.deep.equal(Array.from(a));
    expect(Array.from(b2)).to.deep.equal(Array.from(b));
    E.manualSeed(43);
    const a3 = await E.tidy(() => E.rand([1000])).toArray();
    expect(Array.from(a3)).to.not.deep.equal(Array.from(a));
  });

  it('has the right moments: uniform in [0, 1), normal mean 0 var 1', () => {
    const r = new E.Rng(5);
    const u = r.uniformArray(200000);
    const n = r.normalArray(200000);
    const mean = (x: Float32Array) => x.reduce((s, v) => s + v, 0) / x.length;
    const vr = (x: Float32Array) => {
      const m = mean(x);
      return x.reduce((s, v) => s + (v - m) ** 2, 0) / x.length;
    };
    expect(u.reduce((m, v) => Math.min(m, v), 1)).to.be.at.least(0);
    expect(u.reduce((m, v) => Math.max(m, v), 0)).to.be.below(1);
    expect(mean(u)).to.be.closeTo(0.5, 0.005);
    expect(vr(u)).to.be.closeTo(1 / 12, 0.002);
    expect(mean(n)).to.be.closeTo(0, 0.01);
    expect(vr(n)).to.be.closeTo(1, 0.01);
  });

  it('state() / setState() resumes the exact sequence', () => {
    const r = new E.Rng(9);
    r.normal();
    const st = r.state();
    const seq = [r.uniform(), r.normal(), r.nextU32()];
    const r2 = new E.Rng(0);
    r2.setState(st);
    expect([r2.uniform(), r2.normal(), r2.nextU32()]).to.deep.equal(seq);
  });
});
