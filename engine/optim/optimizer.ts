// The optimizer base: parameter groups with their own hyper-parameters, per-parameter state tensors
// owned by the optimizer, zeroGrad, and stateDict()/loadStateDict() for exact resume.
// Subclasses encode one fused in-place update kernel per parameter tensor; a step never reads back.
import { checkOptions } from '../options.js';
import { fmtShape } from '../shape.js';
import { fromHost, type Tensor } from '../tensor.js';
import { zeros } from '../ops/creation.js';
import { untrackTensor } from '../scope.js';

export type Hyper = Record<string, number | boolean>;

export interface ParamGroup<H extends Hyper> {
  params: Tensor[];
  hyper: H;
}

/** A group as the user passes it: params plus any hyper-parameter overrides. */
export type GroupSpec<H extends Hyper> = { params: Tensor[] } & Partial<H>;

export interface OptimizerStateDict {
  type: string;
  /** Per parameter (in group order): its step count and state tensors' data. */
  state: { step: number; buffers: Record<string, number[]> }[];
  groups: Hyper[];
}

export interface ParamState {
  step: number;
  buffers: Record<string, Tensor>;
}

/** An optimizer's hyper-parameters: its defaults overridden by the user's options (known keys only; undefined keeps the default). */
export function withOptions<H extends Hyper>(name: string, defaults: H, options: Partial<H> | undefined): H {
  checkOptions(name, options, Object.keys(defaults));
  const set = Object.entries(options ?? {}).filter(([, v]) => v !== undefined);
  return { ...defaults, ...Object.fromEntries(set) } as H;
}

export abstract class Optimizer<H extends Hyper> {
  readonly groups: ParamGroup<H>[];
  protected readonly state = new Map<Tensor, ParamState>();
  abstract readonly type: string;

  constructor(params: Tensor[] | GroupSpec<H>[], defaults: H, protected readonly name: string) {
    const specs: GroupSpec<H>[] = params.length && (params[0] as Tensor).__isTensor ? [{ params: params as Tensor[] } as GroupSpec<H>] : (params as GroupSpec<H>[]);
    if (!specs.length) throw new Error(`${name}: no parameters given`);
    const seen = new Set<Tensor>();
    this.groups = specs.map((spec, gi) => {
      const { params: ps, ...over } = spec;
      if (!Array.isArray(ps) || !ps.length) throw new Error(`${name}: parameter group ${gi} has no params`);
      checkOptions(name, over, Object.keys(defaults), ` in parameter group ${gi}`);
      for (const p of ps) {
        if (!p || !p.__isTensor) throw new Error(`${name}: parameter group ${gi} holds a non-tensor`);
        p.storage(name);
        if (!p.requiresGrad || !p.isLeaf) throw new Error(`${name}: parameter ${fmtShape(p.shape)} must be a leaf with requiresGrad`);
        if (!p.isContiguous || p.offset !== 0) throw new Error(`${name}: parameter ${fmtShape(p.shape)} must be contiguous (not a view)`);
        if (seen.has(p)) throw new Error(`${name}: a parameter ${fmtShape(p.shape)} appears twice`);
        seen.add(p);
      }
      const hyper = { ...defaults, ...over } as H;
      this.validate(hyper, gi);
      return { params: ps, hyper };
    });
  }

  /** Checks one group's hyper-parameters; throws naming the option. */
  protected abstract validate(h: H, group: number): void;

  /** Names of the state tensors (same shape as the parameter) this optimizer keeps. */
  protected abstract stateNames(h: H): string[];

  /** Encodes the update of one parameter (its grad is present, contiguous, at offset 0). */
  protected abstract update(p: Tensor, grad: Tensor, st: ParamState, h: H): void;

  protected stateOf(p: Tensor, h: H): ParamState {
    let st = this.state.get(p);
    if (!st) {
      const buffers: Record<string, Tensor> = {};
      for (const n of this.stateNames(h)) buffers[n] = untrack(zeros(p.shape));
      st = { step: 0, buffers };
      this.state.set(p, st);
    }
    return st;
  }

  /** One update of every parameter that has a gradient. Encodes GPU work only; nothing waits. */
  step(): void {
    for (const g of this.groups) {
      for (const p of g.params) {
        p.storage(`${this.name}.step`);
        const grad = p.grad;
        if (!grad) continue;
        if (grad.isDisposed) throw new Error(`${this.name}.step: the gradient of parameter ${fmtShape(p.shape)} was disposed`);
        if (!grad.isContiguous || grad.offset !== 0 || grad.size !== p.size) {
          throw new Error(`${this.name}.step: the gradient of parameter ${fmtShape(p.shape)} must be a contiguous tensor of the same size, got ${fmtShape(grad.shape)}`);
        }
        const st = this.stateOf(p, g.hyper);
        st.step++;
        this.update(p, grad, st, g.hyper);
      }
    }
  }

  /** Drops every parameter's gradient (the next backward starts from zero). */
  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) p.zeroGrad();
  }

  /** Every parameter, in group order. */
  parameters(): Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }

  /** Hyper-parameters and state, read back from the GPU (exact float32 values). */
  async stateDict(): Promise<OptimizerStateDict> {
    const state: OptimizerStateDict['state'] = [];
    for (const g of this.groups) {
      for (const p of g.params) {
        const st = this.state.get(p);
        const buffers: Record<string, number[]> = {};
        if (st) for (const [k, t] of Object.entries(st.buffers)) buffers[k] = Array.from(await t.toArray());
        state.push({ step: st?.step ?? 0, buffers });
      }
    }
    return { type: this.type, state, groups: this.groups.map((g) => ({ ...g.hyper })) };
  }

  /** Restores hyper-parameters and state saved by stateDict() for the same parameter layout. */
  loadStateDict(sd: OptimizerStateDict): void {
    if (!sd || sd.type !== this.type) throw new Error(`${this.name}.loadStateDict: expected a ${this.type} state dict, got ${sd?.type}`);
    if (sd.groups.length !== this.groups.length) throw new Error(`${this.name}.loadStateDict: ${sd.groups.length} groups saved, optimizer has ${this.groups.length}`);
    const params = this.parameters();
    if (sd.state.length !== params.length) throw new Error(`${this.name}.loadStateDict: ${sd.state.length} parameters saved, optimizer has ${params.length}`);
    sd.groups.forEach((h, i) => {
      const merged = { ...this.groups[i].hyper, ...h } as H;
      this.validate(merged, i);
    });
    let i = 0;
    this.groups.forEach((g, gi) => {
      g.hyper = { ...g.hyper, ...sd.groups[gi] } as H;
      for (const p of g.params) {
        const saved = sd.state[i++];
        const old = this.state.get(p);
        if (old) for (const t of Object.values(old.buffers)) t.dispose();
        this.state.delete(p);
        if (saved.step === 0 && !Object.keys(saved.buffers).length) continue;
        const buffers: Record<string, Tensor> = {};
        for (const [k, data] of Object.entries(saved.buffers)) {
          if (data.length !== p.size) throw new Error(`${this.name}.loadStateDict: state '${k}' has ${data.length} values for parameter ${fmtShape(p.shape)}`);
          buffers[k] = untrack(fromHost(Float32Array.from(data), p.shape, 'float32', `${this.name}.loadStateDict`));
        }
        for (const n of this.stateNames(g.hyper)) if (!buffers[n]) buffers[n] = untrack(zeros(p.shape));
        this.state.set(p, { step: saved.step, buffers });
      }
    });
  }

  /** Frees the optimizer's state tensors. */
  dispose(): void {
    for (const st of this.state.values()) for (const t of Object.values(st.buffers)) t.dispose();
    this.state.clear();
  }
}

function untrack(t: Tensor): Tensor {
  untrackTensor(t);
  return t;
}

export function checkNumber(name: string, opt: string, v: unknown, lo: number, hi: number, group: number, loOpen = false, hiOpen = false): void {
  const ok = typeof v === 'number' && Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
  if (!ok) throw new Error(`${name}: option '${opt}' in group ${group} must be in ${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${v}`);
}
