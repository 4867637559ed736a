export { connectDocker } from "./client.ts";
export { ImageBuildError } from "./images.ts";
