/**
 * A simulated build VM that speaks the real serial protocol of `components/guest/protocol.ts`, for fast
 * orchestration tests and benchmarks. Per boot it: (optionally) waits for the `cidata` disk, prints
 * `BuildProtocol: <version> build=<id>` on serial port 3, then `BuildStatus:` lines (with, when asked
 * to, a boot disk resize request among them), then ends as the scenario says. Progress survives reboots (like the provisioner's state file), so a reboot
 * mid-way resumes after the last printed step.
 *
 * The build id comes from the VM's cloud-config (`user-data`), where the real guest finds it too;
 * instances that tests make by hand name it in the metadata key `pci-build-id` instead, which the
 * product never sets. Reading the CIDATA disk would need a FAT parser for no gain in a simulation;
 * a tree to fetch from Cloud Storage (`pci-cidata-fetch`) is fetched and verified for real
 * (`cidataFetch.ts`), and on failure the guest waits for the disk, as the start script does.
 */
import {
  ACK_METADATA_KEY,
  CIDATA_FETCH_STATUS,
  DEVICE_NAMES,
  DISK_RESIZED_METADATA_KEY,
  FETCH_CIDATA_METADATA_KEY,
  INLINE_CIDATA_METADATA_KEY,
  MARKERS,
  PROTOCOL_VERSION,
  SERIAL_PORT,
} from "../../components/guest/protocol";
import { fetchCidata } from "./cidataFetch";
import type { GuestBackend, GuestContext } from "./guest";

/** Instance metadata key naming the build id of a test's hand-made build instance (never set by the product). */
export const BUILD_ID_METADATA_KEY = "pci-build-id";

/** Where the rendered cloud-config names its build (the start script's `readonly build_id='<id>'`). */
const CLOUD_CONFIG_BUILD_ID = /\bbuild_id='([A-Za-z0-9._-]+)'/;

/**
 * The build id of an instance, as its guest learns it: from the cloud-config in `user-data`, else
 * from `buildIdKey` (hand-made test instances); undefined when the instance is no build VM.
 */
export function buildIdOf(
  get: (key: string) => string | undefined,
  buildIdKey = BUILD_ID_METADATA_KEY,
): string | undefined {
  return CLOUD_CONFIG_BUILD_ID.exec(get("user-data") ?? "")?.[1] ?? get(buildIdKey);
}

/** How a scripted build ends. */
export type ScriptedOutcome =
  /** `BuildSucceeded:`, wait for the ack (bounded), power off. */
  | "success"
  /** `BuildFailed: <step>: <reason>`, power off after `failureShutdownMs`. */
  | "failure"
  /** Nothing more after the status lines; the VM runs until stopped or deleted. */
  | "hang";

/** Scenario of a scripted guest. Every duration is in real (unscaled) milliseconds. */
export interface ScriptedGuestOptions {
  /** How the build ends. Default `success`. */
  outcome?: ScriptedOutcome;
  /** Number of `BuildStatus:` lines before the outcome. >= 0, default 3. */
  statusLines?: number;
  /** Pause before each status line. Default 0. */
  lineIntervalMs?: number;
  /** Time from boot to the protocol line. Default: the latency model's `guestBoot` (0 at zero latency). */
  bootDelayMs?: number;
  /**
   * Wait for the disk with device name `cidata` before starting (hot attach), unless the instance
   * metadata carries the CIDATA tree (`pci-cidata`). Default true.
   */
  waitForCidata?: boolean;
  /** How long to wait for the cidata disk before failing in step `setup`. Default 600000 (10 min). */
  cidataTimeoutMs?: number;
  /** Print `BuildStatus: Rebooting...` and reboot once after this many status lines. Default: never. */
  rebootAfterLines?: number;
  /** Step named in `BuildFailed:`. Default `step 1/1 runScript build.sh`. */
  failureStep?: string;
  /** Reason in `BuildFailed:`. Default `exit status 1`. */
  failureReason?: string;
  /** Delay between `BuildFailed:` and power-off. Default 300000 (5 min, as COS Customizer). */
  failureShutdownMs?: number;
  /** How long to wait for the ack before powering off anyway. Default 300000 (5 min). */
  ackTimeoutMs?: number;
  /** Metadata key of the acknowledgement. Default `pci-build-ack`. */
  ackKey?: string;
  /** Metadata key of the build id when `user-data` names none. Default `pci-build-id`. */
  buildIdKey?: string;
  /** Protocol version announced (change it to test a mismatch). Default {@link PROTOCOL_VERSION}. */
  protocolVersion?: number;
  /** Text of status line `n` (1-based) of `total`. Default `step <n>/<total>: working`. */
  statusText?: (n: number, total: number) => string;
  /** Write boot chatter on serial port 1. Default true. */
  consoleOutput?: boolean;
  /** Ask for a larger boot disk mid-build, as a disk-layout step of the provisioner does. */
  diskResize?: ScriptedDiskResize;
}

/**
 * A boot disk resize request (protocol.ts, `BuildDiskResize:`): after `afterLines` status lines the
 * guest prints `BuildDiskResize: <sizeGb>`, waits for metadata `pci-disk-resized` to equal
 * `<sizeGb>`, then checks that its boot disk has that size, and goes on; otherwise it fails, with the
 * provisioner's wording.
 */
export interface ScriptedDiskResize {
  /** Ask after this many status lines (0: before the first). */
  afterLines: number;
  /** The size asked for, GB. */
  sizeGb: number;
  /** How long to wait for the acknowledgement, real ms. Default 600000 (the provisioner's 600 s). */
  timeoutMs?: number;
  /** Ask again at the start of every later boot, as a layout step resumed after a reboot does. Default false. */
  againAfterReboot?: boolean;
  /** Step named in a failure. Default `step 1/1 extendOemPartition`. */
  step?: string;
}

/** Creates a scripted guest for one instance (its progress persists across that instance's reboots). */
export function scriptedGuest(options: ScriptedGuestOptions = {}): GuestBackend {
  const outcome = options.outcome ?? "success";
  const total = options.statusLines ?? 3;
  if (!(Number.isInteger(total) && total >= 0))
    throw new Error(`statusLines must be a non-negative integer, got ${total}`);
  const ackKey = options.ackKey ?? ACK_METADATA_KEY;
  const buildIdKey = options.buildIdKey ?? BUILD_ID_METADATA_KEY;
  const statusText = options.statusText ?? ((n: number, of: number) => `step ${n}/${of}: working`);
  /** Survives reboots: the number of status lines already printed, and whether we rebooted. */
  const progress = { linesDone: 0, rebooted: false, resizeAsked: false };
  const resize = options.diskResize;
  if (
    resize &&
    !(Number.isInteger(resize.afterLines) && resize.afterLines >= 0 && resize.afterLines <= total)
  )
    throw new Error(
      `diskResize.afterLines must be a whole number from 0 to statusLines (${total})`,
    );

  return {
    async boot(ctx: GuestContext): Promise<void> {
      const say = (line: string): void => ctx.writeSerial(SERIAL_PORT, `${line}\n`);
      if (options.consoleOutput ?? true) {
        ctx.writeSerial(
          1,
          `[    0.000000] Linux version 6.1.0 (emulated scripted guest), boot ${ctx.bootNumber}\n`,
        );
      }
      await ctx.sleep(options.bootDelayMs ?? ctx.modelDelayMs("guestBoot"));
      if (ctx.signal.aborted) return;

      const buildId = buildIdOf((key) => ctx.metadata.get(key), buildIdKey) ?? "unknown";
      // Like the real start script: a CIDATA tree in metadata, or one fetched from Cloud Storage,
      // means there is no disk to wait for.
      let delivered = ctx.metadata.get(INLINE_CIDATA_METADATA_KEY) !== undefined;
      const fetchValue = ctx.metadata.get(FETCH_CIDATA_METADATA_KEY);
      // Fetched again at every boot, as the start script does (the tree lives in tmpfs).
      if (!delivered && fetchValue !== undefined) {
        say(
          `${MARKERS.protocol} ${options.protocolVersion ?? PROTOCOL_VERSION} build=${buildId} stage=boot`,
        );
        const fetched = await fetchCidata(ctx, fetchValue);
        if (ctx.signal.aborted) return;
        if (fetched.ok) {
          delivered = true;
          say(
            `${MARKERS.status} ${CIDATA_FETCH_STATUS.fetched} (${fetched.bytes} bytes, sha256 verified)`,
          );
        } else {
          say(
            `${MARKERS.status} ${CIDATA_FETCH_STATUS.failed} ${fetched.reason}; waiting for the CIDATA disk`,
          );
        }
      }
      if ((options.waitForCidata ?? true) && !delivered) {
        const disk = await ctx.waitForDisk(DEVICE_NAMES.cidata, {
          timeoutMs: options.cidataTimeoutMs ?? 600_000,
        });
        if (ctx.signal.aborted) return;
        if (!disk) {
          say(
            `${MARKERS.protocol} ${options.protocolVersion ?? PROTOCOL_VERSION} build=${buildId}`,
          );
          say(`${MARKERS.failed} setup: the ${DEVICE_NAMES.cidata} disk was never attached`);
          return failAndPowerOff(ctx, options.failureShutdownMs);
        }
      }
      say(`${MARKERS.protocol} ${options.protocolVersion ?? PROTOCOL_VERSION} build=${buildId}`);

      const askForDisk = async (): Promise<boolean> => {
        if (!resize) return true;
        progress.resizeAsked = true;
        const failed = await askForLargerDisk(ctx, say, resize);
        if (failed === undefined) return true;
        if (!ctx.signal.aborted) {
          say(`${MARKERS.failed} ${resize.step ?? "step 1/1 extendOemPartition"}: ${failed}`);
          await failAndPowerOff(ctx, options.failureShutdownMs);
        }
        return false;
      };
      if (resize?.againAfterReboot && progress.resizeAsked && !(await askForDisk())) return;

      while (progress.linesDone < total || (resize && !progress.resizeAsked)) {
        if (resize && !progress.resizeAsked && progress.linesDone >= resize.afterLines) {
          if (!(await askForDisk())) return;
          continue;
        }
        await ctx.sleep(options.lineIntervalMs ?? 0);
        if (ctx.signal.aborted) return;
        progress.linesDone++;
        say(`${MARKERS.status} ${statusText(progress.linesDone, total)}`);
        if (options.rebootAfterLines === progress.linesDone && !progress.rebooted) {
          progress.rebooted = true;
          say(`${MARKERS.status} Rebooting...`);
          ctx.reboot();
          return;
        }
      }

      if (outcome === "hang") return untilAborted(ctx.signal);
      if (outcome === "failure") {
        say(
          `${MARKERS.failed} ${options.failureStep ?? "step 1/1 runScript build.sh"}: ${options.failureReason ?? "exit status 1"}`,
        );
        return failAndPowerOff(ctx, options.failureShutdownMs);
      }
      say(`${MARKERS.succeeded} Build completed with no errors; waiting for the acknowledgement`);
      await ctx.metadata.waitFor(ackKey, {
        timeoutMs: options.ackTimeoutMs ?? 300_000,
        accept: (value) => value === buildId,
      });
      if (!ctx.signal.aborted) ctx.powerOff();
    },
  };
}

/** One `BuildDiskResize:` request and its wait; undefined when served, else why not. */
async function askForLargerDisk(
  ctx: GuestContext,
  say: (line: string) => void,
  resize: ScriptedDiskResize,
): Promise<string | undefined> {
  const timeoutMs = resize.timeoutMs ?? 600_000;
  say(`${MARKERS.diskResize} ${resize.sizeGb}`);
  const acked = await ctx.metadata.waitFor(DISK_RESIZED_METADATA_KEY, {
    timeoutMs,
    accept: (value) => value === String(resize.sizeGb),
  });
  if (ctx.signal.aborted) return "the boot ended";
  if (acked === undefined) {
    return `the boot disk was not resized to ${resize.sizeGb} GB within ${Math.round(timeoutMs / 1000)} s`;
  }
  const boot = ctx.disks().find((disk) => disk.boot);
  if (boot?.sizeGb !== resize.sizeGb) {
    return `the resize was acknowledged, but the boot disk is ${boot?.sizeGb ?? "?"} GB, not ${resize.sizeGb} GB`;
  }
  say(`${MARKERS.status} the boot disk is ${resize.sizeGb} GB`);
  return undefined;
}

async function failAndPowerOff(ctx: GuestContext, delayMs = 300_000): Promise<void> {
  await ctx.sleep(delayMs);
  if (!ctx.signal.aborted) ctx.powerOff();
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
