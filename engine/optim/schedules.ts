// Learning-rate schedules: constant, and linear warm-up followed by cosine decay (SimCLR's).
// A schedule maps a step to a factor of each group's base learning rate.
import type { Hyper, Optimizer } from './optimizer.js';
import { checkOptions } from '../options.js';

export type Schedule = (step: number) => number;

export const constantSchedule = (): Schedule => () => 1;

/**
 * Linear warm-up from 0 over `warmupSteps` (factor (step+1)/warmupSteps), then cosine decay from 1
 * to `minFactor` at `totalSteps` (and `minFactor` after).
 */
export function warmupCosineSchedule(opts: { warmupSteps: number; totalSteps: number; minFactor?: number }): Schedule {
  if (!opts) throw new Error('warmupCosineSchedule: options { warmupSteps, totalSteps, minFactor? } are required');
  checkOptions('warmupCosineSchedule', opts, ['warmupSteps', 'totalSteps', 'minFactor']);
  const { warmupSteps, totalSteps } = opts;
  const minFactor = opts.minFactor ?? 0;
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw new Error(`warmupCosineSchedule: warmupSteps must be an integer >= 0, got ${warmupSteps}`);
  if (!Number.isInteger(totalSteps) || totalSteps <= warmupSteps) {
    throw new Error(`warmupCosineSchedule: totalSteps must be an integer > warmupSteps (${warmupSteps}), got ${totalSteps}`);
  }
  if (!(minFactor >= 0 && minFactor <= 1)) throw new Error(`warmupCosineSchedule: minFactor must be in [0, 1], got ${minFactor}`);
  return (step: number) => {
    if (step < warmupSteps) return (step + 1) / warmupSteps;
    const t = Math.min(1, (step - warmupSteps) / (totalSteps - warmupSteps));
    return minFactor + (1 - minFactor) * 0.5 * (1 + Math.cos(Math.PI * t));
  };
}

/** Applies a schedule to an optimizer's groups: call `step()` once per optimizer step, before it. */
export class LRScheduler {
  private readonly baseLrs: number[];
  private current = 0;

  constructor(private readonly optimizer: Optimizer<Hyper>, private readonly schedule: Schedule) {
    this.baseLrs = optimizer.groups.map((g) => g.hyper.lr as number);
    this.apply();
  }

  /** The step the next optimizer update will use. */
  get stepCount(): number {
    return this.current;
  }

  lr(group = 0): number {
    return this.optimizer.groups[group].hyper.lr as number;
  }

  step(): void {
    this.current++;
    this.apply();
  }

  private apply(): void {
    const f = this.schedule(this.current);
    this.optimizer.groups.forEach((g, i) => (g.hyper.lr = this.baseLrs[i] * f));
  }

  stateDict(): { step: number; baseLrs: number[] } {
    return { step: this.current, baseLrs: [...this.baseLrs] };
  }

  loadStateDict(sd: { step: number; baseLrs: number[] }): void {
    if (sd.baseLrs.length !== this.baseLrs.length) throw new Error(`LRScheduler.loadStateDict: ${sd.baseLrs.length} groups saved, optimizer has ${this.baseLrs.length}`);
    this.current = sd.step;
    sd.baseLrs.forEach((v, i) => (this.baseLrs[i] = v));
    this.apply();
  }
}
