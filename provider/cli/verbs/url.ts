import { parseDuration } from "../../index.ts";
import { client } from "../client.ts";
import { printJson } from "../output.ts";
import { EXIT, stringOption, UsageError, type Verb } from "../verb.ts";

export const url: Verb = {
  usage: "sandfleet url SANDBOX PORT [--ttl 1h] [--gateway URL] [--json] | sandfleet url --revoke TOKEN",
  examples: [
    "sandfleet url web-service/web 8000 --ttl 1h",
    "sandfleet url 3f2a9c 8000 --gateway https://sandboxes.example.com",
    "sandfleet url --revoke sfc_...",
  ],
  options: { ttl: { type: "string" }, gateway: { type: "string" }, revoke: { type: "string" } },
  async run({ positionals, values, json }) {
    const revoke = stringOption(values, "revoke");
    if (revoke !== undefined) {
      const revoked = await client().revokeConnectToken(revoke);
      if (json) printJson({ revoked });
      else console.log(revoked ? "revoked" : "no such token (expired or revoked already)");
      return EXIT.ok;
    }
    const [ref, portText] = positionals;
    const port = Number(portText);
    if (!ref || !Number.isInteger(port) || port < 1 || port > 65535)
      throw new UsageError("needs a sandbox and a port, like web-service/web 8000");
    const ttl = stringOption(values, "ttl") ?? "1h";
    const ttlMs = parseDuration(ttl);
    if (ttlMs === undefined) throw new UsageError(`--ttl ${ttl} is not a duration like 1h`);
    const gatewayUrl = stringOption(values, "gateway");
    const sandbox = await client().sandboxes.fromRef(ref);
    const made = await sandbox.createConnectToken({ port, ttlMs, ...(gatewayUrl ? { gatewayUrl } : {}) });
    if (json) printJson(made);
    else {
      console.log(made.url);
      console.error(`opens port ${String(port)} of ${sandbox.app}/${sandbox.name} until ${made.expiresAt}`);
    }
    return EXIT.ok;
  },
};
