// The program of the sandfleet.yaml stack at the root of this repository (see Pulumi.yaml).
export { sandfleetProgram as default } from "./spec/program.ts";
