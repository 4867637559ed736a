// The whole program: provision what sandfleet.yaml beside this file declares.
export * from "../../../provider/program.ts";
