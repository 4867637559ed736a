/**
 * Whether `value` matches `pattern`, where `*` matches any run of characters
 * and everything else is itself. No regular expression is built: the parts
 * between stars are found left to right, each at its first place after the
 * last, which is a match exactly when one exists. Each part is searched for
 * once, so no pattern can make this take more than (value length) x (pattern
 * length) steps, however many stars it has.
 */
export function globMatches(pattern: string, value: string): boolean {
  const parts = pattern.split("*");
  if (parts.length === 1) return pattern === value;
  const first = parts[0] ?? "";
  const last = parts[parts.length - 1] ?? "";
  if (first.length + last.length > value.length) return false;
  if (!value.startsWith(first) || !value.endsWith(last)) return false;
  let from = first.length;
  const end = value.length - last.length;
  for (const part of parts.slice(1, -1)) {
    if (part === "") continue;
    const at = value.indexOf(part, from);
    if (at < 0 || at + part.length > end) return false;
    from = at + part.length;
  }
  return true;
}
