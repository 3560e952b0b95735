export { Optimizer, type ParamGroup, type GroupSpec, type OptimizerStateDict } from './optimizer.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { SGD, type SGDOptions } from './sgd.js';
export { LARS, type LARSOptions } from './lars.js';
export { constantSchedule, warmupCosineSchedule, LRScheduler, type Schedule } from './schedules.js';
