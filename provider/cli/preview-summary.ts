/**
 * `sandfleet preview --summary markdown`: what a change does, in a table short
 * enough for a pull-request comment. It reads `pulumi preview --json` (the
 * steps with their old and new inputs) and the pools' live members, and says
 * for each resource what changes and what that does to running sandboxes.
 */
import type { PoolStatus } from "../index.ts";

export interface PreviewStep {
  op: string;
  urn: string;
  replaceReasons?: string[] | null;
  oldState?: { type?: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> } | null;
  newState?: { type?: string; inputs?: Record<string, unknown> } | null;
}

export interface PreviewJson {
  steps?: PreviewStep[];
  changeSummary?: Record<string, number>;
}

const SECRET = "[secret]";
/** The characters of one value the table shows; GitHub refuses a comment over 65,536. */
const MAX_SHOWN = 200;
const MAX_SUMMARY = 60_000;
// Pulumi marks a secret value with this key in the JSON it prints.
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
// Inputs that are secrets whatever Pulumi prints for them.
const SECRET_INPUTS = new Set(["secretEnv"]);
const IGNORED_INPUTS = new Set(["__provider"]);

function isSecret(value: unknown): boolean {
  return value === SECRET || (typeof value === "object" && value !== null && SECRET_SIG in value);
}

/** Every leaf that differs between two input trees, as dotted paths; a secret is shown as `[secret]`. */
export function changedFields(
  before: Record<string, unknown> = {},
  after: Record<string, unknown> = {},
): { path: string; before: unknown; after: unknown }[] {
  const changes: { path: string; before: unknown; after: unknown }[] = [];
  const plain = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v) && !isSecret(v);
  const walk = (a: unknown, b: unknown, path: string, secret: boolean) => {
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    if (plain(a) && plain(b)) {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      for (const key of [...keys].sort()) {
        if (IGNORED_INPUTS.has(key)) continue;
        walk(a[key], b[key], path ? `${path}.${key}` : key, secret || SECRET_INPUTS.has(key));
      }
      return;
    }
    const shown = (v: unknown) => (v === undefined ? undefined : secret || isSecret(v) ? SECRET : v);
    changes.push({ path, before: shown(a), after: shown(b) });
  };
  walk(before, after, "", false);
  return changes;
}

/** The inputs that hold a secret, which Pulumi prints alike whether or not they change. */
function secretInputs(inputs: Record<string, unknown> = {}): string[] {
  return Object.keys(inputs)
    .filter((key) => !IGNORED_INPUTS.has(key) && (SECRET_INPUTS.has(key) || isSecret(inputs[key])))
    .sort();
}

/**
 * What changes in an update. Pulumi prints every secret as the same
 * `[secret]`: when a Secret of the stack changes too, an update that changes
 * nothing visible changed what it holds of that secret, and the fields that
 * hold one are named, their values never. (Without a Secret that changes, it
 * is drift: a member lost, which the row says is refilled.) A Secret's
 * variables are named from its `keys` (kept in the state in the clear) and
 * the names the file now declares, when the caller read the file.
 */
function changesOf(
  step: PreviewStep,
  kind: string,
  declaredKeys: readonly string[] | undefined,
  secretsChange: boolean,
): { path: string; before: unknown; after: unknown }[] {
  const oldInputs = step.oldState?.inputs ?? {};
  const newInputs = step.newState?.inputs ?? {};
  const visible = changedFields(oldInputs, newInputs);
  if (kind === "Secret" && step.op === "update" && declaredKeys) {
    const had = Array.isArray(step.oldState?.outputs?.keys) ? (step.oldState.outputs.keys as string[]) : [];
    const named = [...new Set([...had, ...declaredKeys])]
      .sort()
      .filter((key) => had.includes(key) !== declaredKeys.includes(key))
      .map((key) => ({
        path: `values.${key}`,
        before: had.includes(key) ? SECRET : undefined,
        after: declaredKeys.includes(key) ? SECRET : undefined,
      }));
    const rest = visible.filter((c) => c.path !== "values");
    if (named.length > 0) return [...rest, ...named];
  }
  if (visible.length > 0 || step.op !== "update" || !secretsChange) return visible;
  return secretInputs(newInputs).map((path) => ({ path, before: SECRET, after: SECRET }));
}

/**
 * Text from the spec as a markdown code span that nothing in it can end or
 * turn into markup: in a code span GitHub renders no HTML (an `<!--` there
 * hides nothing), no emphasis, links or mentions. Its fence is longer than any
 * run of backticks in it, a `|` is escaped so that the table keeps its cells,
 * and every character outside printable ASCII (a newline, a right-to-left
 * override, a look-alike letter) is shown as its code, so the comment shows
 * exactly what changes, on one line.
 */
export function codeSpan(text: string): string {
  const written = text.replace(/[^\x20-\x7e]/gu, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`);
  // A comment has a size limit; one long value must not push the other changes out of it.
  const clipped = written.length > MAX_SHOWN ? written.slice(0, MAX_SHOWN) : written;
  const rest = written.length > MAX_SHOWN ? ` … (${String(written.length)} characters in all)` : "";
  const visible = clipped.replace(/\|/g, "\\|");
  const longest = Math.max(0, ...(visible.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  // A space on each side (which the renderer takes off again) keeps a backtick at an end from joining the fence.
  const pad = visible === "" || /^[ `]|[ `]$/.test(visible) ? " " : "";
  return `${fence}${pad}${visible}${pad}${fence}${rest}`;
}

/** A word of Pulumi's (a type, an operation) as it is, and anything else as a code span. */
function word(text: string): string {
  return /^[A-Za-z-]+$/.test(text) ? text : codeSpan(text);
}

function show(value: unknown): string {
  if (value === undefined) return "(none)";
  if (value === SECRET) return SECRET;
  // A number, true, false or null cannot be markup; everything else is shown as its JSON, in a code span.
  if (value === null || typeof value === "number" || typeof value === "boolean") return String(value);
  return codeSpan(JSON.stringify(value));
}

const OPS: Record<string, string> = {
  create: "create",
  update: "update in place",
  replace: "replace",
  "create-replacement": "replace",
  delete: "delete",
};

function kindOf(step: PreviewStep): string {
  return (step.newState?.type ?? step.oldState?.type ?? step.urn.split("::")[2] ?? "").split(":").pop() ?? "";
}

function nameOf(step: PreviewStep): string {
  const inputs = step.newState?.inputs ?? step.oldState?.inputs ?? {};
  return typeof inputs.name === "string" ? inputs.name : (step.urn.split("::").pop() ?? "");
}

function count(n: number, what: string): string {
  return `${String(n)} ${what}${n === 1 ? "" : "s"}`;
}

function sandboxes(n: number): string {
  return `${String(n)} ${n === 1 ? "sandbox" : "sandboxes"}`;
}

/** What a pool's change does, in the engine's terms: the sandboxes it creates, rolls and removes. */
function poolChange(
  step: PreviewStep,
  live: PoolStatus | undefined,
  fields: string[],
): { change: string; effect: string } {
  const old = step.oldState?.inputs ?? {};
  const now = step.newState?.inputs ?? {};
  const claimed = live?.claimed ?? 0;
  const after = Number(now.replicas);
  if (step.op === "create")
    return { change: `create ${sandboxes(after)}`, effect: `starts ${count(after, "warm member")}` };
  if (step.op === "delete" || step.op === "replace") {
    const all = live ? live.ready + live.pending + live.claimed : undefined;
    const verb = step.op === "delete" ? "removes" : "replaces the pool: removes";
    return {
      change: OPS[step.op] ?? step.op,
      effect: `${verb} ${all === undefined ? "every member" : count(all, "member")}${claimed ? `, the ${count(claimed, "claimed one")} included` : ""}`,
    };
  }
  // `up` brings the unclaimed members to `replicas`: what it makes or ends is counted from the live pool.
  const unclaimed = live ? live.ready + live.pending : Number(old.replicas);
  const templateChanges = fields.some((f) => f.startsWith("template.") || f.startsWith("secretEnv"));
  const effects: string[] = [];
  if (templateChanges) {
    const rolling = (now.rollout ?? "rolling") === "rolling";
    const rolled = Math.min(unclaimed, after);
    effects.push(
      `rolls ${count(rolled, "unclaimed member")} to the new template${rolling ? ", one at a time, keeping the ready count" : ", all at once"}`,
    );
  }
  if (after > unclaimed) effects.push(`creates ${sandboxes(after - unclaimed)}`);
  if (after < unclaimed) effects.push(`ends and removes ${sandboxes(unclaimed - after)}, the newest unclaimed first`);
  if (effects.length === 0) effects.push("refills to its replicas");
  effects.push(claimed ? `${count(claimed, "claimed member")} not touched` : "no claimed members");
  const change = templateChanges
    ? "update in place"
    : after > unclaimed
      ? `create ${sandboxes(after - unclaimed)}`
      : after < unclaimed
        ? `remove ${sandboxes(unclaimed - after)}`
        : "update in place";
  return { change, effect: effects.join("; ") };
}

function sandboxEffect(step: PreviewStep): string {
  switch (step.op) {
    case "create":
      return "starts a sandbox";
    case "delete":
      return "ends and removes the sandbox";
    case "update":
      return "changes its limits in place; it keeps running";
    default: {
      const reasons = (step.replaceReasons ?? []).map((r) => codeSpan(r)).join(", ");
      return `ends the running sandbox and starts a new one${reasons ? ` (${reasons} cannot change in place)` : ""}`;
    }
  }
}

function secretEffect(step: PreviewStep): string {
  if (step.op !== "update") return "";
  return "its values reach sandboxes started from now on: the rows of the sandboxes and pools that name it say which";
}

/**
 * The markdown table of a preview. `pools` holds the live numbers of each
 * pool, by `app/name`; `secretKeys`, the variable names each Secret of the
 * file declares now, by `app/name`.
 */
export function previewSummary(
  preview: PreviewJson,
  pools: ReadonlyMap<string, PoolStatus>,
  stack: string,
  secretKeys: ReadonlyMap<string, readonly string[]> = new Map(),
): string {
  const steps = (preview.steps ?? []).filter((s) => s.op in OPS && s.op !== "create-replacement");
  // Pulumi's totals count resources; the rows say what each does to sandboxes, in the engine's words.
  const title = `### sandfleet preview of stack ${codeSpan(stack)}: ${steps.length === 0 ? "no changes" : count(steps.length, "resource") + (steps.length === 1 ? " changes" : " change")}`;
  if (steps.length === 0) return `${title}\n`;
  const secretsChange = steps.some((step) => kindOf(step) === "Secret" && step.op !== "delete");
  const rows = steps.map((step) => {
    const kind = kindOf(step);
    const inputs = step.newState?.inputs ?? step.oldState?.inputs ?? {};
    const changes =
      step.op === "update" || step.op === "replace"
        ? changesOf(step, kind, secretKeys.get(`${String(inputs.app)}/${nameOf(step)}`), secretsChange)
        : [];
    const fields = changes.map((c) => `${codeSpan(c.path)}: ${show(c.before)} → ${show(c.after)}`).join("<br>");
    const pool =
      kind === "SandboxPool"
        ? poolChange(
            step,
            pools.get(`${String(inputs.app)}/${nameOf(step)}`),
            changes.map((c) => c.path),
          )
        : undefined;
    const effect =
      pool?.effect ?? (kind === "Sandbox" ? sandboxEffect(step) : kind === "Secret" ? secretEffect(step) : "");
    const change = pool?.change ?? OPS[step.op] ?? word(step.op);
    return `| ${word(kind)} ${codeSpan(nameOf(step))} | ${change} | ${fields || "—"} | ${effect || "—"} |`;
  });
  const head = [
    title,
    "",
    "| resource | change | what changes | what it does to live sandboxes |",
    "| --- | --- | --- | --- |",
  ];
  // Rows up to the size a comment may have; the count of the rest is said, so that none is missed unseen.
  let size = head.join("\n").length;
  const shown = rows.filter((row) => (size += row.length + 1) <= MAX_SUMMARY);
  const more = rows.length - shown.length;
  const tail =
    more > 0
      ? [
          "",
          `and ${count(more, "more resource")} that change, not listed for the size of a comment: \`sandfleet preview\` shows every change`,
        ]
      : [];
  return [...head, ...shown, ...tail, ""].join("\n");
}
