// Host costs: polling while waiting on the GPU, node-webgpu's default (setImmediate, one core busy) vs
// the engine's hybrid poll, timed alternately in one process on the same kernel; and the host time to
// encode a small elementwise op with the bind-group cache vs a bind group per dispatch.
// Run alone: `node dist/bench/poll.js`; also a section of `npm run bench`.
import { initDevice, setPollMode } from '../engine/device.js';
import { matmul, tidy, randn } from '../engine/index.js';
import { setBindGroupCaching, sync } from '../engine/commands.js';
import { add } from '../engine/index.js';
import { median, type BenchRow } from './harness.js';

export async function runSection(): Promise<BenchRow[]> {
  await initDevice();
  const n = 512;
  const a = randn([n, n]);
  const b = randn([n, n]);
  const reps = 4;
  const times: Record<'immediate' | 'hybrid', number[]> = { immediate: [], hybrid: [] };
  const roundTrip: Record<'immediate' | 'hybrid', number[]> = { immediate: [], hybrid: [] };
  const once = async () => {
    tidy(() => {
      for (let i = 0; i < reps; i++) matmul(a, b);
    });
    await sync('bench');
  };
  await once();
  for (let r = 0; r < 7; r++) {
    for (const mode of ['immediate', 'hybrid'] as const) {
      setPollMode(mode);
      const t0 = performance.now();
      await once();
      times[mode].push(performance.now() - t0);
      const t1 = performance.now();
      for (let k = 0; k < 20; k++) await sync('bench');
      roundTrip[mode].push((performance.now() - t1) / 20);
    }
  }
  setPollMode('hybrid');
  a.dispose();
  b.dispose();
  const flops = 2 * n * n * n * reps;
  const rows: BenchRow[] = [];
  const imm = median(times.immediate);
  const hyb = median(times.hybrid);
  const gf = (ms: number) => flops / (ms * 1e6);
  rows.push({
    section: 'poll',
    name: `matmul ${n}^3 x${reps}, hybrid poll vs setImmediate`,
    ms: hyb / reps,
    value: gf(hyb),
    unit: 'GFLOP/s',
    compare: { setImmediate: { ms: imm / reps, value: gf(imm), ratio: gf(hyb) / gf(imm) } },
    extra: { roundTripMsHybrid: median(roundTrip.hybrid), roundTripMsImmediate: median(roundTrip.immediate) },
  });
  rows.push(encodeCost());
  return rows;
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
