// The bench's interleaved timing (bench/tfjs.ts interleave) with made-up timers: the compared columns
// alternate round by round, a column named in `apart` runs only after those rounds, every column's
// repetitions are calibrated to the minimum run length, and each result is the median of its runs,
// which the caller can also have one by one.
import { expect } from 'chai';
import { timeGpu } from '../../bench/harness.js';
import { interleave, type Timer } from '../../bench/tfjs.js';

/** A timer that logs each call as `name:iters` and returns the next of `times` (cycling). */
function fake(name: string, log: string[], times: number[]): Timer {
  let i = 0;
  return async (iters) => {
    log.push(`${name}:${iters}`);
    return times[i++ % times.length];
  };
}

describe('bench: interleaved timing', () => {
  it('alternates the compared columns and times an apart column after their rounds', async () => {
    const log: string[] = [];
    // calls: warm-up, calibration, a warm-up at the timed size (99: no timed run may read it), then 3
    // runs; 'ours' lasts 2 ms a call (10 repetitions for 20 ms), 'tfjs' 5 ms (4), 'naive' 40 ms (1)
    const timers = {
      ours: fake('ours', log, [2, 2, 99, 3, 1, 2]),
      naive: fake('naive', log, [40, 40, 50, 45, 41]),
      tfjs: fake('tfjs', log, [5, 5, 99, 9, 4, 6]),
    };
    const samples: Record<string, number[]> = {};
    const med = await interleave(timers, { warmup: 1, runs: 3, minMs: 20, apart: ['naive'], samples });
    expect(log).to.deep.equal([
      'ours:1', 'tfjs:1', // warm-up
      'ours:1', 'tfjs:1', // calibration
      'ours:10', 'tfjs:4', // warm-up at the timed size
      'ours:10', 'tfjs:4', 'ours:10', 'tfjs:4', 'ours:10', 'tfjs:4',
      'naive:1', 'naive:1', // warm-up and calibration: 1 call a run, so no warm-up at the timed size
      'naive:1', 'naive:1', 'naive:1',
    ]);
    expect(med).to.deep.equal({ ours: 2, tfjs: 6, naive: 45 });
    // the timed runs only (not the warm-ups or calibration), in the order they ran
    expect(samples).to.deep.equal({ ours: [3, 1, 2], tfjs: [9, 4, 6], naive: [50, 45, 41] });
  });

  it('without apart columns, runs every column in each round', async () => {
    const log: string[] = [];
    const med = await interleave({ a: fake('a', log, [1, 7, 3, 5]), b: fake('b', log, [30]) }, { warmup: 0, runs: 3, minMs: 10 });
    expect(log).to.deep.equal(['a:1', 'b:1', 'a:10', 'b:1', 'a:10', 'b:1', 'a:10', 'b:1']);
    expect(med).to.deep.equal({ a: 5, b: 30 });
  });

  it('timeGpu warms up at the repetition count it calibrated before its timed runs', async () => {
    // runs of 1000 s asked for: the calibration asks for the most repetitions a run allows (256)
    const log: number[] = [];
    let calls = 0;
    const fn = () => {
      calls++;
    };
    const minMs = process.env.BENCH_MIN_MS;
    process.env.BENCH_MIN_MS = '1000000';
    try {
      await timeGpu(fn, { warmup: 2, runs: 3, after: async () => void log.push(calls) });
    } finally {
      if (minMs === undefined) delete process.env.BENCH_MIN_MS;
      else process.env.BENCH_MIN_MS = minMs;
    }
    // calls done at each wait: 2 warm-ups of 1, the calibration's 1, a warm-up of 256, 3 timed runs of 256
    expect(log).to.deep.equal([1, 2, 3, 259, 515, 771, 1027]);
  });
});
