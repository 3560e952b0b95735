// Decoding: every PNG variant exactly (fixtures written by scripts/fixtures/data.py's own PNG
// encoder), JPEGs against libjpeg's decode, and every broken-file case as a clear ImageDecodeError.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { decodeImage, ImageDecodeError, sniffFormat } from '../../data/decode.js';
import { loadFixture, REPO_ROOT } from '../helpers.js';

interface ImgCase {
  file: string;
  width: number;
  height: number;
  channels: number;
  pixels: number[];
  subsampling?: string;
  progressive?: boolean;
}
interface Fixture {
  png: ImgCase[];
  jpeg: ImgCase[];
  broken: { file: string; kind: string }[];
}

const fx = loadFixture<Fixture>('data_images');
const read = (f: string) => readFileSync(`${REPO_ROOT}test/fixtures/images/${f}`);

function decodeError(bytes: Uint8Array): ImageDecodeError {
  try {
    decodeImage(bytes);
  } catch (e) {
    expect(e).to.be.instanceOf(ImageDecodeError);
    return e as ImageDecodeError;
  }
  throw new Error('expected an ImageDecodeError, the file decoded');
}

describe('data/decode: PNG (pngjs)', () => {
  it('covers every colour type, bit depth and interlacing', () => {
    const names = fx.png.map((c) => c.file).join(' ');
    for (const n of ['gray1', 'gray2', 'gray4', 'gray8', 'gray16', 'grayalpha8', 'grayalpha16', 'rgb8', 'rgb16', 'rgba8', 'rgba16', 'palette1', 'palette8', 'interlaced_rgb16', 'interlaced_palette4', 'rgb8_trns']) {
      expect(names).to.include(`${n}.png`);
    }
  });
  for (const c of fx.png) {
    it(`decodes ${c.file} exactly (${c.height}x${c.width}, ${c.channels} channel${c.channels > 1 ? 's' : ''})`, () => {
      const img = decodeImage(read(c.file));
      expect(img.format).to.equal('png');
      expect([img.height, img.width, img.channels]).to.deep.equal([c.height, c.width, c.channels]);
      const mismatch = c.pixels.findIndex((v, i) => img.data[i] !== v);
      expect(mismatch, `first differing byte`).to.equal(-1);
    });
  }
});

describe('data/decode: JPEG (jpeg-js)', () => {
  for (const c of fx.jpeg) {
    it(`decodes ${c.file} (${c.progressive ? 'progressive' : 'baseline'}, ${c.channels === 1 ? 'gray' : 'colour ' + c.subsampling}) like libjpeg`, () => {
      const img = decodeImage(read(c.file));
      expect(img.format).to.equal('jpeg');
      expect([img.height, img.width, img.channels]).to.deep.equal([c.height, c.width, c.channels]);
      let max = 0;
      let sum = 0;
      c.pixels.forEach((v, i) => {
        const d = Math.abs(img.data[i] - v);
        max = Math.max(max, d);
        sum += d;
      });
      // IDCT rounding differs by a level or two; jpeg-js upsamples chroma by replication where
      // libjpeg interpolates, so 4:2:0 colour differs more at edges.
      const [maxTol, meanTol] = c.subsampling === '4:2:0' ? [24, 5] : [4, 1];
      expect(max, 'max abs difference').to.be.at.most(maxTol);
      expect(sum / c.pixels.length, 'mean abs difference').to.be.at.most(meanTol);
    });
  }
});

describe('data/decode: broken files', () => {
  const patterns: Record<string, RegExp> = {
    'zero-byte': /empty file/,
    truncated: /truncated/,
    corrupt: /corrupt/,
    'not-an-image': /not a PNG or JPEG/,
  };
  for (const b of fx.broken) {
    it(`${b.file} (${b.kind}) fails with a clear error`, () => {
      const e = decodeError(read(b.file));
      expect(e.message).to.match(patterns[b.kind]);
    });
  }
  it('random bytes after a PNG signature are corrupt, not a crash', () => {
    const bytes = new Uint8Array(300);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
    bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    bytes.set([0x49, 0x45, 0x4e, 0x44], 290); // an IEND tag, so the bytes reach pngjs
    expect(decodeError(bytes).message).to.match(/corrupt PNG/);
  });
  it('tells the format by content, not by name', () => {
    expect(sniffFormat(read('rgb8.png'))).to.equal('png');
    expect(sniffFormat(read('gray_baseline.jpg'))).to.equal('jpeg');
    expect(sniffFormat(read('bad_text.jpg'))).to.equal(null);
  });
});
