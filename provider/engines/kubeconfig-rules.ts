/**
 * The check of a kubeconfig's credentials that `validate` runs before anything
 * loads the file for a connection. Apart from engine-rules.ts because it loads
 * a YAML parser, which only a spec naming a cluster needs.
 */
export { kubeconfigCredentialProblem } from "./kubernetes/kubeconfig.ts";
