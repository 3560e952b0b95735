// Reverse-mode autograd: each op output that needs a gradient gets a Node holding its backward
// function and the activations it saved. backward() visits every node once, in reverse topological
// order, and frees each node's saved activations right after its vector-Jacobian product.
import type { Tensor } from './tensor.js';

/** grad: the output's gradient; needs[i]: whether input i wants one; saved: the tensors record() saved. */
export type BackwardFn = (grad: Tensor, needs: boolean[], saved: Tensor[]) => (Tensor | null)[];

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn with gradient recording off. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Where an input's gradient goes: the leaf tensor itself, or the node that produced it. */
export interface GradTarget {
  leaf: Tensor | null;
  node: Node | null;
}

export class Node {
  /** References: the output tensor while alive, plus each consumer node not yet freed. */
  refs = 1;
  freed = false;
  constructor(
    readonly op: string,
    readonly targets: (GradTarget | null)[],
    readonly backward: BackwardFn,
    readonly saved: Tensor[],
    readonly outShape: readonly number[],
  ) {
    for (const t of targets) if (t?.node) t.node.refs++;
  }

  /** Frees saved activations (no cascade). */
  freeSaved(): void {
    if (this.freed) return;
    this.freed = true;
    for (const s of this.saved) s.dispose();
    this.saved.length = 0;
  }

  /** Drops one reference; at zero frees this node and, transitively, producers nobody else holds. */
  unref(): void {
    if (--this.refs !== 0) return;
    this.freeSaved();
    for (const t of this.targets) t?.node?.unref();
  }
}

export function gradTarget(t: Tensor): GradTarget | null {
  if (t.node) return { leaf: null, node: t.node };
  if (t.requiresGrad) return { leaf: t, node: null };
  return null;
}

export function needsGrad(t: Tensor): boolean {
  return gradEnabled && (t.requiresGrad || t.node !== null);
}
