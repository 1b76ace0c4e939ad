/**
 * Which engine `npm start` runs the example with: the real Pulumi CLI when there is one (a user's
 * `pulumi` on the PATH, or the one `npm run build:engine` built into the cache), else this
 * repository's local engine (`localEngine.ts`), which needs no CLI. `--engine` forces either.
 */
import type { FoundPulumiCli } from "./pulumiCli";

/** The engines a local run can use. */
export const ENGINES = ["pulumi", "local"] as const;

/** An engine a local run can use: `pulumi` (the real CLI) or `local` (the in-process stand-in). */
export type EngineName = (typeof ENGINES)[number];

/** The engine chosen, and what to tell the person watching about the choice. */
export type EngineChoice =
  { engine: "pulumi"; cli: FoundPulumiCli; why: string } | { engine: "local"; why: string };

/** How the CLI is built when it is missing. */
export const BUILD_HINT =
  "build it with `npm run build:engine` (Go 1.26 and the Go module proxy; about 17 minutes the first time), or install Pulumi (https://www.pulumi.com/docs/install/)";

/** `--engine`'s value, checked: undefined (choose), `pulumi` or `local`; anything else is refused. */
export function parseEngineFlag(value: string | undefined): EngineName | undefined {
  if (value === undefined) return undefined;
  if ((ENGINES as readonly string[]).includes(value)) return value as EngineName;
  throw new Error(`--engine must be one of ${ENGINES.join(", ")} (got "${value}")`);
}

/**
 * Chooses the engine. `requested` is `--engine` (undefined: choose); `cli` is the CLI found, if
 * any. Forcing `pulumi` without a CLI is an error that says how to get one; choosing without a
 * CLI falls back to the local engine and says why.
 */
export function chooseEngine(
  requested: EngineName | undefined,
  cli: FoundPulumiCli | undefined,
): EngineChoice {
  if (requested === "local") {
    return { engine: "local", why: "--engine local" };
  }
  if (cli) {
    const where = cli.source === "path" ? "on the PATH" : "built by npm run build:engine";
    return {
      engine: "pulumi",
      cli,
      why: `${requested === "pulumi" ? "--engine pulumi" : "a Pulumi CLI was found"}: ${cli.binDir}/pulumi (${where})`,
    };
  }
  if (requested === "pulumi") {
    throw new Error(
      `--engine pulumi: no Pulumi CLI on the PATH or in the cache; ${BUILD_HINT}, or run with --engine local`,
    );
  }
  return {
    engine: "local",
    why: `no Pulumi CLI on the PATH or in the cache (${BUILD_HINT}); using the local engine`,
  };
}
