/**
 * `npm start [-- <example>] [--data-dir <dir>]`: runs an example program (default `hello`) against
 * the embedded emulator, whose VMs are QEMU machines booting a Debian stand-in for COS. Prints the
 * plan, streams the build VM's progress, and ends with the output image and where its file lies.
 */
import { parseArgs } from "node:util";
import type { Emulator } from "../emulator";
import { runExampleLocally } from "./localRun";
import { imageGuide } from "./imageGuide";

const USAGE = `Usage: npm start [-- [example] [--data-dir <dir>] [--fresh]]

Runs examples/<example> (default: hello) as \`pulumi up\` would, against a local Compute Engine and
Cloud Storage emulator whose VMs are QEMU machines. No Google Cloud project or credentials needed.
Needs QEMU; the first run also needs debootstrap and root (it builds the guest image, ~5 minutes).
The data directory keeps the emulator's images and the engine's state between runs: a second run
previews what changed (nothing: nothing is built). --fresh empties it first.
`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      "data-dir": { type: "string" },
      fresh: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  let emulator: Emulator | undefined;
  const interrupt = (): void => {
    process.stdout.write("\nInterrupted: stopping the emulator and its VMs...\n");
    void (emulator?.close() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);

  const result = await runExampleLocally({
    ...(positionals[0] ? { example: positionals[0] } : {}),
    ...(values["data-dir"] ? { dataDir: values["data-dir"] } : {}),
    fresh: values.fresh,
    onEmulator: (running) => (emulator = running),
  });
  process.stdout.write("\n");
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
