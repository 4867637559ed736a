import * as pulumi from "@pulumi/pulumi";

/**
 * Sends a line to the Pulumi log from inside a dynamic provider. The provider
 * process is started with the engine's address as its first argument, but the
 * SDK only looks for it in PULUMI_NODEJS_ENGINE, so it is handed over here.
 */
export function engineLog(prefix: string): (line: string) => void {
  const address = process.argv[2];
  if (!process.env.PULUMI_NODEJS_ENGINE && address && /^[\w.-]+:\d+$/.test(address)) {
    process.env.PULUMI_NODEJS_ENGINE = address;
  }
  // Outside a Pulumi run (the runtime API, tests) there is no log to write to.
  if (!process.env.PULUMI_NODEJS_ENGINE) return () => undefined;
  return (line: string) => {
    if (line.trim()) void pulumi.log.info(`${prefix}${line}`);
  };
}
