// The one WebGPU device of this process: adapter selection, limits, features, error surfacing,
// and the replacement for node-webgpu's busy `setImmediate` polling.
//
// Environment variables (read once, before the driver loads):
//   WEBGPU_BACKEND        Dawn backend: vulkan | opengl | opengles | d3d12 | metal | null (default: Dawn's choice)
//   WEBGPU_ADAPTER        substring of the adapter description/device/vendor to pick (default: first adapter)
//   WEBGPU_POWER          high-performance | low-power (default: high-performance)
//   WEBGPU_VECTOR_WIDTH   lavapipe only: 256 (default, 8-wide subgroups) or 512 (16-wide subgroups).
//                         512 gives +50% to broadcast-style matmul but -47% to load-heavy kernels, so the
//                         engine leaves the driver's default unless asked; an explicit LP_NATIVE_VECTOR_WIDTH wins.
//                         A process with a width set (either variable) keeps Mesa's shader cache in a
//                         directory of its own, ~/.cache/webgpu-dl/mesa-lp<width> (see separateShaderCache),
//                         unless MESA_SHADER_CACHE_DIR is set.
import { createRequire } from 'node:module';
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { SPIN_MS, WaitHistory, forecastTarget, pollSleepMs } from './wait_plan.js';

export { pollSleepMs };

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
  isSoftware: boolean;
  /**
   * Software adapters: the threads the driver runs a dispatch's workgroups on (lavapipe: LP_NUM_THREADS,
   * else one per CPU this process may use); 0 on hardware.
   */
  driverThreads: number;
  subgroupSize: number;
  features: string[];
  limits: Record<string, number>;
}

/** Limits the engine relies on, requested at the adapter's own maxima. */
export const RELIED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxTextureDimension2D',
  'maxUniformBufferBindingSize',
] as const;

const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

export interface DeviceContext {
  device: GPUDevice;
  adapter: GPUAdapter;
  summary: AdapterSummary;
  features: Set<string>;
  limits: Record<string, number>;
}

// Strong module-level references: if the object returned by create() is garbage-collected,
// Node segfaults some awaits later, so it lives as long as the process.
let gpuInstance: GPU | null = null;
let ctx: DeviceContext | null = null;
let initPromise: Promise<DeviceContext> | null = null;
let lostReason: string | null = null;
const pendingErrors: string[] = [];

function dawnOptions(): string[] {
  // Dawn rounds timestamp queries down to multiples of 2^16 ns by default (a browser's guard against
  // timing attacks): the kernel profiler then read 0 for short kernels on a GPU
  const opts: string[] = ['disable-dawn-features=timestamp_quantization'];
  const backend = process.env.WEBGPU_BACKEND;
  if (backend) opts.push(`backend=${backend}`);
  return opts;
}

function loadDawn(): { create: (o: string[]) => GPU; globals: object } {
  const w = process.env.WEBGPU_VECTOR_WIDTH;
  if (w !== undefined && process.env.LP_NATIVE_VECTOR_WIDTH === undefined) {
    if (w !== '256' && w !== '512') throw new Error(`WEBGPU_VECTOR_WIDTH: expected 256 or 512, got '${w}'`);
    process.env.LP_NATIVE_VECTOR_WIDTH = w;
  }
  separateShaderCache();
  const require = createRequire(import.meta.url);
  // The package's ESM entry does the same require; going through it keeps its buffer-unmap patch.
  const path = require.resolve('webgpu');
  const dir = path.slice(0, path.lastIndexOf('/'));
  const arch = process.platform === 'darwin' ? 'universal' : process.arch;
  return require(`${dir}/dist/${process.platform}-${arch}/dawn.node`);
}

/**
 * Mesa's on-disk shader cache does not key lavapipe's compiled code on LP_NATIVE_VECTOR_WIDTH: a
 * 512-bit process loads code a 256-bit process cached before it, and its texture GEMMs then return
 * garbage (Mesa 25.0.7, Zen 4: every 16-lane texture variant wrong, relative errors of 1 and NaN,
 * once an 8-lane texture GEMM had filled the cache; right with the cache off or empty). So a process
 * whose width is set caches in a directory of its own for that width, unless MESA_SHADER_CACHE_DIR says
 * where; processes at the driver's default keep Mesa's default cache.
 */
function separateShaderCache(): void {
  const w = process.env.LP_NATIVE_VECTOR_WIDTH;
  if (w === undefined || process.env.MESA_SHADER_CACHE_DIR !== undefined) return;
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  process.env.MESA_SHADER_CACHE_DIR = join(base, 'webgpu-dl', `mesa-lp${w.replace(/[^0-9A-Za-z]/g, '_')}`);
}

function softwareThreads(): number {
  const set = Number(process.env.LP_NUM_THREADS);
  return Number.isInteger(set) && set > 0 ? set : availableParallelism();
}

function summarize(adapter: GPUAdapter, backend: string): AdapterSummary {
  const info = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  const limits: Record<string, number> = {};
  for (const k of RELIED_LIMITS) limits[k] = (adapter.limits as unknown as Record<string, number>)[k];
  const isSoftware = /llvmpipe|lavapipe|swiftshader|software/i.test(`${info.architecture} ${info.description} ${info.device}`);
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    backend,
    isSoftware,
    driverThreads: isSoftware ? softwareThreads() : 0,
    subgroupSize: info.subgroupMinSize ?? 0,
    features: [...adapter.features].filter((f) => (OPTIONAL_FEATURES as readonly string[]).includes(f)),
    limits,
  };
}

async function pickAdapter(gpu: GPU): Promise<GPUAdapter> {
  const power = (process.env.WEBGPU_POWER as GPUPowerPreference | undefined) ?? 'high-performance';
  if (power !== 'high-performance' && power !== 'low-power') {
    throw new Error(`WEBGPU_POWER: expected high-performance or low-power, got '${power}'`);
  }
  const want = process.env.WEBGPU_ADAPTER;
  const candidates: GPUAdapter[] = [];
  const first = await gpu.requestAdapter({ powerPreference: power });
  if (first) candidates.push(first);
  const other = await gpu.requestAdapter({ powerPreference: power === 'low-power' ? 'high-performance' : 'low-power' });
  if (other) candidates.push(other);
  const fallback = await gpu.requestAdapter({ forceFallbackAdapter: true }).catch(() => null);
  if (fallback) candidates.push(fallback);
  if (candidates.length === 0) {
    throw new Error(
      'WebGPU: no adapter found. On a CPU-only Debian machine install Mesa >= 24 lavapipe and the Vulkan loader ' +
        '(`npm run setup` does this: mesa-vulkan-drivers and libvulkan1 from bookworm-backports); ' +
        'on a GPU machine install its Vulkan driver. WEBGPU_BACKEND selects a Dawn backend.',
    );
  }
  if (!want) return candidates[0];
  const match = candidates.find((a) => {
    const i = a.info;
    return `${i.vendor} ${i.architecture} ${i.device} ${i.description}`.toLowerCase().includes(want.toLowerCase());
  });
  if (!match) {
    const names = candidates.map((a) => `'${a.info.description || a.info.device}'`).join(', ');
    throw new Error(`WEBGPU_ADAPTER='${want}' matches no adapter; found ${names}`);
  }
  return match;
}

async function init(): Promise<DeviceContext> {
  const dawn = loadDawn();
  Object.assign(globalThis, dawn.globals);
  gpuInstance = dawn.create(dawnOptions());
  const adapter = await pickAdapter(gpuInstance);
  const requiredLimits: Record<string, number> = {};
  for (const k of RELIED_LIMITS) requiredLimits[k] = (adapter.limits as unknown as Record<string, number>)[k];
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'webgpu-dl' });
  device.lost.then((info) => {
    lostReason = `${info.reason}: ${info.message}`;
  });
  device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
    const kind = ev.error.constructor?.name ?? 'GPUError';
    pendingErrors.push(`${kind}: ${ev.error.message}`);
  };
  const backend = process.env.WEBGPU_BACKEND ?? (process.platform === 'darwin' ? 'metal' : process.platform === 'win32' ? 'd3d12' : 'vulkan');
  const limits: Record<string, number> = {};
  for (const k in device.limits) limits[k] = (device.limits as unknown as Record<string, number>)[k];
  ctx = { device, adapter, summary: summarize(adapter, backend), features: new Set(device.features), limits };
  return ctx;
}

/** Initializes the device (once per process). Every op awaits nothing: call this before the first op. */
export function initDevice(): Promise<DeviceContext> {
  if (!initPromise) initPromise = init();
  return initPromise;
}

/** The Dawn GPU object this process uses (null before initDevice), e.g. to hand to another WebGPU library. */
export const gpuObject = (): GPU | null => gpuInstance;

/** The device, synchronously; ops call this. */
export function deviceContext(): DeviceContext {
  if (!ctx) {
    throw new Error('WebGPU device not initialized: `await initDevice()` (or `await ready()`) before the first op');
  }
  checkDeviceHealthy('op');
  return ctx;
}

export function isDeviceReady(): boolean {
  return ctx !== null;
}

/** Throws the first GPU error reported since the last check, naming `where`. */
export function checkDeviceHealthy(where: string): void {
  if (lostReason) throw new Error(`${where}: the GPU device was lost (${lostReason})`);
  if (pendingErrors.length) {
    const msg = pendingErrors.splice(0).join('\n');
    throw new Error(`${where}: WebGPU reported an error: ${msg}`);
  }
}

// --- Hybrid polling -------------------------------------------------------------------------
// While a GPU promise is pending, node-webgpu re-schedules its event processing with the global
// `setImmediate`, which keeps one core busy; on a 2-core machine that halves kernel throughput.
// During the engine's own waits the global is swapped for a hybrid: real setImmediate for the
// first ~0.1 ms of a wait (short round trips stay fast; a longer spin takes a core from the driver
// while short kernels run: a 0.5-ms spin made a 256^3 matmul waited for alone take 1.25 ms against
// 0.79), then the thread sleeps between polls (Atomics.wait, the core is freed) as engine/wait_plan.ts
// decides: a tenth of the time waited so far, or through most of a forecast for work seen before. The
// previous fallback, setTimeout(0), polled every ~1.1 ms whatever the wait: a 0.6-ms matmul waited
// ~1.9 ms (bench/NOTES.md "Waiting for the GPU").
const realSetImmediate = globalThis.setImmediate;
const realClearImmediate = globalThis.clearImmediate;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
let activeWaits = 0;
let waitStart = 0;
let waitForecast = 0;
let waitPolls = 0;
// whether the outermost wait polled past its forecast's share (if not, its time is censored)
let waitPolledPastTarget = false;
const waitHistory = new WaitHistory();
/** What the last wait to end forecast, took, and how often the thread slept before polling. */
export interface WaitRecord {
  where: string;
  workKey: number | undefined;
  forecastMs: number;
  tookMs: number;
  /** what the wait recorded for its key's forecasts (less than tookMs if it was censored; NaN if none) */
  recordedMs: number;
  /** sleeps before a poll while it was the outermost wait (0 for a wait that overlapped another's start) */
  polls: number;
}
let lastWaitRecord: WaitRecord | null = null;

export function lastWait(): WaitRecord | null {
  return lastWaitRecord;
}
let forecasting = process.env.WEBGPU_WAIT_FORECAST !== '0';
export type PollMode = 'hybrid' | 'immediate' | 'timeout';
let pollMode: PollMode = process.env.WEBGPU_POLL === 'immediate' ? 'immediate' : 'hybrid';

/**
 * How the engine's waits poll: 'hybrid' (default, above); 'immediate' restores node-webgpu's busy
 * setImmediate and 'timeout' the previous setTimeout(0) fallback (comparison benchmarks).
 */
export function setPollMode(mode: PollMode): void {
  pollMode = mode;
}

/**
 * Whether waits for work seen before sleep through its forecast (default on; WEBGPU_WAIT_FORECAST=0
 * turns it off). While off, waits are neither forecast nor recorded.
 */
export function setWaitForecasts(on: boolean): void {
  forecasting = on;
}

function hybridSetImmediate(cb: (...a: unknown[]) => void, ...args: unknown[]): unknown {
  const waited = performance.now() - waitStart;
  // a wait forecast to last past the spin sleeps at once
  const target = forecastTarget(waitForecast);
  if (waited < SPIN_MS && target === 0) return realSetImmediate(cb, ...args);
  if (pollMode === 'timeout') return setTimeout(cb, 0, ...args);
  waitPolls++;
  if (target > 0 && waited >= target) waitPolledPastTarget = true;
  Atomics.wait(sleeper, 0, 0, pollSleepMs(waited, waitForecast));
  return realSetImmediate(cb, ...args);
}
function hybridClearImmediate(h: unknown): void {
  if (h && typeof h === 'object' && '_onImmediate' in (h as object)) realClearImmediate(h as NodeJS.Immediate);
  else clearTimeout(h as NodeJS.Timeout);
}

/**
 * Awaits a GPU promise with hybrid polling and surfaces GPU errors naming `where`. `workKey` names the
 * work waited for (see engine/wait_plan.ts): waits with a key seen before sleep through most of the
 * time that work took.
 */
export async function gpuWait<T>(p: Promise<T>, where: string, workKey?: number): Promise<T> {
  // whether this wait took part in the swap, fixed at its start (setPollMode may change between)
  const swapped = pollMode !== 'immediate';
  const start = performance.now();
  // forecasts shape the hybrid poll's sleeps; the comparison modes poll as they always did
  const keyed = forecasting && workKey !== undefined && pollMode === 'hybrid';
  const forecastMs = keyed ? waitHistory.forecast(workKey) : 0;
  let outermost = false;
  if (swapped) {
    if (activeWaits++ === 0) {
      outermost = true;
      waitStart = start;
      waitPolls = 0;
      waitPolledPastTarget = false;
      // the first of overlapping waits sets the forecast
      waitForecast = forecastMs;
      (globalThis as { setImmediate: unknown }).setImmediate = hybridSetImmediate;
      (globalThis as { clearImmediate: unknown }).clearImmediate = hybridClearImmediate;
    }
  }
  try {
    const value = await p;
    const tookMs = performance.now() - start;
    const censored = outermost && forecastTarget(forecastMs) > 0 && !waitPolledPastTarget;
    const recordedMs = keyed ? waitHistory.record(workKey, tookMs, censored) : NaN;
    lastWaitRecord = { where, workKey, forecastMs, tookMs, recordedMs, polls: outermost ? waitPolls : 0 };
    return value;
  } catch (e) {
    checkDeviceHealthy(where);
    throw new Error(`${where}: ${(e as Error).message}`);
  } finally {
    if (swapped && --activeWaits === 0) {
      globalThis.setImmediate = realSetImmediate;
      globalThis.clearImmediate = realClearImmediate;
    }
    checkDeviceHealthy(where);
  }
}
