// engine/device.ts polling: every poll mode waits for the GPU and gets the right result, the global
// setImmediate / clearImmediate that node-webgpu polls through are swapped only during the engine's
// waits (and restored after a wait that fails), and the hybrid mode's sleep between polls follows its
// schedule: a tenth of the time waited, 0.05 to 2 ms.
import { expect } from 'chai';
import * as E from '../../engine/index.js';
import { gpuWait, pollSleepMs, setPollMode, type PollMode } from '../../engine/device.js';
import { assertClose, randomData, scaledTol } from '../helpers.js';
import { refMatmul } from '../kernels/ref.js';

describe('polling while waiting for the GPU', () => {
  afterEach(() => setPollMode('hybrid'));

  it('each mode returns the product, with the global setImmediate restored after every wait', async () => {
    const [M, K, N] = [67, 129, 33];
    const A = randomData(M * K, 811);
    const B = randomData(K * N, 812);
    const ref = refMatmul(A, B, M, N, K);
    const a = E.tensor(A, [M, K]);
    const b = E.tensor(B, [K, N]);
    const before = [globalThis.setImmediate, globalThis.clearImmediate];
    try {
      for (const mode of ['hybrid', 'timeout', 'immediate'] as PollMode[]) {
        setPollMode(mode);
        // enough queued work that the wait outlasts the 0.1 ms spin and reaches the mode's sleeping poll
        let c = E.matmul(a, b);
        for (let i = 0; i < 20; i++) {
          const next = E.matmul(a, b);
          c.dispose();
          c = next;
        }
        const got = await c.toArray();
        c.dispose();
        assertClose(got, ref, scaledTol(ref), `matmul waited for with the ${mode} poll`);
        await E.sync();
        expect(globalThis.setImmediate, `${mode}: setImmediate restored`).to.equal(before[0]);
        expect(globalThis.clearImmediate, `${mode}: clearImmediate restored`).to.equal(before[1]);
      }
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('two waits at once share one swap of the globals, restored when the last ends', async () => {
    const a = E.randn([96, 96]);
    const before = globalThis.setImmediate;
    try {
      const c1 = E.matmul(a, a);
      const p1 = c1.toArray();
      const c2 = E.matmul(c1, a);
      const p2 = c2.toArray();
      const [r1, r2] = await Promise.all([p1, p2]);
      expect(r1.length).to.equal(96 * 96);
      expect(r2.length).to.equal(96 * 96);
      expect(globalThis.setImmediate).to.equal(before);
      [c1, c2].forEach((t) => t.dispose());
    } finally {
      a.dispose();
    }
  });

  it('switching the mode while a wait is pending still restores the globals when it ends', async () => {
    const before = globalThis.setImmediate;
    const a = E.randn([128, 128]);
    try {
      setPollMode('hybrid');
      const c = E.matmul(a, a);
      const pending = c.toArray();
      setPollMode('immediate');
      expect((await pending).length).to.equal(128 * 128);
      c.dispose();
      expect(globalThis.setImmediate, 'restored after a wait begun in hybrid mode').to.equal(before);
    } finally {
      a.dispose();
    }
  });

  it('a wait that fails names its caller and restores the globals too', async () => {
    const before = globalThis.setImmediate;
    let err: Error | null = null;
    try {
      await gpuWait(new Promise((_, reject) => setTimeout(() => reject(new Error('lost')), 3)), 'polling test');
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.equal('polling test: lost');
    expect(globalThis.setImmediate).to.equal(before);
  });

  it('the hybrid sleep is a tenth of the time waited, between 0.05 and 2 ms', () => {
    expect(pollSleepMs(0.5)).to.equal(0.05);
    expect(pollSleepMs(0.6)).to.be.closeTo(0.06, 1e-12);
    expect(pollSleepMs(7)).to.be.closeTo(0.7, 1e-12);
    expect(pollSleepMs(20)).to.equal(2);
    expect(pollSleepMs(5000)).to.equal(2);
  });
});
