// The GPU augmentation kernels, one operation at a time, against PyTorch references
// (scripts/fixtures/data.py) and the float64 reference in test/data/reference.ts.
import { expect } from 'chai';
import { augmentViews, uploadSources, type AugmentOutput, type SourceBatch } from '../../data/augment.js';
import type { ViewParams } from '../../data/simclr.js';
import { gaussianKernel } from '../../data/simclr.js';
import { memoryStats } from '../../engine/index.js';
import { assertClose, expectError, loadFixture } from '../helpers.js';
import { cropResize, fromHWC, grayscale, adjust, blur } from './reference.js';

interface Src {
  shape: [number, number, number];
  pixels: number[];
}
interface Fx {
  sources: { rgb: Src; gray: Src };
  crops: { source: 'rgb' | 'gray'; box: [number, number, number, number]; out: [number, number]; flip: boolean; expected: number[] }[];
  colors: { source: 'rgb' | 'gray'; order: number[] | null; factors: number[] | null; grayscale: boolean; expected: number[] }[];
  blurs: { source: 'rgb' | 'gray'; radius: number; sigma: number; kernel: number[]; expected: number[] }[];
}
const fx = loadFixture<Fx>('data_augment');

const ID_NORM = (c: number) => ({ mean: new Array(c).fill(0), std: new Array(c).fill(1) });

function upload(name: 'rgb' | 'gray'): SourceBatch {
  const s = fx.sources[name];
  const [h, w, c] = s.shape;
  return uploadSources([Uint8Array.from(s.pixels)], h, w, c as 1 | 3);
}

function view(p: Partial<ViewParams> & { crop: [number, number, number, number] }): ViewParams {
  return { source: 0, flip: false, jitter: null, grayscale: false, blurSigma: 0, ...p };
}

async function run(src: SourceBatch, views: ViewParams[], out: Partial<AugmentOutput> & { height: number; width: number }): Promise<Float32Array> {
  const t = augmentViews(src, views, { normalization: ID_NORM(src.channels), blurKernelFraction: 0.1, ...out });
  try {
    expect(t.shape).to.deep.equal([views.length, src.channels, out.height, out.width]);
    return await t.toArray();
  } finally {
    t.dispose();
  }
}

describe('data/augment (GPU)', () => {
  describe('crop + bilinear resize + flip', () => {
    for (const cs of fx.crops) {
      it(`${cs.source} crop [${cs.box.join(', ')}] -> ${cs.out.join('x')}${cs.flip ? ', flipped' : ''}: PyTorch and float64 reference`, async () => {
        const src = upload(cs.source);
        try {
          const got = await run(src, [view({ crop: cs.box, flip: cs.flip })], { height: cs.out[0], width: cs.out[1] });
          assertClose(got, cs.expected, { rtol: 1e-5, atol: 2e-6 }, 'vs PyTorch');
          const s = fx.sources[cs.source];
          const ref = cropResize(fromHWC(s.pixels, s.shape[0], s.shape[1], s.shape[2]), cs.box, cs.out[0], cs.out[1], cs.flip);
          assertClose(got, ref.data, { rtol: 1e-5, atol: 2e-6 }, 'vs float64');
        } finally {
          src.tensor.dispose();
        }
      });
    }
    it('a flip mirrors the unflipped view exactly', async () => {
      const src = upload('rgb');
      try {
        const [H, W] = [9, 14];
        const got = await run(src, [view({ crop: [1, 2, 13, 17] }), view({ crop: [1, 2, 13, 17], flip: true })], { height: H, width: W });
        const plane = 3 * H * W;
        for (let ch = 0; ch < 3; ch++)
          for (let y = 0; y < H; y++)
            for (let x = 0; x < W; x++) expect(got[plane + (ch * H + y) * W + x]).to.equal(got[(ch * H + y) * W + (W - 1 - x)]);
      } finally {
        src.tensor.dispose();
      }
    });
  });

  describe('colour jitter and grayscale', () => {
    for (const cs of fx.colors) {
      const what = cs.order ? `order [${cs.order.join(', ')}] factors [${cs.factors!.join(', ')}]` : 'no jitter';
      it(`${cs.source}: ${what}${cs.grayscale ? ' + grayscale' : ''}: PyTorch and float64 reference`, async () => {
        const s = fx.sources[cs.source];
        const [h, w] = s.shape;
        const src = upload(cs.source);
        try {
          const jitter = cs.order ? { order: cs.order, brightness: cs.factors![0], contrast: cs.factors![1], saturation: cs.factors![2], hue: cs.factors![3] } : null;
          const got = await run(src, [view({ crop: [0, 0, h, w], jitter, grayscale: cs.grayscale })], { height: h, width: w });
          assertClose(got, cs.expected, { rtol: 1e-5, atol: 1e-5 }, 'vs PyTorch');
          let ref = fromHWC(s.pixels, h, w, s.shape[2]);
          if (cs.order) for (const op of cs.order) ref = adjust(ref, op, cs.factors![op]);
          if (cs.grayscale) ref = grayscale(ref);
          assertClose(got, ref.data, { rtol: 1e-5, atol: 1e-5 }, 'vs float64');
        } finally {
          src.tensor.dispose();
        }
      });
    }
    it('grayscale is 0.299 R + 0.587 G + 0.114 B in every channel', async () => {
      const px = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 51, 102, 204]);
      const src = uploadSources([px], 1, 4, 3);
      try {
        const got = await run(src, [view({ crop: [0, 0, 1, 4], grayscale: true })], { height: 1, width: 4 });
        const g = [0.299, 0.587, 0.114, (0.299 * 51 + 0.587 * 102 + 0.114 * 204) / 255];
        assertClose(got, [...g, ...g, ...g], { rtol: 1e-6 });
      } finally {
        src.tensor.dispose();
      }
    });
  });

  describe('Gaussian blur', () => {
    for (const cs of fx.blurs) {
      it(`${cs.source}: radius ${cs.radius}, sigma ${cs.sigma}: kernel and image match PyTorch`, async () => {
        assertClose(gaussianKernel(cs.radius, cs.sigma), cs.kernel, { rtol: 1e-6, atol: 1e-7 }, 'kernel');
        const s = fx.sources[cs.source];
        const [h, w] = s.shape;
        const src = upload(cs.source);
        try {
          const got = await run(src, [view({ crop: [0, 0, h, w], blurSigma: cs.sigma })], { height: h, width: w, blurRadius: cs.radius });
          assertClose(got, cs.expected, { rtol: 1e-5, atol: 2e-6 }, 'vs PyTorch');
          const ref = blur(fromHWC(s.pixels, h, w, s.shape[2]), cs.radius, cs.radius, cs.sigma);
          assertClose(got, ref.data, { rtol: 1e-5, atol: 2e-6 }, 'vs float64');
        } finally {
          src.tensor.dispose();
        }
      });
    }
    it('an unblurred view in a blurred batch passes through unchanged', async () => {
      const s = fx.sources.rgb;
      const [h, w] = s.shape;
      const src = upload('rgb');
      try {
        const got = await run(src, [view({ crop: [0, 0, h, w], blurSigma: 1.5 }), view({ crop: [0, 0, h, w] })], { height: h, width: w, blurRadius: 3 });
        const n = 3 * h * w;
        assertClose(got.subarray(n), fromHWC(s.pixels, h, w, 3).data, { rtol: 1e-6, atol: 1e-7 });
      } finally {
        src.tensor.dispose();
      }
    });
  });

  it('normalizes by mean and std per channel (with and without the blur passes)', async () => {
    const s = fx.sources.rgb;
    const [h, w] = s.shape;
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const src = upload('rgb');
    try {
      for (const blurSigma of [0, 1]) {
        const got = await run(src, [view({ crop: [0, 0, h, w], blurSigma })], { height: h, width: w, normalization: { mean, std }, blurRadius: 2 });
        let img = fromHWC(s.pixels, h, w, 3);
        if (blurSigma) img = blur(img, 2, 2, 1);
        const n = h * w;
        const ref = img.data.map((v, i) => (v - mean[Math.floor(i / n)]) / std[Math.floor(i / n)]);
        assertClose(got, ref, { rtol: 1e-5, atol: 1e-5 });
      }
    } finally {
      src.tensor.dispose();
    }
  });

  it('many views of several sources in one batch: each view reads its own source', async () => {
    const imgs = [10, 100, 200].map((v) => new Uint8Array(6 * 5 * 3).fill(v));
    const src = uploadSources(imgs, 6, 5, 3);
    try {
      const views = [2, 0, 1, 1, 2].map((source, i) => view({ source, crop: [i % 3, 0, 3, 4], flip: i % 2 === 1 }));
      const got = await run(src, views, { height: 4, width: 4 });
      views.forEach((v, i) => {
        const want = [10, 100, 200][v.source] / 255;
        for (let k = 0; k < 48; k++) expect(got[i * 48 + k]).to.be.closeTo(want, 1e-6);
      });
    } finally {
      src.tensor.dispose();
    }
  });

  it('frees its intermediates', async () => {
    const src = upload('rgb');
    const before = memoryStats().liveBuffers;
    const t = augmentViews(src, [view({ crop: [0, 0, 17, 23], blurSigma: 1, jitter: { order: [0, 1, 2, 3], brightness: 1.1, contrast: 0.9, saturation: 1.2, hue: 0.1 } })], {
      height: 16,
      width: 16,
      normalization: ID_NORM(3),
      blurKernelFraction: 0.2,
    });
    expect(memoryStats().liveBuffers).to.equal(before + 1);
    t.dispose();
    src.tensor.dispose();
  });

  describe('bad arguments', () => {
    let src: SourceBatch;
    before(() => {
      src = upload('rgb');
    });
    after(() => src.tensor.dispose());
    const out = { height: 4, width: 4, normalization: ID_NORM(3), blurKernelFraction: 0.1 };
    it('a crop outside the source', () => expectError(() => augmentViews(src, [view({ crop: [10, 0, 8, 4] })], out), /view 0 crop \[10, 0, 8, 4\] is not inside the 17x23 source/));
    it('an empty crop', () => expectError(() => augmentViews(src, [view({ crop: [0, 0, 0, 4] })], out), /not inside/));
    it('a source index past the batch', () => expectError(() => augmentViews(src, [view({ crop: [0, 0, 4, 4], source: 1 })], out), /view 0 reads source 1, batch has 1/));
    it('a jitter order that is not a permutation', () =>
      expectError(() => augmentViews(src, [view({ crop: [0, 0, 4, 4], jitter: { order: [0, 0, 1, 2], brightness: 1, contrast: 1, saturation: 1, hue: 0 } })], out), /permutation of 0\.\.3/));
    it('normalization of the wrong length', () => expectError(() => augmentViews(src, [view({ crop: [0, 0, 4, 4] })], { ...out, normalization: ID_NORM(1) }), /needs 3 means and stds/));
    it('a zero std', () => expectError(() => augmentViews(src, [view({ crop: [0, 0, 4, 4] })], { ...out, normalization: { mean: [0, 0, 0], std: [1, 0, 1] } }), /std must be > 0/));
    it('a blur radius as large as the side', () => expectError(() => augmentViews(src, [view({ crop: [0, 0, 4, 4], blurSigma: 1 })], { ...out, blurRadius: 4 }), /blur radius 4 must be smaller than the side 4/));
    it('no views', () => expectError(() => augmentViews(src, [], out), /no views/));
    it('sources of the wrong size', () => expectError(() => uploadSources([new Uint8Array(5)], 2, 2, 1), /image 0 has 5 bytes, expected 2x2x1/));
  });
});
