import type * as pulumi from "@pulumi/pulumi";

/**
 * The dynamic providers of the build resource and the leftover sweeper, as the Pulumi engine
 * serializes them into state.
 *
 * Every method loads the implementation by package name at call time (Pulumi serializes the
 * provider's functions with everything they capture, and restores them in a separate process):
 * the serialized text then holds only the bare string "preloaded-cos-image/provider-runtime", no
 * captured SDK client and no `node_modules` path, so it stays small and keeps working after the
 * dependencies are reinstalled or moved. Resolving from the program's directory (the provider
 * process's working directory) finds the package the program installed, or the package itself when
 * the program is this repository.
 */
type Methods = Required<pulumi.dynamic.ResourceProvider>;

/** Which resource's provider: the build's (the runtime module itself) or the leftover sweeper's. */
type Part = "build" | "leftovers";

function loadRuntime(part: Part): Methods {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeModule = require("node:module") as typeof import("node:module");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodePath = require("node:path") as typeof import("node:path");
  const requireFromProgram = nodeModule.createRequire(nodePath.join(process.cwd(), "package.json"));
  const runtime = requireFromProgram("preloaded-cos-image/provider-runtime") as Methods & {
    leftovers: Methods;
  };
  return part === "leftovers" ? runtime.leftovers : runtime;
}

/**
 * What the engine may receive. The real engine's dynamic provider host hands every result (and the
 * `properties` of an error that carries a created resource) to protobuf's `Struct.fromJavaScript` as
 * it is, which throws "Unexpected struct type." on an `undefined` member, such as an image without a
 * family; `pulumi.runtime.setMocks` and the local engine accepted it. JSON's rules drop such members,
 * as the engine's own serialization of inputs does.
 */
function plainForEngine<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** Runs `work`; an error carrying `properties` (a created resource) gets them plain for the engine. */
async function plainErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return plainForEngine(await work());
  } catch (error) {
    const carrying = error as { properties?: unknown };
    if (error instanceof Error && carrying.properties !== undefined) {
      carrying.properties = plainForEngine(carrying.properties);
    }
    throw error;
  }
}

/** A provider object, as handed to `pulumi.dynamic.Resource`, whose methods load `part` when called. */
export function providerLoadedByName(part: Part): pulumi.dynamic.ResourceProvider {
  return {
    check: (olds, news) => plainErrors(() => loadRuntime(part).check(olds, news)),
    diff: (id, olds, news) => loadRuntime(part).diff(id, olds, news),
    create: (inputs) => plainErrors(() => loadRuntime(part).create(inputs)),
    read: (id, props) => plainErrors(() => loadRuntime(part).read(id, props)),
    update: (id, olds, news) => plainErrors(() => loadRuntime(part).update(id, olds, news)),
    delete: (id, props) => loadRuntime(part).delete(id, props),
  };
}
