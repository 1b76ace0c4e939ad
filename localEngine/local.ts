/**
 * `npm start [-- <example>] [--data-dir <dir>] [--fresh] [--engine pulumi|local]`: runs an example
 * program (default `hello`) against the embedded emulator, whose VMs are QEMU machines booting a
 * Debian stand-in for COS, with the real Pulumi CLI when there is one (else the local engine).
 * Prints the plan, streams the build VM's progress, and ends with the output image and where its
 * file lies.
 */
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import type { Emulator } from "../emulator";
import { chooseEngine, parseEngineFlag } from "./engineChoice";
import { runExampleLocally } from "./localRun";
import { imageGuide } from "./imageGuide";
import { findPulumiCli, type RunningCli } from "./pulumiCli";
import { LOCAL_PASSPHRASE, PULUMI_BACKEND_DIR, PULUMI_PROJECT_DIR } from "./pulumiDeployment";

/** How long an interrupt waits for the Pulumi CLI to cancel before the emulator goes. */
const CLI_STOP_WAIT_S = 120;

const USAGE = `Usage: npm start [-- [example] [--data-dir <dir>] [--fresh] [--engine pulumi|local]]

Runs examples/<example> (default: hello) with \`pulumi up\`, against a local Compute Engine and
Cloud Storage emulator whose VMs are QEMU machines. No Google Cloud project or credentials needed.
Needs QEMU; the first run also needs debootstrap and root (it builds the guest image, ~5 minutes).
The engine is the Pulumi CLI when one is on the PATH or built by \`npm run build:engine\`, else the
local engine (this repository's stand-in for it); --engine pulumi or --engine local forces one.
The data directory keeps the emulator's images and the engine's state between runs: a second run
previews what changed (nothing: nothing is built). --fresh empties it first.
`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      "data-dir": { type: "string" },
      fresh: { type: "boolean", default: false },
      engine: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const requested = parseEngineFlag(values.engine);
  const engine = chooseEngine(requested, requested === "local" ? undefined : await findPulumiCli());
  let emulator: Emulator | undefined;
  let cli: RunningCli | undefined;
  const interrupt = (signal: NodeJS.Signals): void => {
    void (async () => {
      if (cli && cli.child.exitCode === null) {
        // A Ctrl-C reaches the CLI too (one process group); a SIGTERM is passed on as one. The
        // CLI cancels with the emulator still up, so that the running build cleans up and the
        // stack's state says what happened.
        if (signal !== "SIGINT") cli.child.kill("SIGINT");
        process.stdout.write(
          `\nInterrupted: waiting for pulumi to stop (at most ${CLI_STOP_WAIT_S} s; Ctrl-C again stops at once)...\n`,
        );
        process.once("SIGINT", () => process.exit(130));
        await Promise.race([cli.done, sleep(CLI_STOP_WAIT_S * 1000)]);
      }
      process.stdout.write("\nInterrupted: stopping the emulator and its VMs...\n");
      await (emulator?.close() ?? Promise.resolve()).finally(() => process.exit(130));
    })();
  };
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);

  const result = await runExampleLocally({
    ...(positionals[0] ? { example: positionals[0] } : {}),
    ...(values["data-dir"] ? { dataDir: values["data-dir"] } : {}),
    fresh: values.fresh,
    engine,
    onEmulator: (running) => (emulator = running),
    onCli: (running) => (cli = running),
  });
  process.stdout.write("\n");
  process.stdout.write(`Engine: ${result.engineLine}\n`);
  if (result.engine === "pulumi") {
    const project = path.join(result.dataDir, PULUMI_PROJECT_DIR);
    const backend = path.join(result.dataDir, PULUMI_BACKEND_DIR);
    process.stdout.write(
      [
        `  state: the stack "local" in the file backend ${backend}; to look at it:`,
        `    cd ${project} && PULUMI_BACKEND_URL=file://${backend} PULUMI_CONFIG_PASSPHRASE=${LOCAL_PASSPHRASE} pulumi stack`,
        ...result.recorded.map(
          (resource) => `  ${resource}: NOT EMULATED (only recorded, by the stand-in gcp plugin)`,
        ),
        "",
      ].join("\n"),
    );
  }
  if (result.images.length === 0) process.stdout.write("The program created no image.\n");
  for (const image of result.images) {
    process.stdout.write(
      [
        `Output image: ${image.name}`,
        `  self link: ${image.selfLink}`,
        `  file:      ${image.file ?? "(none)"}`,
        ...(image.file ? await imageGuide(image.file) : []),
        "",
      ].join("\n"),
    );
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `\nnpm start failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  },
);
