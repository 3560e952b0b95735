// Image folders: layouts and labels, lazy decoding into a bounded cache, worker threads, and every
// broken-file case skipped with one warning and counted at the end of the epoch.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import pngjs from 'pngjs';
import { ImageFolder } from '../../data/image_folder.js';
import { DataLoader } from '../../data/loader.js';
import { memoryStats } from '../../engine/index.js';
import { expectError, loadFixture, REPO_ROOT } from '../helpers.js';

const FIX = `${REPO_ROOT}test/fixtures/images/`;
const broken = loadFixture<{ broken: { file: string; kind: string }[] }>('data_images').broken;

function solidPng(h: number, w: number, rgb: [number, number, number]): Buffer {
  const png = new pngjs.PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) png.data.set([...rgb, 255], 4 * i);
  return pngjs.PNG.sync.write(png);
}

describe('data/image_folder', () => {
  let root = '';
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'imgfolder-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function classLayout(): string {
    for (const d of ['zebra', 'apple', 'mango/ripe']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(FIX + 'rgb8.png', join(root, 'zebra', 'z1.png'));
    copyFileSync(FIX + 'rgb_baseline.jpg', join(root, 'zebra', 'z2.jpg'));
    copyFileSync(FIX + 'gray8.png', join(root, 'apple', 'a1.png'));
    copyFileSync(FIX + 'palette4.png', join(root, 'mango', 'm0.png'));
    copyFileSync(FIX + 'interlaced_rgba8.png', join(root, 'mango', 'ripe', 'm1.png'));
    writeFileSync(join(root, 'zebra', '.hidden.png'), 'x');
    writeFileSync(join(root, 'README'), 'top-level file');
    return root;
  }

  it('class folders: labels from the sorted folder names, nested files included, hidden files ignored', async () => {
    const warnings: string[] = [];
    const ds = new ImageFolder(classLayout(), { size: 8, workers: 0, onWarning: (m) => warnings.push(m) });
    expect(ds.classes).to.deep.equal(['apple', 'mango', 'zebra']);
    expect(ds.files.map((f) => f.slice(root.length + 1))).to.deep.equal(['apple/a1.png', 'mango/m0.png', 'mango/ripe/m1.png', 'zebra/z1.png', 'zebra/z2.jpg']);
    expect([...ds.labels]).to.deep.equal([0, 1, 1, 2, 2]);
    expect(warnings.length).to.equal(1);
    expect(warnings[0]).to.match(/ignoring 1 file\(s\) at the top.*README/);
    for (let i = 0; i < ds.length; i++) {
      const s = (await ds.load(i))!;
      expect(s.label).to.equal(ds.labels[i]);
      expect(s.pixels.length).to.equal(8 * 8 * 3);
    }
  });

  it('a flat folder is unlabeled', async () => {
    copyFileSync(FIX + 'rgb8.png', join(root, 'b.png'));
    copyFileSync(FIX + 'gray_progressive.jpg', join(root, 'a.jpg'));
    const ds = new ImageFolder(root, { size: [5, 6], workers: 0 });
    expect(ds.classes).to.equal(null);
    expect([...ds.labels]).to.deep.equal([-1, -1]);
    expect([ds.height, ds.width, ds.channels]).to.deep.equal([5, 6, 3]);
    const s = (await ds.load(0))!;
    expect(s.label).to.equal(-1);
    expect(s.pixels.length).to.equal(90);
  });

  it('decodes at the configured size and channels; format by content, not name', async () => {
    writeFileSync(join(root, 'red.jpg'), solidPng(7, 9, [200, 40, 10])); // a PNG named .jpg
    const rgb = new ImageFolder(root, { size: 4, workers: 0 });
    const px = (await rgb.load(0))!.pixels;
    expect([...px.subarray(0, 3)]).to.deep.equal([200, 40, 10]);
    expect(px.every((v, i) => v === [200, 40, 10][i % 3])).to.equal(true);
    const gray = new ImageFolder(root, { size: 4, channels: 1, workers: 0 });
    const g = (await gray.load(0))!.pixels;
    expect(g.length).to.equal(16);
    expect(g[0]).to.equal(Math.round(0.299 * 200 + 0.587 * 40 + 0.114 * 10));
  });

  it('a PNG of the configured size decodes to its exact pixels', async () => {
    copyFileSync(FIX + 'rgb16.png', join(root, 'x.png'));
    const want = loadFixture<{ png: { file: string; pixels: number[] }[] }>('data_images').png.find((c) => c.file === 'rgb16.png')!;
    const ds = new ImageFolder(root, { size: [11, 10], workers: 0 });
    expect([...(await ds.load(0))!.pixels]).to.deep.equal(want.pixels);
  });

  it('every broken file is skipped with one warning naming it; loading again does not warn again', async () => {
    copyFileSync(FIX + 'rgb8.png', join(root, 'good.png'));
    for (const b of broken) copyFileSync(FIX + b.file, join(root, b.file));
    symlinkSync(join(root, 'does-not-exist.png'), join(root, 'dangling.png'));
    const warnings: string[] = [];
    const ds = new ImageFolder(root, { size: 6, workers: 0, onWarning: (m) => warnings.push(m) });
    expect(ds.length).to.equal(broken.length + 2);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < ds.length; i++) {
        const s = await ds.load(i);
        expect(s === null, ds.files[i]).to.equal(!ds.files[i].endsWith('good.png'));
      }
    }
    expect(warnings.length).to.equal(broken.length + 1);
    for (const b of [...broken.map((x) => x.file), 'dangling.png']) {
      expect(warnings.filter((w) => w.includes(join(root, b))).length, b).to.equal(1);
    }
    expect(warnings.find((w) => w.includes('bad_empty.png'))).to.match(/empty file/);
    expect(warnings.find((w) => w.includes('bad_truncated.jpg'))).to.match(/truncated JPEG/);
    expect(warnings.find((w) => w.includes('bad_crc.png'))).to.match(/corrupt PNG/);
    expect(warnings.find((w) => w.includes('notes.txt'))).to.match(/not a PNG or JPEG/);
    expect(warnings.find((w) => w.includes('dangling.png'))).to.match(/cannot read the file \(ENOENT\)/);
    expect(ds.badItems().size).to.equal(broken.length + 1);
  });

  it('training over a folder with broken files never crashes; each epoch ends with a summary', async () => {
    for (let i = 0; i < 5; i++) copyFileSync(FIX + (i % 2 ? 'rgb_baseline.jpg' : 'rgba8.png'), join(root, `good${i}.${i % 2 ? 'jpg' : 'png'}`));
    for (const b of broken) copyFileSync(FIX + b.file, join(root, b.file));
    const warnings: string[] = [];
    const ds = new ImageFolder(root, { size: 16, workers: 0, onWarning: (m) => warnings.push(m) });
    const L = new DataLoader(ds, { batchSize: 2, seed: 4, onWarning: (m) => warnings.push(m) });
    for (let e = 0; e < 2; e++) {
      const sizes: number[] = [];
      for await (const b of L) {
        sizes.push(b.size);
        expect(b.views[0].shape).to.deep.equal([b.size, 3, 16, 16]);
        b.dispose();
      }
      expect(sizes).to.deep.equal([2, 2, 1]);
      expect(L.lastSummary).to.include({ epoch: e, images: 5, skipped: broken.length });
      expect(L.lastSummary!.skippedItems.map((s) => s.name).sort()).to.deep.equal(broken.map((b) => join(root, b.file)).sort());
      const summary = warnings[warnings.length - 1];
      expect(summary).to.match(new RegExp(`epoch ${e}: skipped ${broken.length} of ${broken.length + 5} items`));
    }
    expect(warnings.length).to.equal(broken.length + 2); // one per broken file, one summary per epoch
  });

  it('if every file is bad, the error says so', async () => {
    for (const b of broken) copyFileSync(FIX + b.file, join(root, b.file));
    const ds = new ImageFolder(root, { size: 8, workers: 0, onWarning: () => {} });
    const L = new DataLoader(ds, { batchSize: 4, onWarning: () => {} });
    const before = memoryStats().liveBuffers;
    let err: Error | null = null;
    try {
      for await (const b of L) b.dispose();
    } catch (e) {
      err = e as Error;
    }
    expect(err, 'an error').to.not.equal(null);
    expect(err!.message).to.match(new RegExp(`every one of the ${broken.length} items of ImageFolder\\(.*\\) failed to load`));
    expect(memoryStats().liveBuffers).to.equal(before);
  });

  it('bounded cache: a folder bigger than the cache is decoded again as needed, with the same pixels', async () => {
    for (let i = 0; i < 6; i++) writeFileSync(join(root, `s${i}.png`), solidPng(9, 9, [i * 40, 255 - i * 40, 7]));
    const bytesPerImage = 12 * 12 * 3;
    const ds = new ImageFolder(root, { size: 12, workers: 0, cacheBytes: 2 * bytesPerImage });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 6; i++) {
        const px = (await ds.load(i))!.pixels;
        expect([px[0], px[1], px[2]]).to.deep.equal([i * 40, 255 - i * 40, 7]);
        expect(ds.cacheStats().bytes).to.be.at.most(2 * bytesPerImage);
      }
    }
    expect(ds.decodes).to.equal(12);
    const big = new ImageFolder(root, { size: 12, workers: 0 });
    for (let round = 0; round < 2; round++) for (let i = 0; i < 6; i++) await big.load(i);
    expect(big.decodes).to.equal(6);
    expect(big.cacheStats().hits).to.equal(6);
  });

  it('concurrent loads of one file decode it once', async () => {
    copyFileSync(FIX + 'rgb_progressive.jpg', join(root, 'a.jpg'));
    const ds = new ImageFolder(root, { size: 8, workers: 0 });
    const all = await Promise.all([ds.load(0), ds.load(0), ds.load(0)]);
    expect(ds.decodes).to.equal(1);
    expect(all[0]!.pixels).to.equal(all[2]!.pixels);
  });

  it('worker threads decode the same pixels and report broken files the same way', async () => {
    copyFileSync(FIX + 'rgb_baseline_420.jpg', join(root, 'a.jpg'));
    copyFileSync(FIX + 'interlaced_rgb16.png', join(root, 'b.png'));
    copyFileSync(FIX + 'bad_truncated.png', join(root, 'c.png'));
    const warnA: string[] = [];
    const warnB: string[] = [];
    const main = new ImageFolder(root, { size: 10, workers: 0, onWarning: (m) => warnA.push(m) });
    const pooled = new ImageFolder(root, { size: 10, workers: 2, onWarning: (m) => warnB.push(m) });
    try {
      for (let i = 0; i < 3; i++) {
        const [a, b] = await Promise.all([main.load(i), pooled.load(i)]);
        if (i < 2) expect([...b!.pixels]).to.deep.equal([...a!.pixels]);
        else expect([a, b]).to.deep.equal([null, null]);
      }
      expect(warnB).to.deep.equal(warnA);
    } finally {
      await pooled.close();
    }
  });

  describe('bad arguments', () => {
    it('a missing root', () => expectError(() => new ImageFolder(join(root, 'nope'), { size: 8 }), /nope does not exist/));
    it('a file as root', () => {
      writeFileSync(join(root, 'f'), 'x');
      expectError(() => new ImageFolder(join(root, 'f'), { size: 8 }), /is not a folder/);
    });
    it('an empty folder', () => expectError(() => new ImageFolder(root, { size: 8 }), /no files under/));
    it('no size', () => expectError(() => new ImageFolder(root, {} as { size: number }), /options\.size is required/));
    it('a bad size', () => expectError(() => new ImageFolder(root, { size: [4, 0] }), /size must be positive integers/));
    it('bad channels', () => expectError(() => new ImageFolder(root, { size: 4, channels: 2 as 1 }), /channels must be 1 or 3/));
    it('a bad fit', () => expectError(() => new ImageFolder(root, { size: 4, fit: 'cover' as 'stretch' }), /fit must be 'stretch' or 'center-crop'/));
    it('bad workers', () => expectError(() => new ImageFolder(root, { size: 4, workers: -1 }), /workers must be a non-negative integer/));
  });
});
