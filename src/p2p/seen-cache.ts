/**
 * A bounded set of recently seen message ids with expiry: floods are de-duplicated against it.
 * Insertion order is expiry order (every id lives `ttl` ms), so both eviction by size and by age
 * take from the front of one Map. Use from one loop.
 *
 *   oldest ──────────────────────────────► newest
 *   [expired…][live ids, each until addedAt + ttl]   size ≤ max
 */
export class SeenCache {
  private readonly ids = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly ttl: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.ids.size;
  }

  /** Records `id`; returns false when it was already seen (and not yet expired). */
  add(id: string): boolean {
    const t = this.now();
    this.purge(t);
    if (this.ids.has(id)) return false;
    this.ids.set(id, t + this.ttl);
    while (this.ids.size > this.max) this.ids.delete(this.ids.keys().next().value!);
    return true;
  }

  has(id: string): boolean {
    const until = this.ids.get(id);
    return until !== undefined && until > this.now();
  }

  /** Drops expired ids from the front. */
  purge(t = this.now()): void {
    for (const [id, until] of this.ids) {
      if (until > t) break;
      this.ids.delete(id);
    }
  }
}
