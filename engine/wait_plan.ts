// How long the engine's waits sleep between polls of the GPU (engine/device.ts polls, this decides).
//
// Without a forecast, a wait sleeps a tenth of the time waited so far, 0.05 to 2 ms: a wait of t ms is
// noticed at most about t / 10 late, and a long one wakes the thread rarely.
//
// Rarely is still often: a 175-ms product woke the thread ~100 times, and each wake takes a core from
// the driver's threads (lavapipe runs the kernel on both cores of this machine) for tens of µs, then
// noticed the end up to 2 ms late. Most waits repeat: a benchmark's timed runs, a training loop's steps.
// So a wait may carry a key for its work (engine/commands.ts keys the kernels and sizes encoded since
// the previous wait), and a wait whose key was seen before sleeps straight through most of the time the
// last few waits for that work took (in sleeps of at most SLEEP_CHUNK_MS, so the thread still answers
// the event loop that often), then polls finely. A forecast that is too short falls back to the
// schedule above. One that is too long (the work got faster) makes the wait late, and the time it
// records is then the forecast's share, not the work's: so a wait that found its work done at the first
// poll after the long sleep records a fifth less than it took, and the forecast (the fastest of the
// last HISTORY waits) comes down to the work's time within a few waits. Waits forecast under
// FORECAST_MIN_MS keep the plain schedule: there a sleep's own overshoot (~0.1 ms) is a tenth of the
// wait, and their few polls cost little (bench/NOTES.md "Waits that know their work").

export const SPIN_MS = 0.1;
const SLEEP_FRACTION = 0.1;
const SLEEP_MIN_MS = 0.05;
const SLEEP_MAX_MS = 2;
/** The share of the forecast slept through before fine polling starts. */
const FORECAST_SHARE = 0.9;
/** Past the share, the sleep starts at this fraction of the forecast... */
const FINE_POLL = 0.005;
/** ...and grows by this fraction of the time since the share was reached. */
const FINE_GROWTH = 0.05;
/** Shorter forecasts are not used. */
const FORECAST_MIN_MS = 4;
/** What a wait that found its work done at its first poll past the forecast's share records, per ms it took. */
export const CENSORED_SHRINK = 0.8;
/** The longest single sleep while sleeping through a forecast. */
export const SLEEP_CHUNK_MS = 25;
const HISTORY = 3;
const MAX_KEYS = 4096;

/** Where a wait with this forecast stops sleeping through it and polls finely; 0: the forecast is not used. */
export function forecastTarget(forecastMs: number): number {
  return forecastMs >= FORECAST_MIN_MS ? FORECAST_SHARE * forecastMs : 0;
}

/**
 * The sleep before the next poll of a wait that began `waitedMs` ago (past the spin), given the
 * forecast duration of its work (0: none). Past the forecast's share, polls come every 0.5% of the
 * forecast at first (each poll costs the driver tens of µs of a core; each millisecond between them,
 * half a millisecond of lateness on average), the sleeps growing by a twentieth of the time since
 * the share was reached, so a forecast that was short by a fifth still costs few polls.
 */
export function pollSleepMs(waitedMs: number, forecastMs = 0): number {
  const target = forecastTarget(forecastMs);
  if (target > 0) {
    if (waitedMs < target) return Math.min(target - waitedMs, SLEEP_CHUNK_MS);
    return Math.min(SLEEP_MAX_MS, Math.max(SLEEP_MIN_MS, FINE_POLL * forecastMs + FINE_GROWTH * (waitedMs - target)));
  }
  return Math.min(SLEEP_MAX_MS, Math.max(SLEEP_MIN_MS, SLEEP_FRACTION * waitedMs));
}

/** Durations of recent waits by the key of their work. */
export class WaitHistory {
  private readonly byKey = new Map<number, number[]>();

  /** The forecast for work with this key: the fastest of its last waits, or 0 if none was seen. */
  forecast(key: number): number {
    const seen = this.byKey.get(key);
    return seen ? Math.min(...seen) : 0;
  }

  /**
   * Records a wait of `ms`. `censored`: it slept through a forecast and found the work done at the
   * first poll after, so the work took less than `ms` by an unknown amount. Returns what it recorded
   * (NaN for a time that is not a finite number of ms).
   */
  record(key: number, ms: number, censored = false): number {
    if (!(ms >= 0) || !Number.isFinite(ms)) return NaN;
    if (censored) ms *= CENSORED_SHRINK;
    let seen = this.byKey.get(key);
    if (!seen) {
      if (this.byKey.size >= MAX_KEYS) this.byKey.clear();
      this.byKey.set(key, (seen = []));
    }
    seen.push(ms);
    if (seen.length > HISTORY) seen.shift();
    return ms;
  }
}

/** The key of no work; mixKey folds work into it. */
export const EMPTY_KEY = 0x811c9dc5;

/** Folds numbers into a 32-bit key (FNV-1a over the bytes of their low 32 bits). */
export function mixKey(key: number, ...values: number[]): number {
  let h = key >>> 0;
  for (const v of values) {
    let x = v >>> 0;
    for (let i = 0; i < 4; i++) {
      h = Math.imul(h ^ (x & 0xff), 0x01000193) >>> 0;
      x >>>= 8;
    }
  }
  return h;
}
