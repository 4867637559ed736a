// The installed `sandfleet` command; scripts/bundle-cli.ts makes it one file, dist/bin/sandfleet.cjs.
import { main } from "./main.ts";

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
