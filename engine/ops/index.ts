// Every op, re-exported for the Tensor methods and the package root.
export * from './elementwise.js';
export * from './reduce.js';
export * from './softmax.js';
export * from './shape.js';
export * from './matmul.js';
export * from './cross_entropy.js';
export * from './creation.js';
