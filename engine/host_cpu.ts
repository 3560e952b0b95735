// The host CPU as far as a CPU driver's generated code depends on it: /proc/cpuinfo's first processor
// (vendor, family, model, stepping, flags). Read once a process; null where there is no /proc/cpuinfo
// (not Linux) or it names neither a vendor nor flags. Used by the tune cache's key (engine/tune.ts) and
// the bench's machine line and vector width (bench/run.ts).
import { readFileSync } from 'node:fs';

export interface CpuinfoFields {
  vendor: string;
  family: string;
  model: string;
  stepping: string;
  flags: Set<string>;
}

/** The first processor's fields of a /proc/cpuinfo text, or null if it names neither a vendor nor flags. */
export function parseCpuinfo(text: string): CpuinfoFields | null {
  const first = text.split(/\n\s*\n/)[0];
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(first)?.[1].trim() ?? '';
  const flags = new Set(field('flags').split(/\s+/).filter(Boolean));
  const vendor = field('vendor_id');
  if (!vendor && flags.size === 0) return null;
  return { vendor, family: field('cpu family'), model: field('model'), stepping: field('stepping'), flags };
}

let host: CpuinfoFields | null | undefined;

/** This machine's parseCpuinfo, read once. */
export function hostCpuinfo(): CpuinfoFields | null {
  if (host === undefined) {
    try {
      host = parseCpuinfo(readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      host = null;
    }
  }
  return host;
}
