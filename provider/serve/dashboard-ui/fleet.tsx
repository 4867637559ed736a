import type { DashboardSandbox, UsagePoint } from "./api.ts";
import { Spark } from "./charts.tsx";
import { grouped, sorted, type GroupKey, type SortKey } from "./fleet-view.ts";
import { deadline, duration, idleNow, mib } from "./format.ts";

/** The sandboxes, in groups, each group a table sorted as asked. */
export function Fleet(props: {
  sandboxes: DashboardSandbox[];
  group: GroupKey;
  sort: SortKey;
  history: ReadonlyMap<string, readonly UsagePoint[]>;
  now: number;
  selected: string | undefined;
  onSelect: (id: string) => void;
}) {
  if (props.sandboxes.length === 0) return <p class="quiet">No sandboxes.</p>;
  return (
    <div class="groups">
      {grouped(sorted(props.sandboxes, props.sort), props.group).map((g) => (
        <section class="group" key={g.key} data-testid={`group-${g.title}`}>
          <h3>
            {g.title} <span class="quiet">({g.sandboxes.length})</span>
          </h3>
          <table>
            <thead>
              <tr>
                <th>sandbox</th>
                <th>pool</th>
                <th>state</th>
                <th>age</th>
                <th>idle</th>
                <th>deadline</th>
                <th>limits</th>
                <th>cpu</th>
                <th>memory</th>
              </tr>
            </thead>
            <tbody>
              {g.sandboxes.map((s) => (
                <Row
                  key={s.id}
                  sandbox={s}
                  history={props.history.get(s.id) ?? []}
                  now={props.now}
                  selected={s.id === props.selected}
                  onSelect={props.onSelect}
                />
              ))}
            </tbody>
          </table>
        </section>
      ))}
    </div>
  );
}

function Row(props: {
  sandbox: DashboardSandbox;
  history: readonly UsagePoint[];
  now: number;
  selected: boolean;
  onSelect: (id: string) => void;
}) {
  const s = props.sandbox;
  const tags = Object.entries(s.tags);
  return (
    <tr
      class={props.selected ? "selected" : ""}
      data-testid={`sandbox-${s.name}`}
      onClick={() => {
        props.onSelect(s.id);
      }}
    >
      <td>
        {s.app}/<b>{s.name}</b>
        <div class="quiet small">
          {s.id.slice(0, 12)}
          {tags.map(([k, v]) => (
            <span class="tag" key={k}>
              {k}={v}
            </span>
          ))}
        </div>
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
      <td data-testid="age">{duration(props.now - Date.parse(s.createdAt))}</td>
      <td data-testid="idle">{idleNow(s.idle, props.now)}</td>
      <td class="small" data-testid="row-deadline">
        {s.deadlineMs === undefined ? "" : deadline(s.deadlineMs, props.now)}
      </td>
      <td class="quiet small">
        {s.limits.cpu} cpu · {mib(s.limits.memoryBytes)} · {s.limits.pids} pids
      </td>
      <td class="usage">
        <span data-testid="cpu">{s.usage ? `${s.usage.cpuPercent.toFixed(1)}%` : ""}</span>
        <Spark points={props.history} value={1} max={1} label={`CPU of ${s.name}`} />
      </td>
      <td class="usage">
        <span data-testid="memory">{s.usage ? mib(s.usage.memoryBytes) : ""}</span>
        <Spark points={props.history} value={2} max={0} label={`memory of ${s.name}`} />
      </td>
    </tr>
  );
}
