// engine/device.ts polling: every poll mode waits for the GPU and gets the right result, the global
// setImmediate / clearImmediate that node-webgpu polls through are swapped only during the engine's
// waits (and restored after a wait that fails), and the hybrid mode's sleep between polls follows its
// schedule: a tenth of the time waited, 0.05 to 2 ms, or, for work seen before, through most of the
// time its last waits took (engine/wait_plan.ts).
import { expect } from 'chai';
import * as E from '../../engine/index.js';
import { gpuWait, lastWait, pollSleepMs, setPollMode, setWaitForecasts, type PollMode } from '../../engine/device.js';
import { EMPTY_KEY, WaitHistory, mixKey } from '../../engine/wait_plan.js';
import { assertClose, randomData, scaledTol } from '../helpers.js';
import { refMatmul } from '../kernels/ref.js';

/** The last of `count` products a @ b encoded back to back (the others disposed): queued work to wait for. */
function queuedProducts(a: E.Tensor, b: E.Tensor, count: number): E.Tensor {
  let c = E.matmul(a, b);
  for (let i = 1; i < count; i++) {
    const next = E.matmul(a, b);
    c.dispose();
    c = next;
  }
  return c;
}

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
        const c = queuedProducts(a, b, 21);
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

  it('with a forecast, the sleep runs to 90% of it in chunks of 25 ms, then polls every 0.5% of it and more', () => {
    expect(pollSleepMs(0, 100)).to.equal(25);
    expect(pollSleepMs(80, 100)).to.be.closeTo(10, 1e-12);
    expect(pollSleepMs(90, 100)).to.be.closeTo(0.5, 1e-12);
    // then the sleeps grow by a twentieth of the time since 90%, up to 2 ms
    expect(pollSleepMs(100, 100)).to.be.closeTo(1, 1e-12);
    expect(pollSleepMs(110, 100)).to.be.closeTo(1.5, 1e-12);
    expect(pollSleepMs(300, 100)).to.equal(2);
    // forecasts under 4 ms are not used: the plain schedule
    expect(pollSleepMs(0.95, 1)).to.equal(pollSleepMs(0.95));
    expect(pollSleepMs(3, 3.99)).to.equal(pollSleepMs(3));
    expect(pollSleepMs(0, 4)).to.be.closeTo(3.6, 1e-12);
  });

  it('the forecast is the fastest of the last three waits for the same key', () => {
    const h = new WaitHistory();
    expect(h.forecast(7)).to.equal(0);
    for (const ms of [10, 5, 7]) h.record(7, ms);
    expect(h.forecast(7)).to.equal(5);
    h.record(7, 8);
    expect(h.forecast(7), 'the oldest (10) dropped').to.equal(5);
    h.record(7, 9);
    expect(h.forecast(7), '5 dropped: 7, 8, 9 remain').to.equal(7);
    expect(h.forecast(8)).to.equal(0);
    expect(h.record(8, NaN)).to.be.NaN;
    expect(h.forecast(8), 'a NaN is not recorded').to.equal(0);
    // a wait that found its work done at its first poll past the forecast records a fifth less
    expect(h.record(9, 10, true)).to.be.closeTo(8, 1e-12);
    expect(h.forecast(9)).to.be.closeTo(8, 1e-12);
  });

  it('work keys depend on every value and their order', () => {
    expect(mixKey(EMPTY_KEY)).to.equal(EMPTY_KEY);
    expect(mixKey(EMPTY_KEY, 1, 2)).to.equal(mixKey(mixKey(EMPTY_KEY, 1), 2));
    expect(mixKey(EMPTY_KEY, 1, 2)).to.not.equal(mixKey(EMPTY_KEY, 2, 1));
    expect(mixKey(EMPTY_KEY, 256)).to.not.equal(mixKey(EMPTY_KEY, 1));
  });

  it('repeated work is forecast from its own earlier waits; other work is not', async () => {
    const a = E.randn([160, 96]);
    const b = E.randn([96, 72]);
    const other = E.randn([72, 40]);
    const run = async (x: E.Tensor, y: E.Tensor) => {
      E.matmul(x, y).dispose();
      await E.sync();
      return lastWait()!;
    };
    try {
      await run(a, b); // first use: tuning and compiles
      await run(b, other);
      // three waits fill the key's history, so each forecast below is exactly the fastest of the last
      // three this test saw (the first use's wait, with uploads and tuning, may or may not share the key)
      const first = await run(a, b);
      const seen = [first.recordedMs];
      for (let i = 0; i < 6; i++) {
        const w = await run(a, b);
        expect(w.workKey, 'the same work keys the same').to.equal(first.workKey);
        if (i >= 2) {
          expect(w.forecastMs, `wait ${i + 2}: the fastest of the last three`).to.equal(Math.min(...seen.slice(-3)));
          expect(w.recordedMs, 'recorded: what it took, or a fifth less if censored').to.be.oneOf([w.tookMs, w.tookMs * 0.8]);
        }
        seen.push(w.recordedMs);
      }
      const o = await run(b, other);
      expect(o.workKey).to.not.equal(first.workKey);
      expect(o.forecastMs, 'other work keeps its own history').to.be.greaterThan(0);
      expect(o.forecastMs).to.not.equal(Math.min(...seen.slice(-3)));
      setWaitForecasts(false);
      const off = await run(a, b);
      expect(off.forecastMs, 'forecasts off').to.equal(0);
      expect(off.recordedMs, 'forecasts off').to.be.NaN;
      setWaitForecasts(true);
      const back = await run(a, b);
      expect(back.forecastMs, 'a wait while forecasts were off was not recorded').to.equal(Math.min(...seen.slice(-3)));
      // a readback of the product is keyed as well, and gets its value right under a forecast
      const ref = refMatmul(await a.toArray(), await b.toArray(), 160, 72, 96);
      for (let i = 0; i < 3; i++) {
        const c = E.matmul(a, b);
        const got = await c.toArray();
        c.dispose();
        if (i > 0) expect(lastWait()!.forecastMs, 'readback forecast').to.be.greaterThan(0);
        assertClose(got, ref, scaledTol(ref), 'matmul read back under a forecast');
      }
    } finally {
      setWaitForecasts(true);
      [a, b, other].forEach((t) => t.dispose());
    }
  });

  it('a wait long enough to be forecast sleeps through most of it and still returns the right product', async () => {
    const n = 320;
    const A = randomData(n * n, 815);
    const B = randomData(n * n, 816);
    const ref = refMatmul(A, B, n, n, n);
    const a = E.tensor(A, [n, n]);
    const b = E.tensor(B, [n, n]);
    try {
      // the first wait also carries the uploads of a and b, so its work has a key of its own: it is
      // not counted (counting it made the check depend on whether it happened to be the slowest)
      const warm = queuedProducts(a, b, 7);
      assertClose(await warm.toArray(), ref, scaledTol(ref), 'warm-up wait');
      warm.dispose();
      const recorded: number[] = [];
      let key: number | undefined;
      for (let i = 0; i < 6; i++) {
        // a few products of work in one wait: several ms on a CPU driver
        const c = queuedProducts(a, b, 7);
        const got = await c.toArray();
        c.dispose();
        const w = lastWait()!;
        assertClose(got, ref, scaledTol(ref), `wait ${i + 1}`);
        if (i === 0) key = w.workKey;
        expect(w.workKey, `wait ${i + 1}: the same work keys the same`).to.equal(key);
        // earlier tests may have left waits of this work in its history, so until three of this
        // test's waits are recorded the forecast is at most their fastest; from then on it is exactly it
        if (i >= 3) {
          expect(w.forecastMs, `wait ${i + 1}: forecast from the last three`).to.equal(Math.min(...recorded.slice(-3)));
        } else if (i > 0) {
          expect(w.forecastMs, `wait ${i + 1}: forecast at most the fastest seen`).to.be.at.most(Math.min(...recorded));
        }
        // where the work takes 4 ms or more (every CPU driver), the forecast is in use and the wait
        // records either what it took or, censored, a fifth less
        if (w.forecastMs >= 4) expect(w.recordedMs).to.be.oneOf([w.tookMs, w.tookMs * 0.8]);
        recorded.push(w.recordedMs);
      }
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});
