// The code blocks of a markdown file, found where a reader finds them: under a
// heading, in order, each with the line of prose just above it. A test that
// runs a README takes its steps from here, so a step the README loses fails
// the test by name instead of being skipped.
export interface CodeBlock {
  /** The info string after the opening fence (`sh`, `yaml`, or empty). */
  lang: string;
  text: string;
  /** The last non-empty line of prose before the block, e.g. "`package.json`:". */
  label: string;
}

/** The blocks under `heading` (its own text, up to the next heading of any level). */
export function blocksUnder(markdown: string, heading: string, file: string): CodeBlock[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) => line.trim() === heading);
  if (start < 0) throw new Error(`${file} has no heading "${heading}"`);
  const blocks: CodeBlock[] = [];
  let label = "";
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const fence = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(line);
    if (fence) {
      const [, indent = "", marks = "", info = ""] = fence;
      const body: string[] = [];
      for (i++; i < lines.length && !(lines[i] ?? "").trim().startsWith(marks); i++) {
        body.push((lines[i] ?? "").slice(indent.length));
      }
      blocks.push({ lang: info.trim(), text: `${body.join("\n")}\n`, label });
      label = "";
      continue;
    }
    if (/^#{1,6} /.test(line)) break;
    if (line.trim() !== "") label = line.trim();
  }
  return blocks;
}

/** The one block under `heading` that `pick` selects; fails naming what it looked for. */
export function blockUnder(
  markdown: string,
  file: string,
  heading: string,
  what: string,
  pick: (block: CodeBlock) => boolean,
): string {
  const found = blocksUnder(markdown, heading, file).filter(pick);
  if (found.length !== 1) {
    throw new Error(
      `${file}, under "${heading}": expected one block ${what}, found ${String(found.length)}; a step of the README is missing or doubled`,
    );
  }
  return found[0]?.text ?? "";
}

/** The command lines of a shell block, without comments and blank lines. */
export function commandLines(block: string): string[] {
  return block
    .split("\n")
    .map((line) => line.replace(/\s+#.*$/, "").trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}
