// SGD with momentum, dampening, nesterov and weight decay, matching torch.optim.SGD.
// Kernel: shaders/optim_sgd.wgsl, one dispatch per tensor.
import { dispatch, groups1d } from '../commands.js';
import { elementMain, elementTiling, kernel, renderTemplate, shaderSource } from '../kernels.js';
import type { Tensor } from '../tensor.js';
import { checkNumber, Optimizer, withOptions, type GroupSpec, type ParamState } from './optimizer.js';

export type SGDOptions = {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
};

export class SGD extends Optimizer<SGDOptions> {
  readonly type = 'SGD';
  constructor(params: Tensor[] | GroupSpec<SGDOptions>[], options: Partial<SGDOptions> = {}) {
    super(params, withOptions('SGD', { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false }, options), 'SGD');
  }

  protected validate(h: SGDOptions, g: number): void {
    checkNumber(this.name, 'lr', h.lr, 0, Infinity, g);
    checkNumber(this.name, 'momentum', h.momentum, 0, Infinity, g);
    checkNumber(this.name, 'dampening', h.dampening, 0, 1, g);
    checkNumber(this.name, 'weightDecay', h.weightDecay, 0, Infinity, g);
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) {
      throw new Error(`${this.name}: nesterov in group ${g} requires momentum > 0 and dampening 0`);
    }
  }

  protected stateNames(h: SGDOptions): string[] {
    return h.momentum !== 0 ? ['momentumBuffer'] : [];
  }

  protected update(p: Tensor, grad: Tensor, st: ParamState, h: SGDOptions): void {
    const op = 'SGD.step';
    const n = p.size;
    if (n === 0) return;
    const params = new Uint32Array(8);
    const f = new Float32Array(params.buffer);
    const [gx, gy] = groups1d(Math.ceil(n / elementTiling().BLOCK));
    const useMomentum = h.momentum !== 0;
    if (useMomentum && !st.buffers.momentumBuffer) throw new Error(`${this.name}: momentum was switched on after the first step`);
    params[0] = n;
    params[1] = gx;
    params[2] = st.step === 1 ? 1 : 0;
    params[3] = (useMomentum ? 1 : 0) | (h.nesterov ? 2 : 0) | (h.maximize ? 4 : 0);
    f[4] = -h.lr;
    f[5] = h.momentum;
    f[6] = 1 - h.dampening;
    f[7] = h.weightDecay;
    // without momentum the kernel never touches buf; bind the gradient's buffer read-only in its place
    const buf = useMomentum ? st.buffers.momentumBuffer : null;
    const k = kernel(`optim_sgd:${useMomentum}`, () => {
      const src = renderTemplate(shaderSource('optim_sgd'), { ELEMENT_MAIN: elementMain() });
      return useMomentum ? src : src.replace('var<storage, read_write> buf', 'var<storage, read> buf').replace('    buf[i] = b;\n', '');
    });
    dispatch(k, [p.buffer(op), grad.buffer(op), (buf ?? grad).buffer(op)], params, [gx, gy]);
  }
}
