/**
 * A bounded cache of compiled schemas and rules, keyed by their source text. Compiling costs milliseconds
 * (ajv generates code; CEL parses, checks and plans) and a server opens many databases that often carry
 * the same schemas and rules (one app, many projects), and reopens them after closing idle ones.
 * Compiled forms are pure functions of their source, so sharing them is safe.
 */
export class CompileCache<V> {
  readonly #max: number;
  readonly #map = new Map<string, V>();

  constructor(max: number) {
    this.#max = max;
  }

  get(key: string, build: () => V): V {
    const hit = this.#map.get(key);
    if (hit !== undefined) {
      // Map keeps insertion order: re-inserting marks the entry most recently used.
      this.#map.delete(key);
      this.#map.set(key, hit);
      return hit;
    }
    const v = build();
    this.#map.set(key, v);
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value!);
    return v;
  }

  get size(): number {
    return this.#map.size;
  }
}
