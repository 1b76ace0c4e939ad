import { buildImage, type BuildImageEvent } from "../buildImage";
import { contentLabelOf } from "../naming";
import { toBuildSpec } from "../pipeline/spec";
import type { ParsedFlags } from "./args";
import { clientsFor, inspect, nameTakenError, reporterProgress, validated } from "./cloud";
import { loadConfig } from "./configFile";
import { EXIT } from "./errors";
import type { Reporter } from "./output";
import { handleInterrupts } from "./signals";
import { pipelineOptions } from "./timing";

/**
 * `build`: validates (exit 2 before any cloud call), looks at a fixed name (same content: nothing to
 * do; other content: exit 2 before any VM), then runs `buildImage` with Ctrl-C wired to its signal.
 */

/** The pipeline's first progress line names the build id; the command needs it for a second Ctrl-C. */
const BUILD_LINE = /^build ([a-z][a-z0-9]{9}): /;

/** Runs `build`; returns the exit code (errors are thrown and mapped by main). */
export async function runBuild(flags: ParsedFlags, reporter: Reporter): Promise<number> {
  const config = loadConfig(flags.get("config") ?? "", flags.all("set"));
  const inputs = await validated(config);
  const pipeline = pipelineOptions();
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
    const inspection = await inspect(
      inputs,
      clients,
      reporterProgress(reporter),
      pipeline,
      controller.signal,
    );
    const { existing, checked } = inspection;
    if (existing && !existing.sameContent) throw nameTakenError(config, inspection);
    if (existing) {
      reporter.info(
        `image ${checked.imageName} exists and carries this configuration's content label (${contentLabelOf(checked.contentHash)}): nothing to build`,
      );
      reporter.result({
        imageName: checked.imageName,
        selfLink: existing.selfLink,
        id: existing.id,
        project: spec.image.project,
        family: existing.family,
        sourceImage: checked.sourceImage,
        contentHash: checked.contentHash,
        upToDate: true,
      });
      return EXIT.ok;
    }
    const built = await buildImage(config.args, {
      name: config.name,
      baseDir: config.baseDir,
      signal: controller.signal,
      clients,
      pipeline,
      onEvent: (event: BuildImageEvent) => {
        if (event.type === "progress") buildId ??= BUILD_LINE.exec(event.message)?.[1];
        reporter.event(event);
      },
    });
    reporter.result(built);
    return EXIT.ok;
  } finally {
    stopHandling();
    await clients.close();
  }
}
