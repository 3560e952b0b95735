// backward(): seeds the root's gradient, walks the graph once in reverse topological order,
// accumulates gradients into leaves' .grad, and frees each node's saved activations after use.
import { noGrad, type Node } from './autograd.js';
import { fmtShape, sameShape } from './shape.js';
import type { Tensor } from './tensor.js';
import { untrackTensor } from './scope.js';
import { add, copy, onesLike } from './ops/index.js';

function topoOrder(root: Node): Node[] {
  const order: Node[] = [];
  const visited = new Set<Node>();
  const stack: [Node, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i < node.targets.length) {
      top[1]++;
      const next = node.targets[i]?.node;
      if (next && !visited.has(next)) {
        visited.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order.reverse(); // root first
}

function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (leaf.isDisposed) throw new Error(`backward: a leaf tensor ${fmtShape(leaf.shape)} was disposed before backward`);
  if (!g.isContiguous || g.offset !== 0) {
    const c = copy(g);
    g.dispose();
    g = c;
  }
  if (leaf.grad) {
    const sum = add(leaf.grad, g);
    leaf.grad.dispose();
    g.dispose();
    leaf.grad = sum;
  } else {
    leaf.grad = g;
  }
  untrackTensor(leaf.grad);
}

export function backward(root: Tensor, grad?: Tensor): void {
  root.storage('backward');
  if (!root.requiresGrad) throw new Error(`backward: tensor ${fmtShape(root.shape)} does not require grad (no input had requiresGrad)`);
  if (grad === undefined && root.size !== 1) {
    throw new Error(`backward: called on a non-scalar tensor of shape ${fmtShape(root.shape)} without a gradient; pass a gradient of the same shape`);
  }
  if (grad !== undefined) {
    grad.storage('backward');
    if (!sameShape(grad.shape, root.shape)) {
      throw new Error(`backward: gradient shape ${fmtShape(grad.shape)} does not match tensor shape ${fmtShape(root.shape)}`);
    }
  }
  noGrad(() => {
    if (!root.node) {
      accumulateLeaf(root, grad ? grad.detach() : onesLike(root));
      return;
    }
    const order = topoOrder(root.node);
    for (const n of order) {
      if (n.freed) throw new Error(`backward: the graph through '${n.op}' was already freed by an earlier backward()`);
    }
    const seed = grad ?? onesLike(root);
    const grads = new Map<Node, Tensor>([[root.node, seed]]);
    for (const node of order) {
      const g = grads.get(node);
      grads.delete(node);
      if (!g) {
        node.freeSaved();
        continue;
      }
      const needs = node.targets.map((t) => t !== null);
      // A backward may pass its incoming gradient through unchanged (add, reshape): give each such
      // use its own view so that disposing one handle never frees another's storage.
      const inGrads = node.backward(g, needs, node.saved).map((gi) => (gi === g || gi === grad ? gi.detach() : gi));
      if (g !== grad) g.dispose();
      node.freeSaved();
      node.targets.forEach((t, i) => {
        const gi = inGrads[i];
        if (!t || !gi) {
          gi?.dispose();
          return;
        }
        const want = t.leaf ? t.leaf.shape : t.node!.outShape;
        if (!sameShape(gi.shape, want)) {
          throw new Error(`backward: '${node.op}' produced a gradient of shape ${fmtShape(gi.shape)} for an input of shape ${fmtShape(want)}`);
        }
        if (t.leaf) accumulateLeaf(t.leaf, gi);
        else {
          const prev = grads.get(t.node!);
          if (prev) {
            grads.set(t.node!, add(prev, gi));
            prev.dispose();
            gi.dispose();
          } else grads.set(t.node!, gi);
        }
      });
    }
  });
}
