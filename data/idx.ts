// IDX files (the MNIST family's format), optionally gzipped: a 4-byte magic (0, 0, type, rank),
// `rank` big-endian u32 dimensions, then the values in row-major order, big-endian.
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dims: number[];
  type: 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
  data: IdxData;
}

const TYPES: Record<number, { type: IdxArray['type']; bytes: number }> = {
  0x08: { type: 'uint8', bytes: 1 },
  0x09: { type: 'int8', bytes: 1 },
  0x0b: { type: 'int16', bytes: 2 },
  0x0c: { type: 'int32', bytes: 4 },
  0x0d: { type: 'float32', bytes: 4 },
  0x0e: { type: 'float64', bytes: 8 },
};

/** Parses IDX bytes (gunzipped first when they start with the gzip magic). `what` names the source in errors. */
export function parseIdx(bytes: Uint8Array, what = 'IDX data'): IdxArray {
  let b = bytes;
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
    try {
      b = gunzipSync(b);
    } catch (e) {
      throw new Error(`${what}: not a valid gzip stream (${(e as Error).message})`);
    }
  }
  if (b.length < 4) throw new Error(`${what}: ${b.length} bytes is too short for an IDX header`);
  if (b[0] !== 0 || b[1] !== 0) throw new Error(`${what}: bad IDX magic ${[...b.subarray(0, 4)].map((v) => v.toString(16).padStart(2, '0')).join(' ')}`);
  const t = TYPES[b[2]];
  if (!t) throw new Error(`${what}: unknown IDX element type 0x${b[2].toString(16)}`);
  const rank = b[3];
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const header = 4 + 4 * rank;
  if (b.length < header) throw new Error(`${what}: truncated IDX header (rank ${rank})`);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, d) => a * d, 1);
  const need = header + count * t.bytes;
  if (b.length < need) throw new Error(`${what}: truncated: dims [${dims.join(', ')}] need ${need} bytes, the file has ${b.length}`);
  if (b.length > need) throw new Error(`${what}: ${b.length - need} trailing bytes after dims [${dims.join(', ')}]`);
  let data: IdxData;
  switch (t.type) {
    case 'uint8':
      data = new Uint8Array(b.subarray(header, need));
      break;
    case 'int8':
      data = new Int8Array(b.slice(header, need).buffer);
      break;
    default: {
      const Ctor = { int16: Int16Array, int32: Int32Array, float32: Float32Array, float64: Float64Array }[t.type];
      const arr = new Ctor(count);
      const get = {
        int16: (o: number) => view.getInt16(o, false),
        int32: (o: number) => view.getInt32(o, false),
        float32: (o: number) => view.getFloat32(o, false),
        float64: (o: number) => view.getFloat64(o, false),
      }[t.type];
      for (let i = 0; i < count; i++) arr[i] = get(header + i * t.bytes);
      data = arr;
    }
  }
  return { dims, type: t.type, data };
}

/** Reads an IDX file (plain or .gz). */
export function readIdx(path: string): IdxArray {
  if (!existsSync(path)) throw new Error(`IDX file not found: ${path}`);
  return parseIdx(readFileSync(path), path);
}
