// The package root: `import { tensor, … } from 'webgpu-dl'`.
export { Tensor, type DType } from './tensor.js';
export { initDevice, initDevice as ready, deviceContext, setPollMode, type AdapterSummary } from './device.js';
export { tidy, keep } from './scope.js';
export { noGrad, isGradEnabled } from './autograd.js';
export { memoryStats, emptyCache, resetPeakMemory } from './memory.js';
export { sync, flush, commandStats } from './commands.js';
export { manualSeed, Rng, globalRng } from './random.js';
export * from './ops/index.js';
export * from '../data/index.js';
