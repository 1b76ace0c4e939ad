import { setTimeout as sleep } from "node:timers/promises";
import type { protos } from "@google-cloud/compute";
import { apiMessage } from "../google/errors";
import {
  LastLines,
  SerialLineReader,
  doneStepOf,
  parseBuildLine,
  startedStepOf,
} from "../guest/serialLines";
import { PROTOCOL_VERSION, SERIAL_PORT } from "../guest/protocol";
import { preemptionRetriesOf } from "./spec";
import type { ComputeApi } from "../google/computeApi";
import type { BuildRun } from "./buildRun";
import { BuildFailedError, SERIAL_TAIL_LINES } from "./errors";
import { DiskResizeFailure, type DiskResizeRequest } from "./resizeBootDisk";
import type { Progress } from "./progress";
import type { ZonalRef } from "./temporaries";

/** How the provisioner's run ended, as seen from outside. */
export type WatchOutcome =
  | { kind: "succeeded"; message: string; instance: protos.google.cloud.compute.v1.IInstance }
  | { kind: "failed"; step: string; reason: string }
  | { kind: "protocol-mismatch"; version: number }
  /** `step`: the step under way when the VM stopped (started and not done), if any. */
  | { kind: "stopped"; status: string; step: string | undefined };

/**
 * Polling rhythm. While the provisioner talks, serial port 3 is read every `serialPollMs`, which
 * keeps the success-to-acknowledgement lag small; while it is silent (the VM booting, a quiet
 * script), the period grows by half each time up to `idleSerialPollMs`, which saves API calls
 * (they count against the project's read quota) at the cost of a bounded lag.
 */
export interface WatchTiming {
  /** Between serial port reads while output is arriving. */
  serialPollMs: number;
  /** Longest period between serial port reads while nothing arrives. Default: 3 × `serialPollMs`. */
  idleSerialPollMs?: number;
  /** Between instance status reads (to notice a VM that stopped, crashed or was preempted). */
  statusPollMs: number;
  /**
   * Between instance status reads while serial output is arriving: a guest that talks is running,
   * and one that stops (a crash, a preemption) falls silent, which brings the reads back to
   * `statusPollMs`. Default: 3 × `statusPollMs`.
   */
  talkingStatusPollMs?: number;
}

export const DEFAULT_WATCH_TIMING: WatchTiming = {
  serialPollMs: 1_000,
  idleSerialPollMs: 3_000,
  statusPollMs: 10_000,
};

/** What else follows the VM's serial output (the CIDATA fetch, see `fetchedCidata.ts`). */
export interface WatchHooks {
  /** Called with the text of every `BuildStatus:` line, as it is read. */
  onStatus?(text: string): void;
  /** Called before every poll; throws to end the watch (work it started has failed). */
  check?(): void;
  /**
   * Serves a `BuildDiskResize:` line; the watch reads on once it resolves. A
   * {@link DiskResizeFailure} ends the watch as a failure of the step that asked.
   */
  onDiskResize?(request: DiskResizeRequest): Promise<void>;
}

const STOPPED = new Set(["STOPPING", "STOPPED", "TERMINATED", "SUSPENDING", "SUSPENDED"]);

/**
 * Follows serial port 3 of the preload VM until the provisioner reports success or failure, or the
 * VM stops without a verdict. Streams `BuildStatus:` lines as progress and keeps the last lines for
 * error messages.
 */
export class SerialWatch {
  readonly tail = new LastLines(SERIAL_TAIL_LINES);
  private readonly reader = new SerialLineReader();
  /** The instance as last read; its metadata fingerprint serves the acknowledgement. */
  private latest: protos.google.cloud.compute.v1.IInstance = {};
  private lastReadError = "";
  /** The step the provisioner said it started last, for a disk resize request's messages. */
  private currentStep = "the disk layout";
  /**
   * The step under way: started and not yet done. A VM that stops without a verdict (a crash, a
   * power cut in the middle of a disk layout's relocation at shutdown) fails in this step.
   */
  private runningStep: string | undefined;

  constructor(
    private readonly api: ComputeApi,
    private readonly vm: ZonalRef,
    private readonly progress: Progress,
    private readonly timing: WatchTiming = DEFAULT_WATCH_TIMING,
    private readonly hooks: WatchHooks = {},
  ) {}

  /** Watches until an outcome; throws only when the deadline passes. */
  async run(): Promise<WatchOutcome> {
    await this.instance();
    let lastStatusCheck = Date.now();
    const idleMs = this.timing.idleSerialPollMs ?? 3 * this.timing.serialPollMs;
    const talkingStatusMs = this.timing.talkingStatusPollMs ?? 3 * this.timing.statusPollMs;
    let periodMs = this.timing.serialPollMs;
    for (;;) {
      this.api.deadline.check("waiting for the provisioner to finish");
      this.hooks.check?.();
      const before = this.reader.nextOffset;
      const outcome = await this.readOnce();
      if (outcome) return outcome;
      const talking = this.reader.nextOffset > before;
      periodMs = talking ? this.timing.serialPollMs : Math.min(idleMs, Math.round(periodMs * 1.5));
      const statusDueMs = talking ? talkingStatusMs : this.timing.statusPollMs;
      if (Date.now() - lastStatusCheck >= statusDueMs) {
        lastStatusCheck = Date.now();
        const instance = await this.instance();
        if (STOPPED.has(instance.status ?? "")) {
          // The guest may have written its verdict just before stopping: look once more.
          return (
            (await this.readOnce().catch(() => undefined)) ?? {
              kind: "stopped",
              status: instance.status ?? "UNKNOWN",
              step: this.runningStep,
            }
          );
        }
      }
      await sleep(periodMs, undefined, { signal: this.api.deadline.signal }).catch(() => undefined);
    }
  }

  /** The instance as it is now. */
  async instance(): Promise<protos.google.cloud.compute.v1.IInstance> {
    const [instance] = await this.api.read(`reading the instance ${this.vm.name}`, () =>
      this.api.clients.instances.get(
        { project: this.vm.project, zone: this.vm.zone, instance: this.vm.name },
        this.api.callOptions(),
      ),
    );
    this.latest = instance;
    return instance;
  }

  /** The last lines seen, with the unterminated rest. */
  lastLines(): string[] {
    return [...this.tail.all, ...this.reader.rest()].slice(-SERIAL_TAIL_LINES);
  }

  private async readOnce(): Promise<WatchOutcome | undefined> {
    let output: protos.google.cloud.compute.v1.ISerialPortOutput;
    try {
      [output] = await this.api.clients.instances.getSerialPortOutput(
        {
          project: this.vm.project,
          zone: this.vm.zone,
          instance: this.vm.name,
          port: SERIAL_PORT,
          start: String(this.reader.nextOffset),
        },
        this.api.callOptions(),
      );
    } catch (error) {
      // Not readable while the VM is still provisioning, or transiently: the status check decides.
      const message = apiMessage(error);
      if (message !== this.lastReadError)
        this.progress.info(`serial port 3 not readable (yet): ${message}`);
      this.lastReadError = message;
      return undefined;
    }
    this.lastReadError = "";
    const poll = this.reader.push({
      contents: output.contents ?? "",
      start: Number(output.start ?? this.reader.nextOffset),
      next: Number(output.next ?? this.reader.nextOffset),
    });
    if (poll.gapBytes > 0)
      this.progress.warn(
        `${poll.gapBytes} bytes of serial output were lost before they could be read`,
      );
    for (const line of poll.lines) {
      this.tail.add(line);
      this.progress.serialLine?.(line);
      const event = parseBuildLine(line);
      switch (event.kind) {
        case "protocol":
          if (event.version !== PROTOCOL_VERSION)
            return { kind: "protocol-mismatch", version: event.version };
          this.progress.info(
            event.stage === "boot"
              ? `build VM booted; getting the CIDATA tree (protocol ${event.version})`
              : `provisioner started (protocol ${event.version})`,
          );
          break;
        case "status":
          this.progress.info(`| ${event.text}`);
          this.followSteps(event.text);
          this.hooks.onStatus?.(event.text);
          break;
        case "diskResize": {
          const failure = await this.serveDiskResize(event);
          if (failure) return failure;
          break;
        }
        case "succeeded":
          return { kind: "succeeded", message: event.text, instance: this.latest };
        case "failed":
          return { kind: "failed", step: event.step, reason: event.reason };
        case "other":
          break;
      }
    }
    return undefined;
  }

  /** Keeps track of the step the provisioner said it started, and whether it said it is done. */
  private followSteps(statusText: string): void {
    const started = startedStepOf(statusText);
    if (started !== undefined) {
      this.currentStep = started;
      this.runningStep = started;
    } else if (this.runningStep !== undefined && doneStepOf(statusText) === this.runningStep) {
      this.runningStep = undefined;
    }
  }

  /** Hands a resize request to the hook; a refusal becomes the step's failure. */
  private async serveDiskResize(event: {
    sizeGb: number;
    text: string;
  }): Promise<WatchOutcome | undefined> {
    const request = { sizeGb: event.sizeGb, text: event.text, step: this.currentStep };
    if (!this.hooks.onDiskResize)
      return {
        kind: "failed",
        step: request.step,
        reason: "the provisioner asked for a boot disk resize, which this build cannot serve",
      };
    try {
      await this.hooks.onDiskResize(request);
      return undefined;
    } catch (error) {
      if (error instanceof DiskResizeFailure)
        return { kind: "failed", step: error.step, reason: error.reason };
      throw error;
    }
  }
}

/** Follows the VM's serial port 3 until the provisioner's verdict, or until the VM stops without one. */
export async function watchProvisioner(
  run: BuildRun,
  vm: ZonalRef,
  hooks: WatchHooks = {},
): Promise<{ outcome: WatchOutcome; watch: SerialWatch }> {
  const watch = new SerialWatch(run.api, vm, run.progress, run.options.watch, hooks);
  return { outcome: await watch.run(), watch };
}

/**
 * The instance of a successful run (as last read: its metadata fingerprint serves the
 * acknowledgement). Any other outcome throws {@link BuildFailedError}, naming the step and carrying
 * the serial tail.
 */
export function expectSuccess(
  run: BuildRun,
  outcome: WatchOutcome,
  watch: SerialWatch,
): protos.google.cloud.compute.v1.IInstance {
  switch (outcome.kind) {
    case "succeeded":
      return outcome.instance;
    case "failed":
      throw new BuildFailedError(outcome.step, outcome.reason, watch.lastLines());
    case "protocol-mismatch":
      throw new BuildFailedError(
        "setup",
        `the provisioner on the CIDATA disk speaks protocol ${outcome.version}, this orchestrator ${PROTOCOL_VERSION} (mixed package versions?)`,
        watch.lastLines(),
      );
    case "stopped": {
      const why = `stopped (${outcome.status}) before the provisioner reported a result: it crashed, was stopped from outside${preemptionRetriesOf(run.spec) ? ", or was preempted more often than preemptionRetries allows" : ""}`;
      // Name the step that was under way, so that the user knows what the stop interrupted.
      throw outcome.step === undefined
        ? new BuildFailedError("the build VM", `it ${why}`, watch.lastLines())
        : new BuildFailedError(outcome.step, `the build VM ${why}`, watch.lastLines());
    }
  }
}
