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
  /**
   * The layout was built from the WGSL's declarations with the Params block at a dynamic offset, so a
   * bind group serves every dispatch with the same buffers (engine/commands.ts caches them); false
   * for a declaration it cannot read, which then gets the 'auto' layout and a bind group per dispatch.
   */
  dynamicParams: boolean;
  /** Bindings in the layout (Params included). */
  bindings: number;
}

const cache = new Map<string, Kernel>();

const TEXTURE_SAMPLE: Record<string, GPUTextureSampleType> = { f32: 'unfilterable-float', u32: 'uint', i32: 'sint' };

/** Layout entries for the group-0 declarations of a kernel, or null if one is of a kind not handled here. */
function layoutEntries(wgsl: string): GPUBindGroupLayoutEntry[] | null {
  const entries: GPUBindGroupLayoutEntry[] = [];
  const re = /@group\(0\)\s*@binding\((\d+)\)\s*var(?:<([^>]*)>)?\s+\w+\s*:\s*([^;]+);/g;
  for (let m = re.exec(wgsl); m; m = re.exec(wgsl)) {
    const binding = Number(m[1]);
    const space = (m[2] ?? '').replace(/\s/g, '');
    const type = m[3].trim();
    const visibility = 0x4; /* COMPUTE */
    if (space === 'uniform') entries.push({ binding, visibility, buffer: { type: 'uniform', hasDynamicOffset: true } });
    else if (space === 'storage,read_write') entries.push({ binding, visibility, buffer: { type: 'storage' } });
    else if (space === 'storage' || space === 'storage,read') entries.push({ binding, visibility, buffer: { type: 'read-only-storage' } });
    else {
      const t = /^texture_2d<(f32|u32|i32)>$/.exec(type);
      const st = /^texture_storage_2d<(\w+),\s*read>$/.exec(type);
      if (space || !(t || st)) return null;
      if (t) entries.push({ binding, visibility, texture: { sampleType: TEXTURE_SAMPLE[t[1]] } });
      else entries.push({ binding, visibility, storageTexture: { access: 'read-only', format: st![1] as GPUTextureFormat } });
    }
  }
  const sorted = entries.map((e) => e.binding).sort((a, b) => a - b);
  return sorted.every((b, i) => b === i) ? entries : null;
}

/**
 * Whether this adapter is a CPU driver running subgroups of fewer than 16 lanes (lavapipe at its
 * default 256 bits: 8), which takes the narrow defaults measured there: untuned GEMM variants with
 * texture panels, 1x1 convolutions as matmuls, channels-last operands (engine/tune.ts,
 * engine/ops/conv2d.ts). How panels are bound is panelsAsStorageTextures, for every width.
 */
export function narrowCpuSubgroups(): boolean {
  const { summary } = deviceContext();
  return summary.isSoftware && summary.subgroupSize < 16;
}

let panelForm: 'storage' | 'sampled' = 'storage';

/** Benchmarks: bind CPU drivers' panel textures as read-only storage textures (default) or sampled ones. */
export function setPanelTextureBinding(form: 'storage' | 'sampled'): void {
  panelForm = form;
}

/**
 * Whether the GEMM's rgba32uint panel textures (and the other operand textures kernels read) are bound
 * as read-only storage textures rather than sampled ones: on CPU drivers, where lavapipe reads a
 * storage texel with a 16-byte load a lane, while a sampled fetch is a call that reads the texture's
 * size and pitch for every lane first. At 16 lanes (Zen 4) 1024^3 ran 74-82 GFLOP/s against 58-71 and
 * 2048^3 76-77 against 68 (bench/NOTES.md "Storage-texture reads at 16 lanes"). Earlier findings that
 * one form or the other crashed or read wrong values at one width were Mesa's shader cache mixing
 * vector widths (engine/device.ts separateShaderCache). Pooled textures on CPU drivers always carry
 * the storage usage, so the form can change between kernels.
 */
export function panelsAsStorageTextures(): boolean {
  return deviceContext().summary.isSoftware && panelForm === 'storage';
}

/**
 * Whether subgroup-broadcast GEMMs of `subgroup` lanes take texture panels: from 16 lanes, and at 8 on
 * CPU drivers (narrowCpuSubgroups).
 */
export function texturePanelsAt(subgroup: number): boolean {
  return subgroup >= 16 || narrowCpuSubgroups();
}

/**
 * A kernel binding as this adapter reads it: `var NAME: texture_2d<u32>` (a panel texture) becomes a
 * read-only storage texture where panelsAsStorageTextures(), and either form comes with
 * `fn NAME_texel(c: vec2<u32>) -> vec4<u32>`, the load every kernel calls (a storage texture's
 * textureLoad takes no mip level). Other bindings are returned as they are, without a function.
 */
export function panelBinding(decl: string): { decl: string; fn: string } {
  const m = /^var\s+(\w+)\s*:\s*texture_2d<u32>$/.exec(decl.trim());
  if (!m) return { decl, fn: '' };
  const name = m[1];
  if (panelsAsStorageTextures()) {
    return { decl: `var ${name}: texture_storage_2d<rgba32uint, read>`, fn: `fn ${name}_texel(c: vec2<u32>) -> vec4<u32> { return textureLoad(${name}, c); }` };
  }
  return { decl, fn: `fn ${name}_texel(c: vec2<u32>) -> vec4<u32> { return textureLoad(${name}, c, 0); }` };
}

/** A benchmark's rewrite of kernel sources (bench/gemm_parts.ts), with the tag its kernels are cached under. */
export interface SourceRewrite {
  tag: string;
  rewrite: (name: string, wgsl: string) => string;
}
let sourceRewrite: (SourceRewrite & { changed: number }) | null = null;

/**
 * Benchmarks only: compile every kernel from here on with a rewrite applied to its WGSL (cached apart,
 * under its tag), or as written (null). bench/gemm_parts.ts uses it to time the GEMM with its texel
 * loads replaced, which measures where the kernel's time goes; such kernels compute wrong products.
 */
export function setSourceRewrite(r: SourceRewrite | null): void {
  sourceRewrite = r && { ...r, changed: 0 };
}

/** How many kernels the current source rewrite changed since it was set (0 with none set). */
export function sourceRewriteCount(): number {
  return sourceRewrite?.changed ?? 0;
}

/** A compiled kernel, cached by `key`; `code` is only called on a miss. */
export function kernel(name: string, code: () => string): Kernel {
  // the panel binding form is part of the code (panelBinding); sampled panels exist only for A/Bs
  let key = panelForm === 'sampled' ? `${name}|sampled` : name;
  if (sourceRewrite) key = `${key}|${sourceRewrite.tag}`;
  let k = cache.get(key);
  if (k) return k;
  const { device } = deviceContext();
  let wgsl = code();
  if (sourceRewrite) {
    const rewritten = sourceRewrite.rewrite(name, wgsl);
    if (rewritten !== wgsl) sourceRewrite.changed++;
    wgsl = rewritten;
  }
  const module = device.createShaderModule({ code: wgsl, label: key });
  const entries = layoutEntries(wgsl);
  const hasParams = /var<uniform>/.test(wgsl);
  if (entries) {
    const layout = device.createBindGroupLayout({ entries, label: key });
    const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [layout], label: key });
    const pipeline = device.createComputePipeline({ layout: pipelineLayout, compute: { module, entryPoint: 'main' }, label: key });
    k = { name: key, pipeline, layout, hasParams, dynamicParams: true, bindings: entries.length };
  } else {
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
    k = { name: key, pipeline, layout: pipeline.getBindGroupLayout(0), hasParams, dynamicParams: false, bindings: -1 };
  }
  cache.set(key, k);
  return k;
}

export function kernelCacheSize(): number {
  return cache.size;
}

/**
 * Workgroup shape of the kernels that step over elements one by one (elementwise ops, optimizer
 * steps): WG invocations, each visiting PER elements WG apart, so a workgroup covers WG * PER. CPU
 * drivers start every workgroup separately (lavapipe: a 1M-float add ran about 2x faster looping over
 * 1024 elements a workgroup than with 64 one-shot invocations); GPUs get 64 one-shot invocations.
 */
export function elementTiling(): { WG: number; PER: number; BLOCK: number } {
  return deviceContext().summary.isSoftware ? { WG: 16, PER: 64, BLOCK: 1024 } : { WG: 64, PER: 1, BLOCK: 64 };
}

/**
 * The entry point of a kernel that steps over elements one by one: it calls the shader's
 * `fn element(i: u32)` for each of its workgroup's WG * PER elements (elementTiling), WG apart, up to
 * p.n (the shader's Params hold n and width, the workgroups per grid row). Bounds: an invocation stops
 * at the first i >= n.
 */
export function elementMain(): string {
  const { WG, PER, BLOCK } = elementTiling();
  return `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let first = (wid.y * p.width + wid.x) * ${BLOCK}u + lid;
  for (var j = 0u; j < ${PER}u; j = j + 1u) {
    let i = first + j * ${WG}u;
    if (i >= p.n) { break; }
    element(i);
  }
}`;
}
