import { imageReferenceProblem, quoted, userProblem } from "../reference-rules.ts";
import { rawInstructionProblem } from "../runtime/images/dockerfile-lines.ts";
import type { SchemaProblem } from "./schema-errors.ts";
import type { SandfleetSpec } from "./types.ts";

/**
 * What the fields that name something become, checked by the same rules as
 * the TypeScript API: image references by Docker's grammar, users as USER
 * reads them, raw steps as one instruction that cannot reach another line.
 * (A sandbox's image and the engine's host are the sandbox rules' and the
 * address rules' to check, through spec/sandbox-check.ts.)
 */
export function referenceFieldProblems(spec: SandfleetSpec): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const check = (path: (string | number)[], value: string, rule: (value: string) => string | undefined) => {
    const reason = rule(value);
    if (reason) problems.push({ path, reason: `${quoted(value)} ${reason}`, atKey: false });
  };
  for (const [name, image] of Object.entries(spec.images)) {
    if (image.ref !== undefined) check(["images", name, "ref"], image.ref, imageReferenceProblem);
    if (image.base !== undefined) check(["images", name, "base"], image.base, imageReferenceProblem);
    image.steps?.forEach((step, i) => {
      if ("user" in step) check(["images", name, "steps", i, "user"], step.user, userProblem);
      if ("dockerfile" in step)
        check(["images", name, "steps", i, "dockerfile"], step.dockerfile, rawInstructionProblem);
    });
  }
  return problems;
}
