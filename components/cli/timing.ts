import type { PipelineOptions } from "../pipeline/runBuild";

/**
 * Polling rhythm of the command's builds. `PCI_TEST_FAST_POLLING=1` is an undocumented knob for the
 * command's own tests only: their scripted guests act at once, so polling can be tight (the same
 * figures as the orchestration tests' FAST_PIPELINE). Read by the command only, never by the library.
 */
export function pipelineOptions(env: NodeJS.ProcessEnv = process.env): PipelineOptions | undefined {
  if (env.PCI_TEST_FAST_POLLING !== "1") return undefined;
  return {
    watch: { serialPollMs: 20, statusPollMs: 100 },
    stopPollMs: 20,
    retry: { initialMs: 5, maxMs: 40, maxAttempts: 12 },
  };
}
