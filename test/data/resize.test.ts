// Host resizing against torch.nn.functional.interpolate(bilinear, antialias=True), channel conversion.
import { expect } from 'chai';
import { convertChannels, resizeFloat, resizeImage } from '../../data/resize.js';
import { centerBox, fitImage } from '../../data/load_image.js';
import { assertClose, expectError, loadFixture } from '../helpers.js';

interface Fx {
  resize: { shape: number[]; pixels: number[]; cases: { out: [number, number]; expected: number[] }[] };
}
const fx = loadFixture<Fx>('data_augment');

describe('data/resize', () => {
  const [h, w, c] = fx.resize.shape;
  for (const cs of fx.resize.cases) {
    it(`${h}x${w} -> ${cs.out.join('x')} matches torch (antialiased bilinear)`, () => {
      const out = resizeFloat(fx.resize.pixels, h, w, c, cs.out[0], cs.out[1]);
      assertClose(out, cs.expected, { rtol: 1e-5, atol: 1e-3 });
    });
  }
  it('rounds to bytes and keeps a constant image constant', () => {
    const src = new Uint8Array(5 * 7 * 3).fill(77);
    const out = resizeImage(src, 5, 7, 3, 11, 4, 3);
    expect(out.length).to.equal(11 * 4 * 3);
    expect(out.every((v) => v === 77)).to.equal(true);
  });
  it('RGB -> gray uses 0.299 / 0.587 / 0.114', () => {
    const g = convertChannels(Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]), 3, 1);
    assertClose(g, [0.299 * 255, 0.587 * 255, 0.114 * 255, 0.299 * 10 + 0.587 * 20 + 0.114 * 30], { rtol: 1e-6 });
    expect([...convertChannels(Uint8Array.from([9, 200]), 1, 3)]).to.deep.equal([9, 9, 9, 200, 200, 200]);
  });
  it('center-crop fit keeps the centre with the target aspect', () => {
    expect(centerBox(10, 20, 5, 5)).to.deep.equal([0, 5, 10, 10]);
    expect(centerBox(30, 10, 4, 8)).to.deep.equal([12, 0, 5, 10]);
    // a 2x4 image with distinct left, centre, right columns: a square centre crop keeps columns 1-2
    const src = Uint8Array.from([0, 50, 60, 255, 0, 50, 60, 255]);
    expect([...fitImage(src, 2, 4, 1, { height: 2, width: 2, channels: 1, fit: 'center-crop' })]).to.deep.equal([50, 60, 50, 60]);
    expect([...fitImage(src, 2, 4, 1, { height: 2, width: 4, channels: 1, fit: 'stretch' })]).to.deep.equal([...src]);
  });
  it('rejects mismatched sizes', () => {
    expectError(() => resizeFloat([1, 2, 3], 2, 2, 1, 1, 1), /3 values for a 2x2x1 image/);
    expectError(() => resizeFloat([1, 2, 3, 4], 2, 2, 1, 0, 1), /bad output size/);
  });
});
