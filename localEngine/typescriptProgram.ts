/**
 * Loads a Pulumi program written in TypeScript into this process, as Pulumi's Node.js language
 * host does with ts-node: its `.ts` files are transpiled to CommonJS as they are required.
 *
 * The program's imports of `@pulumi/*` and `preloaded-cos-image` resolve to this repository's own
 * copies (what `npm install` in an example directory links to), so the program and the local
 * engine share one `@pulumi/pulumi` runtime: the one whose mocks perform the registrations.
 */
import { readFileSync } from "node:fs";
import * as nodeModule from "node:module";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

/** Packages the program gets from this repository rather than from its own directory. */
const SHARED_PACKAGES = ["@pulumi/", "preloaded-cos-image"];

/** A program ready to run (again: each `run` evaluates it afresh, as a new `pulumi up` would). */
export interface TypeScriptProgram {
  /** The program's directory. */
  readonly directory: string;
  /** Evaluates the program's main module and returns its exports (the stack outputs). */
  run(): Record<string, unknown>;
  /** Removes the loader hooks. */
  dispose(): void;
}

/**
 * Prepares the program in `directory` (main module: `main` of its package.json, else `index.ts`).
 * `repositoryRoot` is where the shared packages are resolved from.
 */
export function loadTypeScriptProgram(
  directory: string,
  repositoryRoot: string,
): TypeScriptProgram {
  const programDir = path.resolve(directory);
  const main = path.join(programDir, mainModuleOf(programDir));
  const programUrl = pathToFileURL(programDir + path.sep).href;
  const requireFromRepository = nodeModule.createRequire(path.join(repositoryRoot, "package.json"));
  const hooks = nodeModule.registerHooks({
    resolve(specifier, context, nextResolve) {
      const fromProgram = context.parentURL?.startsWith(programUrl) ?? false;
      if (fromProgram && SHARED_PACKAGES.some((name) => isPackageOrSubpath(specifier, name))) {
        const file = requireFromRepository.resolve(specifier);
        return { url: pathToFileURL(file).href, shortCircuit: true };
      }
      return nextResolve(specifier, context);
    },
    load(url, context, nextLoad) {
      if (url.startsWith(programUrl) && url.endsWith(".ts")) {
        const file = fileURLToPath(url);
        return { format: "commonjs", source: transpile(file), shortCircuit: true };
      }
      return nextLoad(url, context);
    },
  });
  const requireFromProgram = nodeModule.createRequire(main);
  return {
    directory: programDir,
    run() {
      // Forget the previous evaluation, so the program registers its resources again.
      // The main module may lie outside the directory (a project whose `main` is a built program).
      for (const key of Object.keys(requireFromProgram.cache)) {
        if (key.startsWith(programDir + path.sep) || key === main) {
          delete requireFromProgram.cache[key];
        }
      }
      return requireFromProgram(main) as Record<string, unknown>;
    },
    dispose: () => hooks.deregister(),
  };
}

function mainModuleOf(programDir: string): string {
  try {
    const manifest = JSON.parse(readFileSync(path.join(programDir, "package.json"), "utf8")) as {
      main?: string;
    };
    return manifest.main ?? "index.ts";
  } catch {
    return "index.ts";
  }
}

function isPackageOrSubpath(specifier: string, name: string): boolean {
  return name.endsWith("/")
    ? specifier.startsWith(name)
    : specifier === name || specifier.startsWith(`${name}/`);
}

/** TypeScript to CommonJS, one file at a time, without type checking (as ts-node's transpile-only). */
export function transpile(file: string): string {
  const result = ts.transpileModule(readFileSync(file, "utf8"), {
    fileName: file,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      sourceMap: false,
      inlineSourceMap: true,
    },
  });
  return result.outputText;
}
