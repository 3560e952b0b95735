// SimCLR's policy: defaults as the paper, validation, and the sampling of each random choice.
import { expect } from 'chai';
import { Rng } from '../../engine/random.js';
import { blurRadius, gaussianKernel, resolveAugment, sampleCrop, sampleView, NO_AUGMENT } from '../../data/simclr.js';
import { deriveSeed } from '../../data/seed.js';
import { expectError } from '../helpers.js';

describe('data/simclr: policy and sampling', () => {
  it("defaults are the paper's", () => {
    const a = resolveAugment({}, 224, 224);
    expect(a.cropScale).to.deep.equal([0.08, 1]);
    expect(a.cropRatio[0]).to.equal(3 / 4);
    expect(a.cropRatio[1]).to.equal(4 / 3);
    expect([a.flipP, a.jitterP, a.grayscaleP, a.blurP]).to.deep.equal([0.5, 0.8, 0.2, 0.5]);
    expect([a.brightness, a.contrast, a.saturation]).to.deep.equal([0.8, 0.8, 0.8]);
    expect(a.hue).to.be.closeTo(0.2, 1e-12);
    expect(a.blurSigma).to.deep.equal([0.1, 2]);
    expect(blurRadius(224, a.blurKernelFraction)).to.equal(11); // a 23-tap kernel, 10% of 224
  });
  it('blur is off by default below 64 px, on at 64', () => {
    expect(resolveAugment({}, 28, 28).blurP).to.equal(0);
    expect(resolveAugment({}, 63, 100).blurP).to.equal(0);
    expect(resolveAugment({}, 64, 64).blurP).to.equal(0.5);
    expect(resolveAugment({ blurP: 0.3 }, 28, 28).blurP).to.equal(0.3);
  });
  it('jitter strength scales every jitter amount; explicit amounts win', () => {
    const a = resolveAugment({ jitterStrength: 0.5, hue: 0.05 }, 32, 32);
    expect([a.brightness, a.contrast, a.saturation, a.hue]).to.deep.equal([0.4, 0.4, 0.4, 0.05]);
  });
  it('rejects bad values', () => {
    expectError(() => resolveAugment({ flipP: 1.5 }, 8, 8), /flipP must be a probability/);
    expectError(() => resolveAugment({ cropScale: [0.5, 0.2] }, 8, 8), /cropScale must be \[min, max\]/);
    expectError(() => resolveAugment({ hue: 0.6 }, 8, 8), /hue must be in \[0, 0.5\]/);
    expectError(() => resolveAugment({ brightness: -1 }, 8, 8), /brightness must be a finite number >= 0/);
    expectError(() => resolveAugment({ blurSigma: [0, 1] }, 8, 8), /blurSigma/);
  });

  it('RandomResizedCrop: boxes inside the image, area 8-100%, aspect 3/4-4/3, covering the range', () => {
    const rng = new Rng(3);
    let minA = 1;
    let maxA = 0;
    let minR = 10;
    let maxR = 0;
    for (let t = 0; t < 3000; t++) {
      const [i, j, h, w] = sampleCrop(rng, 224, 224, [0.08, 1], [3 / 4, 4 / 3]);
      expect(i >= 0 && j >= 0 && i + h <= 224 && j + w <= 224 && h > 0 && w > 0, `box ${[i, j, h, w]}`).to.equal(true);
      const a = (h * w) / (224 * 224);
      const r = w / h;
      minA = Math.min(minA, a);
      maxA = Math.max(maxA, a);
      minR = Math.min(minR, r);
      maxR = Math.max(maxR, r);
    }
    // rounding w and h to integers moves area and aspect by at most a pixel's worth
    expect(minA).to.be.within(0.075, 0.1);
    expect(maxA).to.be.within(0.9, 1);
    expect(minR).to.be.within(0.74, 0.78);
    expect(maxR).to.be.within(1.29, 1.345);
  });
  it('RandomResizedCrop falls back to the central crop when no try fits', () => {
    // a 2x40 strip: aspect 20 cannot be met within [3/4, 4/3] at any area
    const box = sampleCrop(new Rng(1), 2, 40, [0.9, 1], [3 / 4, 4 / 3]);
    expect(box).to.deep.equal([0, 18, 2, 3]); // w = round(2 * 4/3) = 3, left = (40 - 3) // 2
  });

  it('each choice happens with its probability; jitter factors in range; all 24 orders occur', () => {
    const cfg = resolveAugment({}, 96, 96);
    const rng = new Rng(11);
    const n = 4000;
    let flips = 0;
    let jit = 0;
    let gray = 0;
    let blurs = 0;
    const orders = new Set<string>();
    for (let k = 0; k < n; k++) {
      const v = sampleView(rng, cfg, 0, 96, 96);
      flips += +v.flip;
      gray += +v.grayscale;
      if (v.blurSigma > 0) {
        blurs++;
        expect(v.blurSigma).to.be.within(0.1, 2);
      }
      if (v.jitter) {
        jit++;
        orders.add(v.jitter.order.join(''));
        expect(v.jitter.brightness).to.be.within(0.2, 1.8);
        expect(v.jitter.contrast).to.be.within(0.2, 1.8);
        expect(v.jitter.saturation).to.be.within(0.2, 1.8);
        expect(v.jitter.hue).to.be.within(-0.2, 0.2);
      }
    }
    expect(flips / n).to.be.closeTo(0.5, 0.03);
    expect(jit / n).to.be.closeTo(0.8, 0.03);
    expect(gray / n).to.be.closeTo(0.2, 0.03);
    expect(blurs / n).to.be.closeTo(0.5, 0.03);
    expect(orders.size).to.equal(24);
  });
  it('no augmentation: the whole image, nothing random applied', () => {
    const cfg = resolveAugment(NO_AUGMENT, 32, 32);
    const v = sampleView(new Rng(0), cfg, 3, 40, 30);
    expect(v).to.deep.equal({ source: 3, crop: [0, 0, 40, 30], flip: false, jitter: null, grayscale: false, blurSigma: 0 });
  });
  it('same seed, same draws; another seed, other draws', () => {
    const cfg = resolveAugment({}, 64, 64);
    const draw = (s: number) => Array.from({ length: 20 }, () => sampleView(new Rng(s), cfg, 0, 64, 64)).map((v) => JSON.stringify(v));
    expect(draw(5)).to.deep.equal(draw(5));
    expect(draw(5)).to.not.deep.equal(draw(6));
  });
  it('derived seeds differ per stream, epoch and batch', () => {
    const seeds = new Set<number>();
    for (let e = 0; e < 10; e++) for (let k = 0; k < 50; k++) seeds.add(deriveSeed(1, e, k, 7));
    expect(seeds.size).to.equal(500);
    expect(deriveSeed(1, 2, 3)).to.equal(deriveSeed(1, 2, 3));
    expectError(() => deriveSeed(-1), /non-negative integers/);
  });
  it('Gaussian kernel: symmetric, sums to 1, peaks at the centre', () => {
    const k = gaussianKernel(11, 1.3);
    expect(k.length).to.equal(23);
    expect(k.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-12);
    for (let i = 0; i < 11; i++) expect(k[i]).to.be.closeTo(k[22 - i], 1e-15);
    expect(k[11]).to.be.closeTo(1 / (1.3 * Math.sqrt(2 * Math.PI)), 1e-3);
  });
});
