import { Readable } from "node:stream";
import { sha256 } from "../../digest.ts";
import { engineCall } from "./errors.ts";
import type { EngineHttp } from "./http.ts";

/** Each regular file of a tar archive: its path, and its mode, owner and content hash. */
export async function filesOf(tar: Readable): Promise<Map<string, string>> {
  const { extract } = await import("tar-stream");
  const entries = extract();
  tar.pipe(entries);
  const files = new Map<string, string>();
  for await (const entry of entries) {
    const hash = sha256();
    for await (const chunk of entry) hash.update(chunk as Buffer);
    const { name, type, mode, uid } = entry.header;
    if (type === "file") {
      files.set(name.replace(/^\.?\//, ""), `${(mode & 0o7777).toString(8)} ${String(uid)} ${hash.digest("hex")}`);
    }
  }
  return files;
}

/**
 * Whether a volume still holds every file of `expected` as it was written
 * (content, mode, owner), read through a container that mounts it at the
 * archive's top folder: a file removed, replaced or truncated there shows.
 */
export async function holdsArchive(
  docker: EngineHttp,
  container: string,
  dir: string,
  expected: Readable,
): Promise<boolean> {
  const want = await filesOf(expected);
  let have: Map<string, string>;
  try {
    have = await filesOf(
      await docker.stream("GET", `/containers/${encodeURIComponent(container)}/archive`, { query: { path: dir } }),
    );
  } catch {
    return false; // the folder itself is gone
  }
  return [...want].every(([name, value]) => have.get(name) === value);
}

/**
 * Writes the files of an archive's top folder into the volume a container
 * mounts there (`dir`), over what is there: the engine writes into a
 * container's mounts even while it is stopped and its root is read-only.
 */
export async function writeArchive(docker: EngineHttp, container: string, dir: string, tar: Readable): Promise<void> {
  const { extract, pack } = await import("tar-stream");
  const entries = extract();
  tar.pipe(entries);
  const inside = pack();
  for await (const entry of entries) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    const name = entry.header.name.replace(/^\.?\/?[^/]+\/?/, "");
    if (entry.header.type === "file" && name !== "") inside.entry({ ...entry.header, name }, Buffer.concat(chunks));
  }
  inside.finalize();
  await engineCall(`write the volume of ${container} again`, () =>
    docker.json("PUT", `/containers/${encodeURIComponent(container)}/archive`, {
      query: { path: dir },
      upload: Readable.from(inside),
    }),
  );
}
