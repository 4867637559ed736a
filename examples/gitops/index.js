export { sandfleetProgram as default } from "sandfleet/pulumi";
