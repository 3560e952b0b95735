// Adam and AdamW, matching torch.optim (bias correction, eps outside the square root, L2 vs
// decoupled weight decay, amsgrad, maximize). Kernel: shaders/optim_adam.wgsl, one dispatch per tensor.
import { dispatch, groups1d } from '../commands.js';
import { elementMain, elementTiling, kernel, renderTemplate, shaderSource } from '../kernels.js';
import type { Tensor } from '../tensor.js';
import { checkNumber, Optimizer, withOptions, type GroupSpec, type ParamState } from './optimizer.js';

export type AdamOptions = {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
};

const ADAM_DEFAULTS: AdamOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };

function adamKernel(amsgrad: boolean) {
  return kernel(`optim_adam:${amsgrad}`, () =>
    renderTemplate(shaderSource('optim_adam'), {
      ELEMENT_MAIN: elementMain(),
      VMAX_BINDING: amsgrad ? '@group(0) @binding(5) var<storage, read_write> vmax: array<f32>;' : '',
      VHAT: amsgrad ? '  let vm = max(vmax[i], vi);\n  vmax[i] = vm;\n  let vhat = vm;' : '  let vhat = vi;',
    }),
  );
}

class AdamBase extends Optimizer<AdamOptions> {
  readonly type: string;
  constructor(params: Tensor[] | GroupSpec<AdamOptions>[], options: Partial<AdamOptions>, private readonly decoupled: boolean, name: string, defaults: AdamOptions) {
    super(params, withOptions(name, defaults, options), name);
    this.type = name;
  }

  protected validate(h: AdamOptions, g: number): void {
    checkNumber(this.name, 'lr', h.lr, 0, Infinity, g);
    checkNumber(this.name, 'beta1', h.beta1, 0, 1, g, false, true);
    checkNumber(this.name, 'beta2', h.beta2, 0, 1, g, false, true);
    checkNumber(this.name, 'eps', h.eps, 0, Infinity, g);
    checkNumber(this.name, 'weightDecay', h.weightDecay, 0, Infinity, g);
  }

  protected stateNames(h: AdamOptions): string[] {
    return h.amsgrad ? ['expAvg', 'expAvgSq', 'maxExpAvgSq'] : ['expAvg', 'expAvgSq'];
  }

  protected update(p: Tensor, grad: Tensor, st: ParamState, h: AdamOptions): void {
    const op = `${this.name}.step`;
    const bc1 = 1 - h.beta1 ** st.step;
    const bc2 = 1 - h.beta2 ** st.step;
    const params = new Uint32Array(16);
    const f = new Float32Array(params.buffer);
    const n = p.size;
    const [gx, gy] = groups1d(Math.ceil(n / elementTiling().BLOCK));
    params[0] = n;
    params[1] = gx;
    params[2] = this.decoupled ? 1 : 0;
    params[3] = h.maximize ? 1 : 0;
    f[4] = h.beta1;
    f[5] = 1 - h.beta1;
    f[6] = h.beta2;
    f[7] = 1 - h.beta2;
    f[8] = h.eps;
    f[9] = h.weightDecay;
    f[10] = -(h.lr / bc1);
    f[11] = Math.sqrt(bc2);
    f[12] = 1 - h.lr * h.weightDecay;
    if (!st.buffers.maxExpAvgSq && h.amsgrad) throw new Error(`${this.name}: amsgrad was switched on after the first step`);
    const bufs = [p.buffer(op), grad.buffer(op), st.buffers.expAvg.buffer(op), st.buffers.expAvgSq.buffer(op)];
    if (h.amsgrad) bufs.push(st.buffers.maxExpAvgSq.buffer(op));
    if (n > 0) dispatch(adamKernel(h.amsgrad), bufs, params, [gx, gy]);
  }
}

/** torch.optim.Adam: weightDecay is L2 (added to the gradient). */
export class Adam extends AdamBase {
  constructor(params: Tensor[] | GroupSpec<AdamOptions>[], options: Partial<AdamOptions> = {}) {
    super(params, options, false, 'Adam', ADAM_DEFAULTS);
  }
}

/** torch.optim.AdamW: decoupled weight decay (p *= 1 - lr*wd before the Adam step); default wd 0.01. */
export class AdamW extends AdamBase {
  constructor(params: Tensor[] | GroupSpec<AdamOptions>[], options: Partial<AdamOptions> = {}) {
    super(params, options, true, 'AdamW', { ...ADAM_DEFAULTS, weightDecay: 0.01 });
  }
}
