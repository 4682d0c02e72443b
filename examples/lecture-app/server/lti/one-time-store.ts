// Single-use values with a lifetime: a login's state and nonce, the nonces of
// id_tokens already used, the handover codes. Bounded: /lti/login is open to
// anyone, so an unbounded map would be a memory leak on demand; past
// `capacity` the oldest entries go first (Map keeps insertion order).

export class OneTimeStore<T> {
  readonly #entries = new Map<string, { value: T; expiresAt: number }>();

  constructor(private readonly capacity: number, private readonly now: () => number = Date.now) {}

  /** Keeps `value` under `key` for `ttlMs` (replacing an entry of the same key). */
  put(key: string, value: T, ttlMs: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt: this.now() + ttlMs });
    this.#sweep();
    while (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /** The value, removed: a second take of the same key finds nothing. Undefined once expired. */
  take(key: string): T | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    return entry.expiresAt > this.now() ? entry.value : undefined;
  }

  /** Whether `key` is held and unexpired (not consumed). */
  has(key: string): boolean {
    const entry = this.#entries.get(key);
    return entry !== undefined && entry.expiresAt > this.now();
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Drops expired entries from the front (oldest first; entries of one store share a TTL, so this is nearly ordered). */
  #sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt > now) break;
      this.#entries.delete(key);
    }
  }
}
