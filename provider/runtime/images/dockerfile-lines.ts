/**
 * What a raw `dockerfile:` step may say. A step becomes exactly one line of
 * the Dockerfile sandfleet writes, and nothing in it may change how Docker
 * reads any other line: no line continuation, no heredoc, no comment or
 * parser directive, and no instruction that replaces what the recipe
 * declares elsewhere (the base, the user) or reaches outside the build.
 * Docker reads keywords in any case after any leading whitespace, so they
 * are matched the same way here.
 */
import { hiddenCharacterProblem, imageReferenceProblem } from "../../reference-rules.ts";
import { ruleProblem } from "../../rules.ts";

/** Instructions a raw step may hold; each stays within its own line and the image being built. */
const ALLOWED = new Set([
  "RUN",
  "CMD",
  "ENTRYPOINT",
  "ENV",
  "ARG",
  "EXPOSE",
  "LABEL",
  "WORKDIR",
  "COPY",
  "SHELL",
  "HEALTHCHECK",
  "STOPSIGNAL",
  "MAINTAINER",
]);

/** Instructions refused, and why. */
const REFUSED: Record<string, string> = {
  FROM: "must not be FROM: the image's base is `base`",
  ONBUILD: "must not be ONBUILD: it would run inside the builds of other images",
  USER: "must not be USER: use a `user` step, which sandfleet checks",
  VOLUME: "must not be VOLUME: every sandbox would get an anonymous volume outside its disk bound",
  ADD: "must not be ADD: it fetches URLs and unpacks archives outside the build's network setting; use a `copy` step",
};

export interface RawInstruction {
  /** The keyword, upper case. */
  keyword: string;
  /** The line as written, without leading spaces. */
  text: string;
  /** Images a COPY --from names. */
  images: string[];
}

/** The instruction of a raw step, or why it is refused. */
export function readRawInstruction(value: unknown): { instruction: RawInstruction } | { problem: string } {
  const line = ruleProblem("line", value);
  if (line) return { problem: line };
  const raw = value as string;
  const hidden = hiddenCharacterProblem(raw);
  if (hidden) return { problem: hidden };
  const text = raw.replace(/^ +/, "");
  const match = /^([A-Za-z]+)(?: |$)/.exec(text);
  if (!match) {
    return {
      problem: text.startsWith("#")
        ? "must be one Dockerfile instruction, not a comment or parser directive"
        : "must start with a Dockerfile instruction keyword such as RUN or LABEL",
    };
  }
  const keyword = (match[1] ?? "").toUpperCase();
  const refused = REFUSED[keyword];
  if (refused !== undefined && Object.hasOwn(REFUSED, keyword)) return { problem: refused };
  if (!ALLOWED.has(keyword))
    return { problem: `must be one Dockerfile instruction; ${keyword} is not one a step may hold` };
  const rest = text.slice(keyword.length);
  // Docker joins a line that ends in its escape character (\ by default, ` after `# escape=`) with the next.
  if (/[\\`][\s\u0085]*$/u.test(rest))
    return { problem: "must not end in '\\' or '`', which would join the next line to it" };
  if (/<<-?[ ]*["']?[A-Za-z0-9_]/.test(rest)) {
    return { problem: "must not hold a heredoc (<<WORD), which would take the following lines as its text" };
  }
  if (keyword === "RUN" && /^ +--/.test(rest)) {
    return { problem: "must not give RUN options (--mount, --network, --security): use a `run` step" };
  }
  // Docker joins quoted parts and reads escapes and $variables in a key, so those are not allowed in a LABEL.
  if (keyword === "LABEL" && (/[\\$]/.test(rest) || /sandfleet/i.test(rest.replace(/["']/g, "")))) {
    return {
      problem: "must not set sandfleet's own labels (sandfleet.* say who owns a sandbox), nor write keys with \\ or $",
    };
  }
  const images: string[] = [];
  if (keyword === "COPY") {
    for (const flag of rest.matchAll(/ --from=(\S*)/gi)) {
      const image = flag[1] ?? "";
      const problem = imageReferenceProblem(image);
      if (problem) return { problem: `COPY --from=${image}: ${problem}` };
      images.push(image);
    }
  }
  return { instruction: { keyword, text, images } };
}

/** Why a raw step is refused, or undefined. */
export function rawInstructionProblem(value: unknown): string | undefined {
  const read = readRawInstruction(value);
  return "problem" in read ? read.problem : undefined;
}
