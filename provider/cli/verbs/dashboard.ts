import { serveDashboard } from "../../index.ts";
import { client } from "../client.ts";
import { EXIT, stringOption, type Verb } from "../verb.ts";

export const dashboard: Verb = {
  usage: "sandfleet dashboard [--addr 127.0.0.1:7777] [--app APP] [--token TOKEN]",
  examples: ["sandfleet dashboard", "sandfleet dashboard --addr 0.0.0.0:7777 --app code-interpreter"],
  options: { addr: { type: "string" }, app: { type: "string" }, token: { type: "string" } },
  async run({ values }) {
    const sandfleet = client();
    await sandfleet.ping();
    const app = stringOption(values, "app");
    const address = stringOption(values, "addr");
    const token = stringOption(values, "token");
    const served = await serveDashboard(sandfleet, {
      ...(address ? { address } : {}),
      ...(app ? { app } : {}),
      ...(token ? { token } : {}),
    });
    console.log(`sandfleet dashboard of ${sandfleet.engine} at ${served.url}`);
    if (served.token !== undefined && token === undefined)
      console.log("It is bound beyond this machine, so it needs the token in that URL (kept as a cookie once opened).");
    await new Promise<void>((resolve) => {
      for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, resolve);
    });
    await served.close();
    return EXIT.ok;
  },
};
