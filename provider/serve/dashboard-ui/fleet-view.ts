import type { DashboardSandbox } from "../dashboard-model.ts";

export type SortKey = "name" | "age" | "cpu" | "memory";
export type GroupKey = "app" | "pool" | "none";

export interface Group {
  key: string;
  title: string;
  sandboxes: DashboardSandbox[];
}

/** Whether a sandbox answers a search: words all found in its name, app, id, pool, place in it, state or tags (`key=value` too). */
export function matches(sandbox: DashboardSandbox, query: string): boolean {
  const words = query.trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const tags = Object.entries(sandbox.tags).flatMap(([k, v]) => [k, v, `${k}=${v}`]);
  const fields = [
    sandbox.name,
    sandbox.app,
    `${sandbox.app}/${sandbox.name}`,
    sandbox.id,
    sandbox.pool ?? "",
    sandbox.member ?? "",
    sandbox.status,
    ...tags,
  ].map((f) => f.toLowerCase());
  return words.every((word) => fields.some((f) => f.includes(word)));
}

/** Name A to Z; age oldest first; CPU and memory highest first (name breaks ties). */
export function sorted(sandboxes: readonly DashboardSandbox[], key: SortKey): DashboardSandbox[] {
  const byName = (a: DashboardSandbox, b: DashboardSandbox) =>
    `${a.app}/${a.name}`.localeCompare(`${b.app}/${b.name}`) || a.id.localeCompare(b.id);
  const value: Record<SortKey, (s: DashboardSandbox) => number> = {
    name: () => 0,
    age: (s) => Date.parse(s.createdAt),
    cpu: (s) => -(s.usage?.cpuPercent ?? -1),
    memory: (s) => -(s.usage?.memoryBytes ?? -1),
  };
  return [...sandboxes].sort((a, b) => value[key](a) - value[key](b) || byName(a, b));
}

/** A pool's members in the order of their lives: warm, being made, claimed. */
const MEMBER_ORDER: readonly DashboardSandbox["member"][] = ["ready", "pending", "claimed"];

/**
 * Sandboxes in groups: by app, or by pool and place in it (a pool's ready,
 * pending and claimed members apart; sandboxes of no pool last), or one group.
 */
export function grouped(sandboxes: readonly DashboardSandbox[], key: GroupKey): Group[] {
  if (key === "none") return [{ key: "all", title: "All sandboxes", sandboxes: [...sandboxes] }];
  const groups = new Map<string, Group>();
  for (const s of sandboxes) {
    const [groupKey, title] =
      key === "app"
        ? [s.app, s.app]
        : s.pool === undefined
          ? ["~", "not in a pool"]
          : [
              `${s.app}/${s.pool}/${String(MEMBER_ORDER.indexOf(s.member))}`,
              `${s.app}/${s.pool} · ${s.member === "ready" ? "warm" : (s.member ?? "")}`,
            ];
    const group = groups.get(groupKey) ?? { key: groupKey, title, sandboxes: [] };
    group.sandboxes.push(s);
    groups.set(groupKey, group);
  }
  // Sandboxes of no pool come last.
  return [...groups.values()].sort(
    (a, b) => Number(a.key === "~") - Number(b.key === "~") || a.key.localeCompare(b.key),
  );
}
