import type { UsagePoint } from "./api.ts";

/**
 * A small line chart of one value of a sandbox's recent use, drawn as SVG:
 * the last ten minutes, left to right, scaled to `max` or a fifth above the
 * highest value seen, whichever is higher.
 */
export function Spark(props: {
  points: readonly UsagePoint[];
  value: 1 | 2;
  max: number;
  width?: number;
  height?: number;
  label: string;
  testId?: string;
}) {
  const width = props.width ?? 60;
  const height = props.height ?? 22;
  const { points } = props;
  const top = Math.max(props.max, 1.2 * Math.max(0, ...points.map((p) => p[props.value]))) || 1;
  const first = points[0]?.[0] ?? 0;
  const span = Math.max(1, (points[points.length - 1]?.[0] ?? 0) - first);
  const line = points
    .map((p) => {
      const x = points.length === 1 ? width : ((p[0] - first) / span) * width;
      const y = height - 1 - (p[props.value] / top) * (height - 2);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");
  return (
    <svg
      class="spark"
      viewBox={`0 0 ${String(width)} ${String(height)}`}
      width={width}
      height={height}
      role="img"
      aria-label={props.label}
      data-testid={props.testId}
      data-points={points.length}
      data-span-ms={points.length > 1 ? span : 0}
    >
      <line x1="0" y1={height - 0.5} x2={width} y2={height - 0.5} class="axis" />
      {points.length > 0 && <polyline points={line} class={props.value === 1 ? "cpu" : "memory"} />}
    </svg>
  );
}
