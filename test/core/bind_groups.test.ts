// The bind-group cache of engine/commands.ts: a kernel dispatched again on the same buffers reuses
// its bind group, while each dispatch still reads its own parameters (a dynamic offset into the
// batch's parameter buffer), within one batch and across batches; emptyCache drops the cache with
// the buffers it destroys.
import { expect } from 'chai';
import * as E from '../../engine/index.js';

describe('bind groups are reused and parameters stay per dispatch', () => {
  it('slices of one tensor copied in one batch and across batches give their own rows', async () => {
    const rows = 5;
    const cols = 7;
    const data = Float32Array.from({ length: rows * cols }, (_, i) => i * 0.5 - 3);
    const x = E.tensor(data, [rows, cols]);
    for (const batches of [1, 2]) {
      const before = E.commandStats().bindGroupsCreated;
      const outs: E.Tensor[] = [];
      for (let r = 0; r < rows; r++) {
        // the same copy kernel on the same input; the offset of the row is a parameter
        const v = E.slice(x, 0, r, r + 1);
        outs.push(E.contiguous(v));
        v.dispose();
        if (batches === 2 && r === 2) E.flush();
      }
      const created = E.commandStats().bindGroupsCreated - before;
      // one output buffer per row (all live), so at most one bind group per row; on the second pass
      // the same pooled buffers come back and no bind group is created
      if (batches === 1) expect(created).to.be.at.most(rows);
      else expect(created, 'bind groups created on the second pass').to.equal(0);
      for (let r = 0; r < rows; r++) expect(Array.from(await outs[r].toArray())).to.deep.equal(Array.from(data.slice(r * cols, (r + 1) * cols)));
      outs.forEach((t) => t.dispose());
    }
    x.dispose();
  });

  it('the same buffers with different parameters in one batch: each dispatch sees its own', async () => {
    const x = E.tensor([1, 2, 3, 4, 5, 6], [6]);
    const before = E.commandStats().bindGroupsCreated;
    const sums: E.Tensor[] = [];
    for (let len = 1; len <= 6; len++) {
      const v = E.slice(x, 0, 0, len);
      sums.push(E.sum(v));
      v.dispose();
    }
    const values = await Promise.all(sums.map(async (t) => (await t.toArray())[0]));
    expect(values).to.deep.equal([1, 3, 6, 10, 15, 21]);
    expect(E.commandStats().bindGroupsCreated - before).to.be.greaterThan(0);
    sums.forEach((t) => t.dispose());
    x.dispose();
  });

  it('emptyCache destroys pooled buffers and forgets their bind groups: later work is still correct', async () => {
    const a = E.tensor([1, 2, 3], [3]);
    E.add(a, a).dispose();
    await E.sync();
    E.emptyCache();
    const y = E.add(a, a);
    expect(Array.from(await y.toArray())).to.deep.equal([2, 4, 6]);
    y.dispose();
    a.dispose();
  });
});
