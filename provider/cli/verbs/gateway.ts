import { readFileSync } from "node:fs";
import { serveGateway } from "../../index.ts";
import { client } from "../client.ts";
import { EXIT, stringOption, UsageError, type Verb } from "../verb.ts";

export const gateway: Verb = {
  usage: "sandfleet gateway [--addr 127.0.0.1:8088] [--url URL] [--tls-cert FILE --tls-key FILE]",
  examples: [
    "sandfleet gateway",
    "sandfleet gateway --addr 0.0.0.0:443 --url https://sandboxes.example.com --tls-cert cert.pem --tls-key key.pem",
  ],
  options: {
    addr: { type: "string" },
    url: { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
  },
  async run({ values }) {
    const address = stringOption(values, "addr");
    const url = stringOption(values, "url");
    const cert = stringOption(values, "tls-cert");
    const key = stringOption(values, "tls-key");
    if ((cert === undefined) !== (key === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
    const sandfleet = client();
    await sandfleet.ping();
    const served = await serveGateway(sandfleet, {
      ...(address ? { address } : {}),
      ...(url ? { url } : {}),
      ...(cert && key ? { tls: { cert: readFileSync(cert), key: readFileSync(key) } } : {}),
    });
    console.log(
      `sandfleet gateway at ${served.url}: \`sandfleet url SANDBOX PORT --gateway ${served.url}\` opens a port`,
    );
    await new Promise<void>((resolve) => {
      for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, resolve);
    });
    await served.close();
    return EXIT.ok;
  },
};
