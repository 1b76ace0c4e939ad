import { ensurePulumiCli } from "../../../localEngine/pulumiCli";

/**
 * The directory of the Pulumi CLI the engine tier runs, built on first use (which can take most of
 * an hour, so the calling hook sets its own timeout). Where the CLI cannot be built, the tier
 * fails when `PCI_ENGINE_REQUIRED=1` (CI, where a silent skip would hide a broken build) and is
 * otherwise skipped with a loud warning that names the reason.
 */
export async function pulumiCliOrSkip(hook: Mocha.Context): Promise<string> {
  try {
    return await ensurePulumiCli();
  } catch (error) {
    if (process.env.PCI_ENGINE_REQUIRED === "1") {
      throw new Error(
        `the engine tier is required here (PCI_ENGINE_REQUIRED=1) but the Pulumi CLI cannot be built: ${String(error)}`,
        { cause: error },
      );
    }
    console.warn(`\n  !!!!! ENGINE TESTS SKIPPED: ${String(error)} !!!!!\n`);
    hook.skip();
  }
}
