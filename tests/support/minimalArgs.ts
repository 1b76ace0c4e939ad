import type { PreloadedCosImageArgs } from "../../components";

/** The smallest valid arguments of a validation test: one script in the context `context/`. */
export const MINIMAL_ARGS: PreloadedCosImageArgs = {
  sourceImageFamily: "cos-stable",
  project: "my-project",
  zone: "us-central1-a",
  buildContext: "context",
  steps: [{ runScript: { script: "setup.sh" } }],
};
