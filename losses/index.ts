// The contrastive losses, exported from the package root.
export { ntXent, type NTXentOptions } from './ntxent.js';
export { infoNCE, type InfoNCEOptions } from './infonce.js';
export { MoCoQueue, type MoCoQueueOptions } from './moco_queue.js';
export { clipLoss, CLIP_MAX_SCALE } from './clip.js';
export { supConLoss, type SupConOptions } from './supcon.js';
export { ntXentReference, infoNCEReference, clipLossReference, supConLossReference, l2NormalizeReference } from './reference.js';
export { NORM_EPS } from './contrastive.js';
