// The engine often sends missing lists and maps as null; these read them as
// what they are.

export function listOf<T>(value: readonly T[] | null | undefined): T[] {
  return value ? [...value] : [];
}

export function mapOf<T>(value: Readonly<Record<string, T>> | null | undefined): Record<string, T> {
  return value ? { ...value } : {};
}
