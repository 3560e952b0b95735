// A least-recently-used cache bounded in bytes (decoded images of a folder bigger than memory).

export class ByteLRU<K, V extends { byteLength: number }> {
  private map = new Map<K, V>();
  private used = 0;
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes: number) {
    if (!(maxBytes >= 0)) throw new Error(`cache: maxBytes must be >= 0, got ${maxBytes}`);
  }

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key); // re-insert: Map order is recency order
    this.map.set(key, v);
    return v;
  }

  /** Stores v unless it alone exceeds the budget; evicts the least recently used entries to fit. */
  set(key: K, v: V): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.used -= old.byteLength;
      this.map.delete(key);
    }
    if (v.byteLength > this.maxBytes) return;
    this.map.set(key, v);
    this.used += v.byteLength;
    for (const [k, e] of this.map) {
      if (this.used <= this.maxBytes) break;
      this.map.delete(k);
      this.used -= e.byteLength;
    }
  }

  get bytes(): number {
    return this.used;
  }
  get size(): number {
    return this.map.size;
  }
  clear(): void {
    this.map.clear();
    this.used = 0;
  }
}
