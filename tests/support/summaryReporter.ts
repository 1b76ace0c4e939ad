import Mocha from "mocha";

/**
 * mocha's spec reporter, plus one plain summary line at the end ("N passed, N failed, N skipped")
 * that CI log parsers understand. With the reporter option `tier=<word>` the line starts with
 * `<word>: `, so that a run of several tiers says which one a count belongs to.
 */
class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    const reporterOptions = options?.reporterOptions as { tier?: unknown } | undefined;
    const tier = typeof reporterOptions?.tier === "string" ? `${reporterOptions.tier}: ` : "";
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const stats = runner.stats ?? { passes: 0, failures: 0, pending: 0 };
      console.log(
        `${tier}${stats.passes} passed, ${stats.failures} failed, ${stats.pending} skipped`,
      );
    });
  }
}

export = SummaryReporter;
