/**
 * `npm run emulator -- [options]`: runs the emulator in the foreground until Ctrl-C, printing the
 * endpoint and the environment that points this project's clients at it.
 */
import { parseArgs } from "node:util";
import type { ErrorRateRule } from "./faults";
import type { ScriptedOutcome } from "./guests/scriptedGuest";
import { startEmulator, type Emulator } from "./emulator";
import { findCachedGuestImage, startQemuEmulator } from "./qemu";

const USAGE = `Usage: npm run emulator -- [options]

Runs a local Compute Engine + Cloud Storage emulator on 127.0.0.1 until Ctrl-C.

Options:
  --port <n>               API port (default 8089; 0 = any free port)
  --latency <zero|gce>     latency model (default gce)
  --time-scale <x>         multiply every modelled delay by x (default 1)
  --data-dir <dir>         where object bytes and disk files go (default: a temp dir, removed on exit)
  --disk-files             give images and disks backing raw files (for VM-backed guests)
  --qemu                   every instance is a QEMU machine booting the Debian stand-in for COS,
                           which is the newest cos-stable image (implies --disk-files and
                           --no-cos-images; the guest image must be built: run npm start once)
  --outcome <o>            scripted build guests: success | failure | hang (default success)
  --status-lines <n>       scripted build guests: BuildStatus lines (default 5)
  --line-interval-ms <n>   scripted build guests: pause before each line (default 2000)
  --error-rate <m>=<r>     answer API method (glob) m with 429/503 at rate r, e.g. compute.*=0.05 (repeatable)
  --seed <n>               seed of the fault draws (default 1)
  --no-cos-images          do not seed the cos-cloud images
  --quiet                  do not print each request
  --help                   this text
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "8089" },
      latency: { type: "string", default: "gce" },
      "time-scale": { type: "string", default: "1" },
      "data-dir": { type: "string" },
      "disk-files": { type: "boolean", default: false },
      qemu: { type: "boolean", default: false },
      outcome: { type: "string", default: "success" },
      "status-lines": { type: "string", default: "5" },
      "line-interval-ms": { type: "string", default: "2000" },
      "error-rate": { type: "string", multiple: true, default: [] },
      seed: { type: "string", default: "1" },
      "no-cos-images": { type: "boolean", default: false },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.latency !== "zero" && values.latency !== "gce")
    throw new Error(`--latency must be zero or gce, got ${values.latency}`);
  const outcome = values.outcome as ScriptedOutcome;
  if (!["success", "failure", "hang"].includes(outcome))
    throw new Error(`--outcome must be success, failure or hang, got ${outcome}`);

  const common = {
    port: numberOption("port", values.port),
    latency: values.latency,
    timeScale: numberOption("time-scale", values["time-scale"]),
    dataDir: values["data-dir"],
    errorRates: values["error-rate"].map(parseErrorRate),
    seed: numberOption("seed", values.seed),
  } as const;
  let emulator: Emulator;
  let sourceImages: string;
  if (values.qemu) {
    // Only a cached guest image: building one takes minutes and root, which npm start explains.
    const guestImage = await findCachedGuestImage();
    if (!guestImage) {
      throw new Error(
        "--qemu needs the guest image, which is not built yet: run `npm start` once (as root)",
      );
    }
    const started = await startQemuEmulator({ ...common, guestImage });
    emulator = started.emulator;
    sourceImages = `${started.sourceImage} (family cos-stable): a Debian guest standing in for COS; every instance is a QEMU machine`;
  } else {
    emulator = await startEmulator({
      ...common,
      diskFiles: values["disk-files"],
      includeCosImages: !values["no-cos-images"],
      defaultGuest: {
        outcome,
        statusLines: numberOption("status-lines", values["status-lines"]),
        lineIntervalMs: numberOption("line-interval-ms", values["line-interval-ms"]),
      },
    });
    sourceImages =
      "projects/cos-cloud/global/images/family/cos-stable (and cos-beta, cos-dev, cos-117-lts, cos-121-lts)";
  }

  const env = emulator.env();
  process.stdout.write(
    [
      `GCE/GCS emulator listening on ${emulator.endpoint} (data in ${emulator.dataDir})`,
      "",
      "Point this project's clients at it:",
      ...Object.entries(env).map(([k, v]) => `  export ${k}=${v}`),
      "",
      "Point @pulumi/gcp at it (stack config):",
      `  pulumi config set gcp:computeCustomEndpoint ${emulator.endpoint}/compute/v1/`,
      `  pulumi config set gcp:storageCustomEndpoint ${emulator.endpoint}/storage/v1/`,
      `  pulumi config set gcp:accessToken ${env.CLOUDSDK_AUTH_ACCESS_TOKEN} --secret`,
      "",
      `Source images: ${sourceImages}`,
      "Press Ctrl-C to stop.",
      "",
    ].join("\n"),
  );

  let printed = 0;
  const ticker = values.quiet
    ? undefined
    : setInterval(() => {
        const entries = emulator.requestLog.entries();
        for (; printed < entries.length; printed++) {
          const e = entries[printed];
          process.stdout.write(
            `${new Date(e.startedAt).toISOString()} ${e.status} ${e.method} ${e.httpMethod} ${e.path}\n`,
          );
        }
      }, 250);

  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  if (ticker) clearInterval(ticker);
  process.stdout.write("\nStopping the emulator...\n");
  await emulator.close();
}

function numberOption(name: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || value.trim() === "" || !Number.isFinite(n))
    throw new Error(`--${name} must be a number, got ${value}`);
  return n;
}

function parseErrorRate(text: string): ErrorRateRule {
  const eq = text.lastIndexOf("=");
  if (eq <= 0) throw new Error(`--error-rate expects <method>=<rate>, got ${text}`);
  return { method: text.slice(0, eq), rate: numberOption("error-rate", text.slice(eq + 1)) };
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
