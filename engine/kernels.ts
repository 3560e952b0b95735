// WGSL sources from shaders/, template rendering, and the compiled-pipeline cache.
// Binding convention for every kernel: @binding(0) is the uniform `Params` block (when the kernel has
// parameters), storage buffers follow from @binding(1) in the order the op passes them.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deviceContext } from './device.js';

const SHADER_DIR = fileURLToPath(new URL('../../shaders/', import.meta.url));
const sources = new Map<string, string>();

/** The text of shaders/<name>.wgsl. */
export function shaderSource(name: string): string {
  let s = sources.get(name);
  if (s === undefined) {
    s = readFileSync(`${SHADER_DIR}${name}.wgsl`, 'utf8');
    sources.set(name, s);
  }
  return s;
}

/** Replaces every {{KEY}} in a template; an unreplaced key is a bug, so it throws. */
export function renderTemplate(template: string, vars: Record<string, string | number>): string {
  const out = template.replace(/\{\{(\w+)\}\}/g, (m, k: string) => {
    if (!(k in vars)) throw new Error(`shader template: no value for {{${k}}}`);
    return String(vars[k]);
  });
  return out;
}

export interface Kernel {
  name: string;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  hasParams: boolean;
}

const cache = new Map<string, Kernel>();

/** A compiled kernel, cached by `key`; `code` is only called on a miss. */
export function kernel(key: string, code: () => string): Kernel {
  let k = cache.get(key);
  if (k) return k;
  const { device } = deviceContext();
  const wgsl = code();
  const module = device.createShaderModule({ code: wgsl, label: key });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
  k = { name: key, pipeline, layout: pipeline.getBindGroupLayout(0), hasParams: /var<uniform>/.test(wgsl) };
  cache.set(key, k);
  return k;
}

export function kernelCacheSize(): number {
  return cache.size;
}
