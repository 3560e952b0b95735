// LARS as SimCLR uses it (You et al. 2017; SimCLR's lars_optimizer.py with classic momentum):
// momentum 0.9, trust coefficient (eta) 0.001, weight decay added to the gradient; groups with
// `adapt: false` and `weightDecay: 0` exclude BN and bias parameters from both, as SimCLR does.
// Kernel: shaders/optim_lars.wgsl, one dispatch (one workgroup) per tensor, norms reduced on the GPU.
import { dispatch } from '../commands.js';
import { kernel, shaderSource } from '../kernels.js';
import type { Tensor } from '../tensor.js';
import { checkNumber, Optimizer, withOptions, type GroupSpec, type ParamState } from './optimizer.js';

export type LARSOptions = {
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Trust coefficient. */
  eta: number;
  nesterov: boolean;
  /** Layer-wise adaptation (false for BN and bias parameters). */
  adapt: boolean;
};

export class LARS extends Optimizer<LARSOptions> {
  readonly type = 'LARS';
  constructor(params: Tensor[] | GroupSpec<LARSOptions>[], options: Partial<LARSOptions> = {}) {
    super(params, withOptions('LARS', { lr: 0.1, momentum: 0.9, weightDecay: 1e-6, eta: 0.001, nesterov: false, adapt: true }, options), 'LARS');
  }

  /**
   * SimCLR's grouping: parameters whose name matches `exclude` (default: batch-norm and bias
   * parameters) get no weight decay and no adaptation.
   */
  static simclrGroups(named: [string, Tensor][], exclude: RegExp = /(bn|batchnorm|norm|bias)/i): GroupSpec<LARSOptions>[] {
    const regular = named.filter(([n]) => !exclude.test(n)).map(([, t]) => t);
    const excluded = named.filter(([n]) => exclude.test(n)).map(([, t]) => t);
    const groups: GroupSpec<LARSOptions>[] = [];
    if (regular.length) groups.push({ params: regular });
    if (excluded.length) groups.push({ params: excluded, weightDecay: 0, adapt: false });
    return groups;
  }

  protected validate(h: LARSOptions, g: number): void {
    checkNumber(this.name, 'lr', h.lr, 0, Infinity, g);
    checkNumber(this.name, 'momentum', h.momentum, 0, Infinity, g);
    checkNumber(this.name, 'weightDecay', h.weightDecay, 0, Infinity, g);
    checkNumber(this.name, 'eta', h.eta, 0, Infinity, g);
  }

  protected stateNames(): string[] {
    return ['momentumBuffer'];
  }

  protected update(p: Tensor, grad: Tensor, st: ParamState, h: LARSOptions): void {
    const op = 'LARS.step';
    if (p.size === 0) return;
    const params = new Uint32Array(8);
    const f = new Float32Array(params.buffer);
    params[0] = p.size;
    params[1] = h.adapt ? 1 : 0;
    params[2] = h.nesterov ? 1 : 0;
    f[4] = h.lr;
    f[5] = h.momentum;
    f[6] = h.weightDecay;
    f[7] = h.eta;
    dispatch(kernel('optim_lars', () => shaderSource('optim_lars')), [p.buffer(op), grad.buffer(op), st.buffers.momentumBuffer.buffer(op)], params, [1]);
  }
}
