import { COMMAND } from "./help";
import type { Reporter } from "./output";

/**
 * Ctrl-C during a build. The first SIGINT or SIGTERM cancels through the AbortSignal, and the build
 * deletes what it made; a second one exits at once, naming the build whose labelled temporaries may
 * remain and the `sweep` command that removes them (no stack lock protects them, so nothing else will).
 */

/** Where the build's temporaries are, for the sweep command of a second interrupt. */
export interface SweepHint {
  project: string;
  zone: string;
  bucket: string;
  prefix: string;
}

/** The exact command that removes what one build left. */
export function sweepCommandFor(hint: SweepHint, buildId: string): string {
  return `${COMMAND} sweep --project ${hint.project} --zone ${hint.zone} --bucket ${hint.bucket} --prefix ${hint.prefix}/ --build ${buildId} --older-than 0s`;
}

/**
 * Installs the handlers; returns their removal. `buildId()` is the id once the build has drawn one
 * (before that, nothing has been created).
 */
export function handleInterrupts(
  controller: AbortController,
  reporter: Reporter,
  hint: SweepHint,
  buildId: () => string | undefined,
): () => void {
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts === 1) {
      reporter.info(
        `${signal}: cancelling the build and deleting what it made (interrupt again to exit at once)`,
        "warning",
      );
      controller.abort();
      return;
    }
    const id = buildId();
    reporter.info(
      id === undefined
        ? `${signal} again: exiting at once; the build had created nothing yet`
        : `${signal} again: exiting at once; temporaries of build ${id} may remain (labelled managed-by=preloaded-cos-image, pci-build=${id}); remove them with: ${sweepCommandFor(hint, id)}`,
      "warning",
    );
    process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
}
