// The package root: `import { tensor, … } from 'webgpu-dl'`.
export { Tensor, type DType } from './tensor.js';
export { initDevice, initDevice as ready, deviceContext, setPollMode, setWaitForecasts, lastWait, type AdapterSummary, type PollMode, type WaitRecord } from './device.js';
export { tidy, keep } from './scope.js';
export { noGrad, isGradEnabled } from './autograd.js';
export { memoryStats, emptyCache, resetPeakMemory } from './memory.js';
export { sync, flush, commandStats, stopProfile } from './commands.js';
export { startProfile, type KernelProfileRow } from './profile.js';
export { manualSeed, Rng, globalRng } from './random.js';
export { checkOptions, optionKeys } from './options.js';
export * from './ops/index.js';
export * from '../data/index.js';
export { conv2d, type Conv2dOptions } from './ops/conv2d.js';
export { batchNorm2d, batchNorm2dRelu, type BatchNormOptions } from './ops/batchnorm.js';
export { maxPool2d, avgPool2d, adaptiveAvgPool2d, type MaxPool2dOptions, type AvgPool2dOptions } from './ops/pool.js';
export * from './optim/index.js';
export * from '../losses/index.js';
