// Host costs: polling while waiting on the GPU, node-webgpu's default (setImmediate, one core busy), the
// engine's previous fallback (setTimeout(0) after a short spin) and its hybrid poll (sleeps growing with
// the wait), timed alternately in one process on the same kernels, in batches and with a wait after
// every product; and the host time to encode a small elementwise op with the bind-group cache vs a
// bind group per dispatch; and a repeated long wait with and without the forecast of its duration.
// Run alone: `node dist/bench/poll.js`; also a section of `npm run bench`.
import { initDevice, lastWait, setPollMode, setWaitForecasts, type PollMode } from '../engine/device.js';
import { matmul, tidy, randn, type Tensor } from '../engine/index.js';
import { setBindGroupCaching, sync } from '../engine/commands.js';
import { add } from '../engine/index.js';
import { median, type BenchRow } from './harness.js';

const MODES: PollMode[] = ['immediate', 'timeout', 'hybrid'];

/** Encodes `reps` products a @ b (results dropped), then waits for the GPU once. */
async function productsWaited(a: Tensor, b: Tensor, reps: number): Promise<void> {
  tidy(() => {
    for (let i = 0; i < reps; i++) matmul(a, b);
  });
  await sync('bench');
}

export async function runSection(): Promise<BenchRow[]> {
  await initDevice();
  const n = 512;
  const a = randn([n, n]);
  const b = randn([n, n]);
  const s = 256;
  const sa = randn([s, s]);
  const sb = randn([s, s]);
  const reps = 4;
  const each = 10;
  const series = () => Object.fromEntries(MODES.map((m) => [m, [] as number[]])) as Record<PollMode, number[]>;
  const times = series();
  const roundTrip = series();
  const perSync = series();
  const once = () => productsWaited(a, b, reps);
  const waitEach = async () => {
    for (let i = 0; i < each; i++) {
      matmul(sa, sb).dispose();
      await sync('bench');
    }
  };
  await once();
  await waitEach();
  try {
    for (let r = 0; r < 7; r++) {
      for (const mode of MODES) {
        setPollMode(mode);
        const t0 = performance.now();
        await once();
        times[mode].push(performance.now() - t0);
        const t1 = performance.now();
        for (let k = 0; k < 20; k++) await sync('bench');
        roundTrip[mode].push((performance.now() - t1) / 20);
        const t2 = performance.now();
        await waitEach();
        perSync[mode].push((performance.now() - t2) / each);
      }
    }
  } finally {
    setPollMode('hybrid');
    [a, b, sa, sb].forEach((t) => t.dispose());
  }
  const flops = 2 * n * n * n * reps;
  const gf = (ms: number) => flops / (ms * 1e6);
  const med = (x: Record<PollMode, number[]>) => Object.fromEntries(MODES.map((m) => [m, median(x[m])])) as Record<PollMode, number>;
  const t = med(times);
  const w = med(perSync);
  const rt = med(roundTrip);
  const sflops = 2 * s * s * s;
  return [
    {
      section: 'poll',
      name: `matmul ${n}^3 x${reps}, hybrid poll vs setImmediate`,
      ms: t.hybrid / reps,
      value: gf(t.hybrid),
      unit: 'GFLOP/s',
      compare: {
        setImmediate: { ms: t.immediate / reps, value: gf(t.immediate), ratio: gf(t.hybrid) / gf(t.immediate) },
        setTimeout: { ms: t.timeout / reps, value: gf(t.timeout), ratio: gf(t.hybrid) / gf(t.timeout) },
      },
      extra: { roundTripMsHybrid: rt.hybrid, roundTripMsImmediate: rt.immediate, roundTripMsTimeout: rt.timeout },
    },
    {
      section: 'poll',
      name: `matmul ${s}^3 waited for one at a time, hybrid poll vs setTimeout(0)`,
      ms: w.hybrid,
      value: sflops / (w.hybrid * 1e6),
      unit: 'GFLOP/s',
      compare: {
        setTimeout: { ms: w.timeout, value: sflops / (w.timeout * 1e6), ratio: w.timeout / w.hybrid },
        setImmediate: { ms: w.immediate, value: sflops / (w.immediate * 1e6), ratio: w.immediate / w.hybrid },
      },
    },
    await forecastRow(),
    encodeCost(),
  ];
}

/**
 * The same work (matmul 1024^3 x2, ~50-100 ms on a CPU driver) waited for with and without the
 * forecast from its earlier waits (engine/wait_plan.ts), alternated; the polls of each in `extra`.
 */
async function forecastRow(): Promise<BenchRow> {
  const n = 1024;
  const reps = 2;
  const a = randn([n, n]);
  const b = randn([n, n]);
  const run = async () => {
    const t0 = performance.now();
    await productsWaited(a, b, reps);
    return performance.now() - t0;
  };
  const ms: Record<'on' | 'off', number[]> = { on: [], off: [] };
  const polls: Record<'on' | 'off', number[]> = { on: [], off: [] };
  try {
    for (let i = 0; i < 3; i++) await run();
    for (let r = 0; r < 9; r++) {
      for (const mode of ['off', 'on'] as const) {
        setWaitForecasts(mode === 'on');
        ms[mode].push(await run());
        polls[mode].push(lastWait()?.polls ?? 0);
      }
    }
  } finally {
    setWaitForecasts(true);
    a.dispose();
    b.dispose();
  }
  const on = median(ms.on);
  const off = median(ms.off);
  const flops = 2 * n ** 3 * reps;
  return {
    section: 'poll',
    name: `matmul ${n}^3 x${reps} repeated, waits with a forecast vs without`,
    ms: on / reps,
    value: flops / (on * 1e6),
    unit: 'GFLOP/s',
    compare: { 'no forecast': { ms: off / reps, value: flops / (off * 1e6), ratio: off / on } },
    extra: { pollsWithForecast: median(polls.on), pollsWithout: median(polls.off) },
  };
}

/** Host microseconds to encode `add` on [64, 64] tensors (no GPU wait inside the timing), cached vs not. */
function encodeCost(): BenchRow {
  const x = randn([64, 64]);
  const y = randn([64, 64]);
  const ops = 1000;
  const us: Record<'cached' | 'uncached', number[]> = { cached: [], uncached: [] };
  for (let r = 0; r < 8; r++) {
    for (const mode of ['cached', 'uncached'] as const) {
      setBindGroupCaching(mode === 'cached');
      const t0 = performance.now();
      for (let i = 0; i < ops; i++) add(x, y).dispose();
      if (r > 0) us[mode].push(((performance.now() - t0) * 1000) / ops); // round 0 warms up
    }
  }
  setBindGroupCaching(true);
  x.dispose();
  y.dispose();
  const c = median(us.cached);
  const u = median(us.uncached);
  return {
    section: 'poll',
    name: 'host encode of add [64,64], bind-group cache vs one per dispatch',
    ms: c / 1000,
    value: 1000 / c,
    unit: 'ops/ms',
    compare: { uncached: { ms: u / 1000, value: 1000 / u, ratio: u / c } },
    extra: { usPerOpCached: c, usPerOpUncached: u },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runSection();
  for (const r of rows) console.log(JSON.stringify(r));
  process.exit(0);
}
