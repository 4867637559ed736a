import { useEffect, useRef, useState } from "preact/hooks";
import { openFeed, type DashboardOverview, type UsagePoint } from "./api.ts";
import { Detail } from "./detail.tsx";
import { Fleet } from "./fleet.tsx";
import { matches, type GroupKey, type SortKey } from "./fleet-view.ts";

/** As many samples as the server keeps: ten minutes at one every two seconds. */
const MAX_POINTS = 301;

export function App() {
  const [overview, setOverview] = useState<DashboardOverview | undefined>();
  const [connected, setConnected] = useState(false);
  const [app, setApp] = useState("");
  const [query, setQuery] = useState("");
  const [sort, setSort] = useState<SortKey>("name");
  const [group, setGroup] = useState<GroupKey>("app");
  const [selected, setSelected] = useState<string | undefined>();
  const [now, setNow] = useState(Date.now());
  const history = useRef(new Map<string, UsagePoint[]>());
  const [, setHistoryVersion] = useState(0);

  useEffect(
    () =>
      openFeed({
        overview: (next) => {
          setOverview(next);
          const ids = new Set(next.sandboxes.map((s) => s.id));
          for (const id of history.current.keys()) if (!ids.has(id)) history.current.delete(id);
        },
        history: (all) => {
          history.current = new Map(Object.entries(all));
          setHistoryVersion((v) => v + 1);
        },
        samples: (points) => {
          for (const [id, point] of Object.entries(points)) {
            const ring = history.current.get(id) ?? [];
            ring.push(point);
            if (ring.length > MAX_POINTS) ring.splice(0, ring.length - MAX_POINTS);
            history.current.set(id, ring);
          }
          setHistoryVersion((v) => v + 1);
        },
        connected: setConnected,
      }),
    [],
  );
  // Ages, idle times and deadlines count on between pushes.
  useEffect(() => {
    const timer = setInterval(() => {
      setNow(Date.now());
    }, 1000);
    return () => {
      clearInterval(timer);
    };
  }, []);

  const pools = overview?.pools.filter((p) => !app || p.app === app) ?? [];
  const inApp = overview?.sandboxes.filter((s) => !app || s.app === app) ?? [];
  const shown = inApp.filter((s) => matches(s, query));
  const chosen = overview?.sandboxes.find((s) => s.id === selected);
  const engine = overview?.engineInfo;

  return (
    <main>
      <header>
        <h1>sandfleet</h1>
        <span class={`kind ${engine?.kind.toLowerCase() ?? ""}`} data-testid="engine-kind">
          {engine?.kind ?? "…"}
        </span>
        <span class="engine" data-testid="engine" title={engine?.facts.join(" · ")}>
          {overview?.engine ?? "connecting…"}
          {engine && engine.facts.length > 0 && <span class="facts"> · {engine.facts.join(" · ")}</span>}
        </span>
        <span class={`live ${connected ? "on" : "off"}`} data-testid="live">
          {connected ? "live" : "reconnecting…"}
        </span>
      </header>
      <div class="toolbar">
        <input
          type="search"
          placeholder="search name, id, tag…"
          aria-label="search"
          value={query}
          onInput={(e) => {
            setQuery((e.target as HTMLInputElement).value);
          }}
        />
        <label>
          app{" "}
          <select
            aria-label="app"
            value={app}
            onChange={(e) => {
              setApp((e.target as HTMLSelectElement).value);
            }}
          >
            <option value="">all</option>
            {overview?.apps.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <label>
          group by{" "}
          <select
            aria-label="group by"
            value={group}
            onChange={(e) => {
              setGroup((e.target as HTMLSelectElement).value as GroupKey);
            }}
          >
            <option value="app">app</option>
            <option value="pool">pool</option>
            <option value="none">nothing</option>
          </select>
        </label>
        <label>
          sort by{" "}
          <select
            aria-label="sort by"
            value={sort}
            onChange={(e) => {
              setSort((e.target as HTMLSelectElement).value as SortKey);
            }}
          >
            <option value="name">name</option>
            <option value="age">age</option>
            <option value="cpu">CPU</option>
            <option value="memory">memory</option>
          </select>
        </label>
        <span class="quiet" data-testid="count">
          {shown.length} of {inApp.length}
        </span>
      </div>
      {pools.length > 0 && (
        <section>
          <h2>Pools</h2>
          <div class="pools">{pools.map(PoolCard)}</div>
        </section>
      )}
      {chosen && (
        <Detail
          key={chosen.id}
          sandbox={chosen}
          history={history.current.get(chosen.id) ?? []}
          now={now}
          version={overview?.version ?? 0}
          onClose={() => {
            setSelected(undefined);
          }}
        />
      )}
      <section>
        <h2>Sandboxes</h2>
        <Fleet
          sandboxes={shown}
          group={group}
          sort={sort}
          history={history.current}
          now={now}
          selected={selected}
          onSelect={setSelected}
        />
      </section>
    </main>
  );
}

function PoolCard(pool: DashboardOverview["pools"][number]) {
  const share = (n: number) => `${String(Math.min(100, (100 * n) / Math.max(pool.replicas, 1)))}%`;
  return (
    <div class="pool" key={`${pool.app}/${pool.name}`} data-testid={`pool-${pool.app}-${pool.name}`}>
      <div class="pool-name">
        {pool.app}/<b>{pool.name}</b>
      </div>
      <div class="bar" title={`${String(pool.ready)} ready of ${String(pool.replicas)}`}>
        <div class="fill ready" style={{ width: share(pool.ready) }} />
      </div>
      <dl>
        <dt>ready</dt>
        <dd data-testid="ready">
          {pool.ready}/{pool.replicas}
        </dd>
        <dt>claimed</dt>
        <dd data-testid="claimed">{pool.claimed}</dd>
        <dt>paused</dt>
        <dd data-testid="paused">{pool.paused}</dd>
        <dt>pending</dt>
        <dd>{pool.pending}</dd>
      </dl>
    </div>
  );
}
