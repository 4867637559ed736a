import type { UsagePoint } from "./dashboard-model.ts";

/**
 * Each sandbox's recent CPU and memory, as a bounded ring: at most
 * `maxPoints` samples, none older than `windowMs`. A sandbox gone from the
 * engine loses its ring, so the whole stays bounded by what exists.
 */
export class UsageHistory {
  readonly #rings = new Map<string, UsagePoint[]>();
  readonly #windowMs: number;
  readonly #maxPoints: number;

  constructor(params: { windowMs: number; maxPoints: number }) {
    this.#windowMs = params.windowMs;
    this.#maxPoints = params.maxPoints;
  }

  add(id: string, point: UsagePoint): void {
    const ring = this.#rings.get(id) ?? [];
    ring.push(point);
    const oldest = point[0] - this.#windowMs;
    let drop = Math.max(0, ring.length - this.#maxPoints);
    while (drop < ring.length && (ring[drop]?.[0] ?? 0) < oldest) drop++;
    if (drop > 0) ring.splice(0, drop);
    this.#rings.set(id, ring);
  }

  /** Forgets every sandbox not among these. */
  keepOnly(ids: ReadonlySet<string>): void {
    for (const id of this.#rings.keys()) if (!ids.has(id)) this.#rings.delete(id);
  }

  of(id: string): readonly UsagePoint[] {
    return this.#rings.get(id) ?? [];
  }

  all(): Record<string, UsagePoint[]> {
    return Object.fromEntries([...this.#rings].map(([id, ring]) => [id, [...ring]]));
  }
}
