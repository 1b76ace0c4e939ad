import type * as pulumi from "@pulumi/pulumi";

/**
 * The dynamic provider of the build resource, as the Pulumi engine serializes it into state.
 *
 * Every method loads the implementation by package name at call time (Pulumi serializes the
 * provider's functions with everything they capture, and restores them in a separate process):
 * the serialized text then holds only the bare string "preloaded-cos-image/provider-runtime", no
 * captured SDK client and no `node_modules` path, so it stays small and keeps working after the
 * dependencies are reinstalled or moved. Resolving from the program's directory (the provider
 * process's working directory) finds the package the program installed, or the package itself when
 * the program is this repository.
 */
function loadRuntime(): pulumi.dynamic.ResourceProvider &
  Required<Pick<pulumi.dynamic.ResourceProvider, "check" | "diff" | "read" | "update" | "delete">> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeModule = require("node:module") as typeof import("node:module");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodePath = require("node:path") as typeof import("node:path");
  const requireFromProgram = nodeModule.createRequire(nodePath.join(process.cwd(), "package.json"));
  return requireFromProgram("preloaded-cos-image/provider-runtime") as ReturnType<
    typeof loadRuntime
  >;
}

/** The provider object handed to `pulumi.dynamic.Resource`. */
export const imageBuildProvider: pulumi.dynamic.ResourceProvider = {
  check: (olds, news) => loadRuntime().check(olds, news),
  diff: (id, olds, news) => loadRuntime().diff(id, olds, news),
  create: (inputs) => loadRuntime().create(inputs),
  read: (id, props) => loadRuntime().read(id, props),
  update: (id, olds, news) => loadRuntime().update(id, olds, news),
  delete: (id, props) => loadRuntime().delete(id, props),
};
