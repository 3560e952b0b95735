// The kernel profiler (engine/profile.ts): GPU time per kernel from timestamp queries around each
// dispatch, counted per kernel over command batches; it must not change any result.
import { expect } from 'chai';
import * as E from '../../engine/index.js';

function hasTimestamps(): boolean {
  return E.deviceContext().features.has('timestamp-query');
}

describe('kernel profiler', () => {
  before(function () {
    // lavapipe and the GPUs this project runs on all have the feature; an adapter without it is a
    // different test (the error below)
    if (!hasTimestamps()) throw new Error('this adapter has no timestamp-query; the profiler tests need it');
  });

  it('counts every dispatch per kernel, across more than one command batch, with positive times', async () => {
    const a = E.randn([37, 29]);
    const b = E.randn([29, 41]);
    await E.sync();
    E.startProfile();
    const adds = 300; // more than one batch of 256 dispatches
    let s = E.add(a, a);
    for (let i = 1; i < adds; i++) {
      const t = E.add(s, a);
      s.dispose();
      s = t;
    }
    const m = E.matmul(a, b);
    const rows = await E.stopProfile();
    const addRow = rows.find((r) => r.kernel.startsWith('map:add:'));
    expect(addRow, rows.map((r) => r.kernel).join('\n')).to.not.equal(undefined);
    expect(addRow!.calls).to.equal(adds);
    const gemm = rows.filter((r) => r.kernel.startsWith('gemm:matmul:') || r.kernel.startsWith('matmul_'));
    expect(gemm.reduce((n, r) => n + r.calls, 0), 'matmul product kernels').to.be.at.least(1);
    for (const r of rows) expect(r.totalMs, r.kernel).to.be.greaterThan(0);
    for (let i = 1; i < rows.length; i++) expect(rows[i].totalMs).to.be.at.most(rows[i - 1].totalMs);
    // the values are the unprofiled ones: a + a, then adds - 1 more a's, and the product
    const sv = await s.toArray();
    const av = await a.toArray();
    for (let i = 0; i < av.length; i++) expect(sv[i]).to.be.closeTo((adds + 1) * av[i], 1e-4 * adds * Math.abs(av[i]) + 1e-5);
    const again = E.matmul(a, b);
    expect(Array.from(await m.toArray())).to.deep.equal(Array.from(await again.toArray()));
    [a, b, s, m, again].forEach((t) => t.dispose());
  });

  it('times are not quantized (Dawn rounds timestamps to multiples of 65536 ns unless told not to)', async () => {
    const x = E.randn([5, 7]);
    const ns: number[] = [];
    for (let i = 0; i < 8; i++) {
      E.startProfile();
      E.relu(x).dispose();
      ns.push(Math.round((await E.stopProfile())[0].totalMs * 1e6));
    }
    expect(ns.every((v) => v % 4096 === 0), `kernel times in ns: ${ns.join(', ')}`).to.equal(false);
    x.dispose();
  });

  it('a second profile starts from zero, and work after a profile is not timed', async () => {
    const x = E.randn([5, 7]);
    E.startProfile();
    E.relu(x).dispose();
    const first = await E.stopProfile();
    expect(first.reduce((n, r) => n + r.calls, 0)).to.equal(1);
    E.relu(x).dispose(); // not profiled
    E.startProfile();
    E.relu(x).dispose();
    E.relu(x).dispose();
    const second = await E.stopProfile();
    expect(second.length).to.equal(1);
    expect(second[0].calls).to.equal(2);
    const y = E.relu(x);
    const xv = await x.toArray();
    expect(Array.from(await y.toArray())).to.deep.equal(Array.from(xv, (v) => Math.max(v, 0)));
    x.dispose();
    y.dispose();
  });

  it('stopping without a profile, or starting one twice, is an error naming the call', async () => {
    let err: unknown;
    try {
      await E.stopProfile();
    } catch (e) {
      err = e;
    }
    expect(String(err)).to.match(/stopProfile: no profile is open/);
    E.startProfile();
    expect(() => E.startProfile()).to.throw(/startProfile: a profile is already open/);
    expect(await E.stopProfile()).to.deep.equal([]);
  });
});
