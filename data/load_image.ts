// One image file -> bytes at the dataset's size and channel count: read, decode, convert channels,
// fit (stretch the whole image, or scale the shorter side and take the centre), resize.
// Shared by the main thread and the decode workers.
import { readFile } from 'node:fs/promises';
import { decodeImage, ImageDecodeError } from './decode.js';
import { resizeImage } from './resize.js';

export type Fit = 'stretch' | 'center-crop';

export interface Target {
  height: number;
  width: number;
  channels: 1 | 3;
  fit: Fit;
}

/** The centred box of the source with the target's aspect ratio: [y0, x0, h, w]. */
export function centerBox(h: number, w: number, th: number, tw: number): [number, number, number, number] {
  const scale = Math.min(h / th, w / tw);
  const ch = Math.min(h, Math.max(1, Math.round(th * scale)));
  const cw = Math.min(w, Math.max(1, Math.round(tw * scale)));
  return [Math.floor((h - ch) / 2), Math.floor((w - cw) / 2), ch, cw];
}

export function fitImage(data: Uint8Array, h: number, w: number, c: number, t: Target): Uint8Array {
  let src = data;
  let sh = h;
  let sw = w;
  if (t.fit === 'center-crop') {
    const [y0, x0, ch, cw] = centerBox(h, w, t.height, t.width);
    if (ch !== h || cw !== w) {
      src = new Uint8Array(ch * cw * c);
      for (let y = 0; y < ch; y++) src.set(data.subarray(((y0 + y) * w + x0) * c, ((y0 + y) * w + x0 + cw) * c), y * cw * c);
      sh = ch;
      sw = cw;
    }
  } else if (t.fit !== 'stretch') {
    throw new Error(`fit must be 'stretch' or 'center-crop', got '${t.fit}'`);
  }
  return resizeImage(src, sh, sw, c, t.height, t.width, t.channels);
}

export async function loadImageFile(path: string, t: Target): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new ImageDecodeError(`cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const img = decodeImage(bytes);
  const out = fitImage(img.data, img.height, img.width, img.channels, t);
  // own, compact buffer (transferable from a worker)
  return out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? out : out.slice();
}
