import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import {
  act,
  follow,
  type Action,
  type DashboardSandbox,
  type LogChunk,
  type SandboxEvent,
  type UsagePoint,
} from "./api.ts";
import { Spark } from "./charts.tsx";
import { deadline, duration, idleNow, mib } from "./format.ts";

/** How much of a log the page keeps. */
const LOG_BYTES = 64 * 1024;

/** One sandbox: its lifetime, recent use, actions, events and log. */
export function Detail(props: {
  sandbox: DashboardSandbox;
  history: readonly UsagePoint[];
  now: number;
  /** The version of the overview this page shows. */
  version: number;
  onClose: () => void;
}) {
  const { sandbox, now } = props;
  const [events, setEvents] = useState<SandboxEvent[]>([]);
  const [extendBy, setExtendBy] = useState("30m");
  const [message, setMessage] = useState<string | undefined>();
  const [confirming, setConfirming] = useState(false);
  // An action is said done once this page shows its result, never before.
  const [awaited, setAwaited] = useState<{ action: Action; version: number } | undefined>();
  useEffect(() => {
    if (awaited && props.version >= awaited.version) {
      setMessage(`${awaited.action}: done`);
      setAwaited(undefined);
    }
  }, [awaited, props.version]);

  useEffect(
    () =>
      follow(`/api/events?app=${encodeURIComponent(sandbox.app)}`, (m) => {
        const e = m as SandboxEvent;
        if (e.id === sandbox.id) setEvents((list) => [...list, e].slice(-100));
      }),
    [sandbox.id, sandbox.app],
  );

  const run = (action: Action, body: Record<string, unknown> = {}) => {
    setConfirming(false);
    setMessage(`${action}…`);
    act(sandbox.id, action, body).then(
      (version) => {
        setAwaited({ action, version });
      },
      (e: unknown) => {
        setMessage(`${action}: ${e instanceof Error ? e.message : String(e)}`);
      },
    );
  };
  const live = sandbox.status === "running" || sandbox.status === "paused";
  const last = props.history[props.history.length - 1];

  return (
    <section class="detail" data-testid="detail">
      <h2>
        {sandbox.app}/{sandbox.name}{" "}
        <span class={`state ${sandbox.status}`} data-testid="detail-state">
          {sandbox.status}
        </span>
        <button class="close" aria-label="close" onClick={props.onClose}>
          ×
        </button>
      </h2>
      <dl class="facts">
        <dt>id</dt>
        <dd>{sandbox.id.slice(0, 12)}</dd>
        <dt>age</dt>
        <dd>{duration(now - Date.parse(sandbox.createdAt))}</dd>
        <dt>deadline</dt>
        <dd data-testid="deadline" data-deadline-ms={sandbox.deadlineMs}>
          {deadline(sandbox.deadlineMs, now)}
        </dd>
        <dt>idle</dt>
        <dd data-testid="detail-idle">
          {idleNow(sandbox.idle, now) || "—"}
          {sandbox.limits.idleTimeoutMs !== undefined && (
            <span class="quiet"> of {duration(sandbox.limits.idleTimeoutMs)} allowed</span>
          )}
        </dd>
      </dl>
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
        {confirming ? (
          <span class="confirm" role="alertdialog" aria-label="confirm terminate" data-testid="confirm">
            Terminate {sandbox.app}/{sandbox.name}? Its processes are killed.{" "}
            <button
              class="danger"
              onClick={() => {
                run("terminate");
              }}
            >
              Yes, terminate
            </button>
            <button
              onClick={() => {
                setConfirming(false);
              }}
            >
              Cancel
            </button>
          </span>
        ) : (
          <button
            class="danger"
            disabled={!live}
            onClick={() => {
              setConfirming(true);
            }}
          >
            Terminate
          </button>
        )}
        {message && (
          <span class="quiet" data-testid="message">
            {message}
          </span>
        )}
      </div>
      <div class="charts">
        <figure>
          <figcaption>
            CPU <b>{last ? `${last[1].toFixed(1)}%` : "—"}</b>{" "}
            <span class="quiet">
              peak {peak(props.history, 1).toFixed(1)}% of {String(100 * sandbox.limits.cpu)}% · last 10 min
            </span>
          </figcaption>
          <Spark
            points={props.history}
            value={1}
            max={1}
            width={360}
            height={70}
            label="CPU, last 10 minutes"
            testId="cpu-chart"
          />
        </figure>
        <figure>
          <figcaption>
            memory <b>{last ? mib(last[2]) : "—"}</b>{" "}
            <span class="quiet">
              peak {mib(peak(props.history, 2))} of {mib(sandbox.limits.memoryBytes)} · last 10 min
            </span>
          </figcaption>
          <Spark
            points={props.history}
            value={2}
            max={0}
            width={360}
            height={70}
            label="memory, last 10 minutes"
            testId="memory-chart"
          />
        </figure>
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
        <Log id={sandbox.id} />
      </div>
    </section>
  );
}

function peak(points: readonly UsagePoint[], value: 1 | 2): number {
  return Math.max(0, ...points.map((p) => p[value]));
}

/** The live log; it keeps its end in view while scrolled to the end, and stays put when scrolled up to read. */
function Log(props: { id: string }) {
  const [log, setLog] = useState("");
  const [following, setFollowing] = useState(true);
  const box = useRef<HTMLPreElement>(null);

  useEffect(
    () =>
      follow(`/api/sandboxes/${encodeURIComponent(props.id)}/logs`, (m) => {
        setLog((l) => (l + (m as LogChunk).text).slice(-LOG_BYTES));
      }),
    [props.id],
  );
  useLayoutEffect(() => {
    const el = box.current;
    if (el && following) el.scrollTop = el.scrollHeight;
  }, [log, following]);

  return (
    <div>
      <h3>
        Log{" "}
        <span class="quiet" data-testid="log-follow">
          {following ? "following" : "scrolled up: not following"}
        </span>
      </h3>
      <pre
        class="log"
        data-testid="log"
        ref={box}
        onScroll={(e) => {
          const el = e.currentTarget;
          setFollowing(el.scrollTop + el.clientHeight >= el.scrollHeight - 4);
        }}
      >
        {log}
      </pre>
    </div>
  );
}
