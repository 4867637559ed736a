// The whole program: provision what sandfleet.yaml beside this file declares.
export { sandfleetProgram as default } from "sandfleet/pulumi";
