import { buildImage, type BuildImageEvent } from "../buildImage";
import { ImageNameTakenError } from "../pipeline/errors";
import { toBuildSpec } from "../pipeline/spec";
import type { ParsedFlags } from "./args";
import { clientsFor, validated } from "./cloud";
import { loadConfig } from "./configFile";
import { ConfigError, EXIT } from "./errors";
import type { Reporter } from "./output";
import { handleInterrupts } from "./signals";
import { pipelineOptions } from "./timing";

/**
 * `build`: validates (exit 2 before any cloud call), then runs `buildImage` with Ctrl-C wired to its
 * signal. A fixed name that an image of the same content holds is a no-op (`upToDate`); one that
 * another image holds is refused (exit 2) before any VM is created.
 */

/** Runs `build`; returns the exit code (errors are thrown and mapped by main). */
export async function runBuild(flags: ParsedFlags, reporter: Reporter): Promise<number> {
  const config = loadConfig(flags.get("config") ?? "", flags.all("set"));
  const inputs = await validated(config);
  const controller = new AbortController();
  const spec = toBuildSpec(inputs);
  let buildId: string | undefined;
  const stopHandling = handleInterrupts(
    controller,
    reporter,
    { ...spec.vm, ...spec.storage },
    () => buildId,
  );
  const clients = clientsFor(inputs);
  try {
    const built = await buildImage(config.args, {
      name: config.name,
      baseDir: config.baseDir,
      signal: controller.signal,
      clients,
      pipeline: pipelineOptions(),
      onEvent: (event: BuildImageEvent) => {
        if (event.type === "started") buildId = event.buildId;
        reporter.event(event);
      },
    });
    reporter.result(built);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof ImageNameTakenError) throw new ConfigError(config.file, [error.problem]);
    throw error;
  } finally {
    stopHandling();
    await clients.close();
  }
}
