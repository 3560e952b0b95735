// Decoding PNG (pngjs: 1/2/4/8/16-bit; gray, gray+alpha, RGB, RGBA, palette; interlaced) and JPEG
// (jpeg-js: baseline and progressive; gray and color) into 8-bit RGB or gray. The format is told by
// the file's first bytes, never by its name. Alpha is dropped (as PIL's convert('RGB')); 16-bit
// samples become round(v * 255 / 65535). Every failure is an ImageDecodeError whose message says
// what is wrong: an empty file, not an image, truncated, corrupt.
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';

export class ImageDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageDecodeError';
  }
}

export interface DecodedImage {
  width: number;
  height: number;
  channels: 1 | 3;
  /** height × width × channels bytes. */
  data: Uint8Array;
  format: 'png' | 'jpeg';
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function sniffFormat(bytes: Uint8Array): 'png' | 'jpeg' | null {
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

/** Largest image accepted (pixels): guards against decompression bombs. */
export const MAX_PIXELS = 100_000_000;

function decodePng(bytes: Uint8Array): DecodedImage {
  // IEND must be present: pngjs accepts some files cut after the last IDAT.
  const tail = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (tail.lastIndexOf('IEND', undefined, 'latin1') < 0) throw new ImageDecodeError('truncated PNG (no IEND chunk)');
  let png: { width: number; height: number; data: Buffer; colorType?: number; color?: boolean; transColor?: number[]; depth?: number };
  try {
    png = pngjs.PNG.sync.read(tail) as unknown as typeof png;
  } catch (e) {
    throw new ImageDecodeError(`corrupt PNG (${(e as Error).message})`);
  }
  const { width, height, data } = png;
  if (!(width > 0 && height > 0) || data.length !== width * height * 4) throw new ImageDecodeError(`corrupt PNG (bad dimensions ${width}x${height})`);
  const colorType = png.colorType ?? 6;
  const isGray = colorType === 0 || colorType === 4;
  // pngjs zeroes all four bytes of pixels equal to a tRNS colour; restore the colour (alpha is dropped).
  let trans: number[] | null = null;
  if (png.transColor && (colorType === 0 || colorType === 2)) {
    const depth = png.depth ?? 8;
    trans = png.transColor.map((v) => Math.floor((v * 255) / (2 ** depth - 1) + 0.5));
  }
  const n = width * height;
  const c = isGray ? 1 : 3;
  const out = new Uint8Array(n * c);
  for (let i = 0; i < n; i++) {
    const transparentKey = trans !== null && data[4 * i + 3] === 0;
    if (isGray) out[i] = transparentKey ? trans![0] : data[4 * i];
    else if (transparentKey) {
      out[3 * i] = trans![0];
      out[3 * i + 1] = trans![1];
      out[3 * i + 2] = trans![2];
    } else {
      out[3 * i] = data[4 * i];
      out[3 * i + 1] = data[4 * i + 1];
      out[3 * i + 2] = data[4 * i + 2];
    }
  }
  return { width, height, channels: c, data: out, format: 'png' };
}

/** Number of components in the JPEG's frame header (SOFn), or 0 if none is found. */
function jpegComponents(bytes: Uint8Array): number {
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return 0;
    const m = bytes[i + 1];
    if (m === 0xff) {
      i++;
      continue;
    }
    const len = (bytes[i + 2] << 8) | bytes[i + 3];
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return bytes[i + 9];
    if (m === 0xda) return 0;
    i += 2 + len;
  }
  return 0;
}

function decodeJpeg(bytes: Uint8Array): DecodedImage {
  // A file cut short may still parse in part; without its EOI marker it is treated as truncated.
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0x00) end--; // padding some writers append
  if (end < 4 || bytes[end - 2] !== 0xff || bytes[end - 1] !== 0xd9) throw new ImageDecodeError('truncated JPEG (no EOI marker)');
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, tolerantDecoding: false, maxResolutionInMP: MAX_PIXELS / 1e6, maxMemoryUsageInMB: 1024 });
  } catch (e) {
    throw new ImageDecodeError(`corrupt JPEG (${e instanceof Error ? e.message : String(e)})`);
  }
  const { width, height, data } = img;
  if (!(width > 0 && height > 0) || data.length !== width * height * 3) throw new ImageDecodeError(`corrupt JPEG (bad dimensions ${width}x${height})`);
  if (jpegComponents(bytes) === 1) {
    const g = new Uint8Array(width * height);
    for (let i = 0; i < g.length; i++) g[i] = data[3 * i];
    return { width, height, channels: 1, data: g, format: 'jpeg' };
  }
  return { width, height, channels: 3, data, format: 'jpeg' };
}

/** Decodes PNG or JPEG bytes; throws ImageDecodeError with the reason otherwise. */
export function decodeImage(bytes: Uint8Array): DecodedImage {
  if (bytes.length === 0) throw new ImageDecodeError('empty file (0 bytes)');
  const fmt = sniffFormat(bytes);
  if (fmt === 'png') return decodePng(bytes);
  if (fmt === 'jpeg') return decodeJpeg(bytes);
  const head = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new ImageDecodeError(`not a PNG or JPEG image (starts with bytes ${head})`);
}
