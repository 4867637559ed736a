import { useEffect, useState } from "preact/hooks";
import {
  act,
  fetchOverview,
  follow,
  type Action,
  type DashboardOverview,
  type DashboardSandbox,
  type LogChunk,
  type SandboxEvent,
} from "./api.ts";

const REFRESH_MS = 2000;

export function App() {
  const [overview, setOverview] = useState<DashboardOverview | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [app, setApp] = useState<string>("");
  const [selected, setSelected] = useState<string | undefined>();
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let stopped = false;
    const load = () => {
      fetchOverview().then(
        (next) => {
          if (stopped) return;
          setOverview(next);
          setError(undefined);
        },
        (e: unknown) => {
          if (!stopped) setError(e instanceof Error ? e.message : String(e));
        },
      );
    };
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [tick]);

  const pools = overview?.pools.filter((p) => !app || p.app === app) ?? [];
  const sandboxes = overview?.sandboxes.filter((s) => !app || s.app === app) ?? [];
  const chosen = overview?.sandboxes.find((s) => s.id === selected);

  return (
    <main>
      <header>
        <h1>sandfleet</h1>
        <span class="engine" data-testid="engine">
          {overview?.engine ?? "connecting…"}
        </span>
        <label>
          app{" "}
          <select
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
      </header>
      {error && <p class="error">{error}</p>}
      <section>
        <h2>Pools</h2>
        {pools.length === 0 ? <p class="quiet">No warm pools.</p> : <div class="pools">{pools.map(PoolCard)}</div>}
      </section>
      <section>
        <h2>Sandboxes</h2>
        <SandboxTable sandboxes={sandboxes} selected={selected} onSelect={setSelected} />
      </section>
      {chosen && (
        <Detail
          key={chosen.id}
          sandbox={chosen}
          onChanged={() => {
            setTick((t) => t + 1);
          }}
        />
      )}
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

function SandboxTable(props: {
  sandboxes: DashboardSandbox[];
  selected: string | undefined;
  onSelect: (id: string) => void;
}) {
  if (props.sandboxes.length === 0) return <p class="quiet">No sandboxes.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th>sandbox</th>
          <th>pool</th>
          <th>state</th>
          <th>age</th>
          <th>idle</th>
          <th>limits</th>
          <th>cpu</th>
          <th>memory</th>
        </tr>
      </thead>
      <tbody>
        {props.sandboxes.map((s) => (
          <tr
            key={s.id}
            class={s.id === props.selected ? "selected" : ""}
            data-testid={`sandbox-${s.name}`}
            onClick={() => {
              props.onSelect(s.id);
            }}
          >
            <td>
              {s.app}/<b>{s.name}</b>
            </td>
            <td>
              {s.pool ?? ""}
              {s.member ? <span class="quiet"> · {s.member}</span> : ""}
            </td>
            <td>
              <span class={`state ${s.status}`} data-testid="state">
                {s.status}
                {s.exitCode !== undefined ? ` (${String(s.exitCode)})` : ""}
              </span>
            </td>
            <td>{duration(Date.now() - Date.parse(s.createdAt))}</td>
            <td>{s.idleForMs !== undefined ? duration(s.idleForMs) : ""}</td>
            <td class="quiet">
              {s.limits.cpu} cpu · {mib(s.limits.memoryBytes)} · {s.limits.pids} pids
            </td>
            <td>{s.usage ? `${s.usage.cpuPercent.toFixed(1)}%` : ""}</td>
            <td>{s.usage ? mib(s.usage.memoryBytes) : ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Detail(props: { sandbox: DashboardSandbox; onChanged: () => void }) {
  const { sandbox } = props;
  const [log, setLog] = useState("");
  const [events, setEvents] = useState<SandboxEvent[]>([]);
  const [extendBy, setExtendBy] = useState("30m");
  const [message, setMessage] = useState<string | undefined>();

  useEffect(
    () =>
      follow(`/api/sandboxes/${encodeURIComponent(sandbox.id)}/logs`, (m) => {
        setLog((l) => (l + (m as LogChunk).text).slice(-64 * 1024));
      }),
    [sandbox.id],
  );
  useEffect(
    () =>
      follow(`/api/events?app=${encodeURIComponent(sandbox.app)}`, (m) => {
        const e = m as SandboxEvent;
        if (e.id === sandbox.id) setEvents((list) => [...list, e].slice(-100));
      }),
    [sandbox.id, sandbox.app],
  );

  const run = (action: Action, body: Record<string, unknown> = {}) => {
    setMessage(`${action}…`);
    act(sandbox.id, action, body).then(
      () => {
        setMessage(`${action}: done`);
        props.onChanged();
      },
      (e: unknown) => {
        setMessage(`${action}: ${e instanceof Error ? e.message : String(e)}`);
      },
    );
  };
  const live = sandbox.status === "running" || sandbox.status === "paused";

  return (
    <section class="detail" data-testid="detail">
      <h2>
        {sandbox.app}/{sandbox.name} <span class={`state ${sandbox.status}`}>{sandbox.status}</span>
      </h2>
      <div class="actions">
        <button
          disabled={sandbox.status !== "running"}
          onClick={() => {
            run("pause");
          }}
        >
          Pause
        </button>
        <button
          disabled={sandbox.status !== "paused"}
          onClick={() => {
            run("resume");
          }}
        >
          Resume
        </button>
        <input
          value={extendBy}
          size={5}
          aria-label="new lifetime from now"
          onInput={(e) => {
            setExtendBy((e.target as HTMLInputElement).value);
          }}
        />
        <button
          disabled={!live}
          onClick={() => {
            run("extend", { duration: extendBy });
          }}
        >
          Extend
        </button>
        <button
          class="danger"
          disabled={!live}
          onClick={() => {
            run("terminate");
          }}
        >
          Terminate
        </button>
        {message && (
          <span class="quiet" data-testid="message">
            {message}
          </span>
        )}
      </div>
      <div class="columns">
        <div>
          <h3>Events</h3>
          <ul class="events" data-testid="events">
            {events.map((e) => (
              <li key={`${e.kind}-${e.time}`}>
                <time>{new Date(e.time).toLocaleTimeString()}</time> {e.kind}
                {e.reason ? ` (${e.reason})` : ""}
              </li>
            ))}
          </ul>
        </div>
        <div>
          <h3>Log</h3>
          <pre class="log" data-testid="log">
            {log}
          </pre>
        </div>
      </div>
    </section>
  );
}

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${String(s)}s`;
  if (s < 3600) return `${String(Math.floor(s / 60))}m ${String(s % 60)}s`;
  return `${String(Math.floor(s / 3600))}h ${String(Math.floor((s % 3600) / 60))}m`;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}
