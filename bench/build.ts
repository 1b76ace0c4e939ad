/**
 * `npm run bench:build`: the build pipeline on the local emulator, with the real provider code and
 * Google clients, measured in one run. Last line:
 *
 *   build: detection lag median <s>s, overhead <s>s, api calls <n>, vs seed DAG <r>x,
 *          disk-free large <r>x <n> calls, fallback no route <r>x refused <r>x,
 *          8 parallel <r>x wall <r>x calls
 *
 * - detection lag: time from the guest writing `BuildSucceeded:` to the orchestrator's
 *   acknowledgement arriving (production polling, zero-latency emulator), median of several builds;
 * - overhead: the orchestrator's own wall time on a zero-latency emulator (whole build minus the time
 *   the guest ran), median;
 * - api calls: requests of one build whose guest runs 60 s (GCE latency model);
 * - vs seed DAG: that build's wall time over COS Customizer's Daisy workflow replayed on the same
 *   model, guest and emulator;
 * - disk-free large: the same for a large or secret build (the VM fetches its tree from the bucket),
 *   and its API calls;
 * - fallback: such a build whose VM cannot read the bucket, so it falls back to the CIDATA disk by
 *   itself: without a route (no external IP: the build hedges by default) and with its token
 *   refused (the default service account: no hedge by default); both ways are printed before;
 * - 8 parallel: 8 small builds of 8 components at once, wall time and API calls over one build's.
 *
 * Above it, for each single build, the time from its start to each phase it entered, in model
 * seconds, and the model's floor: what the latency model charges on the critical path that no
 * correct build can avoid (the VM's start and boot, the guest's work, its power-off, the image).
 *
 * The GCE-model part runs with the emulator's delays and both orchestrators' polling intervals
 * scaled by BENCH_TIME_SCALE (default 0.1, so it takes about a minute; 1 runs it in real time).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { planCidata, writeCidataArchive } from "../components/cidata";
import type { BuildPhase, PipelineOptions } from "../components/pipeline/runBuild";
import { recordingProgress } from "../components/pipeline/progress";
import { MARKERS } from "../components/guest/protocol";
import * as runtime from "../components/provider/runtime";
import {
  GCE_LATENCY,
  scriptedGuest,
  type EmulatorOptions,
  type GuestBackend,
  type GuestContext,
  type ScriptedGuestOptions,
} from "../emulator";
import {
  buildInputs,
  checkBuild,
  createBuild,
  oneScriptTarget,
  type BuildTarget,
} from "../tests/support/buildInputs";
import { startEmulatorCloud, type EmulatorCloud } from "../tests/support/emulatorCloud";
import { DAISY_ACK_KEY, SEED_BUILD_ID, runSeedDag } from "./seedDag";

const PROJECT = "bench-project";
const ZONE = "us-central1-a";
const BUCKET = "bench-scratch";
const LAG_BUILDS = Number(process.env.BENCH_LAG_BUILDS ?? 9);
const TIME_SCALE = Number(process.env.BENCH_TIME_SCALE ?? 0.1);
const GUEST_SECONDS = 60;

/** Production polling (components/pipeline/watchProvisioner.ts, runBuild.ts), optionally scaled. */
function productionTiming(scale: number): PipelineOptions {
  return {
    watch: {
      serialPollMs: 1_000 * scale,
      idleSerialPollMs: 3_000 * scale,
      statusPollMs: 10_000 * scale,
    },
    stopPollMs: 500 * scale,
  };
}

/** When the guest of each instance ran, and when it wrote its success line. */
interface GuestTimes {
  bootedAt?: number;
  succeededAt?: number;
  poweredOffAt?: number;
}

/** A scripted guest whose serial writes and power-off are timed. */
function timedGuest(options: ScriptedGuestOptions, times: GuestTimes): GuestBackend {
  const inner = scriptedGuest(options);
  return {
    boot(ctx: GuestContext): Promise<void> {
      times.bootedAt ??= Date.now();
      const timed = Object.create(ctx) as GuestContext;
      timed.writeSerial = (port, text) => {
        if (port === 3 && String(text).includes(MARKERS.succeeded)) times.succeededAt = Date.now();
        ctx.writeSerial(port, text);
      };
      timed.powerOff = () => {
        times.poweredOffAt = Date.now();
        ctx.powerOff();
      };
      return inner.boot(timed);
    },
  };
}

function benchTarget(programDir: string, endpoint: string): BuildTarget {
  const place = { project: PROJECT, zone: ZONE, bucket: BUCKET };
  return oneScriptTarget(programDir, endpoint, place, "build.sh", (name) =>
    `bench${name}`.slice(0, 16),
  );
}

async function build(
  endpoint: string,
  programDir: string,
  name: string,
  args: { externalIp?: boolean } = {},
): Promise<number> {
  return (await timedBuild(endpoint, programDir, name, args)).createMs;
}

/** A build's `check` and `create`, each timed (ms). */
async function timedBuild(
  endpoint: string,
  programDir: string,
  name: string,
  args: { externalIp?: boolean } = {},
): Promise<{ checkMs: number; createMs: number }> {
  const checkStarted = Date.now();
  const checked = await checkBuild(buildInputs(benchTarget(programDir, endpoint), name, args));
  const started = Date.now();
  await createBuild(checked);
  return { checkMs: started - checkStarted, createMs: Date.now() - started };
}

function newEmulator(options: EmulatorOptions): Promise<EmulatorCloud> {
  return startEmulatorCloud({ project: PROJECT, bucket: BUCKET, emulator: options });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function zeroLatencyRuns(programDir: string): Promise<{ lagMs: number; overheadMs: number }> {
  const times = new Map<string, GuestTimes>();
  const cloud = await newEmulator({
    guestFor: (instance) => {
      const t: GuestTimes = {};
      times.set(instance.name, t);
      // A guest that works for about 3 s, so the orchestrator is in its steady polling rhythm, and
      // starts at a random moment, so its success line is not in step with the orchestrator's polls.
      return timedGuest(
        { statusLines: 6, lineIntervalMs: 500, bootDelayMs: Math.random() * 1_000 },
        t,
      );
    },
  });
  const { emulator } = cloud;
  const restore = runtime.configureRuntime({
    progress: () => recordingProgress(),
    pipeline: productionTiming(1),
  });
  const lags: number[] = [];
  const overheads: number[] = [];
  try {
    for (let i = 0; i < LAG_BUILDS; i++) {
      const before = emulator.requestLog.entries().length;
      const { checkMs, createMs: wallMs } = await timedBuild(
        emulator.endpoint,
        programDir,
        `lag${i}`,
      );
      const acks = emulator.requestLog
        .entries()
        .slice(before)
        .filter((e) => e.method === "compute.instances.setMetadata");
      const guest = [...times.values()].pop() as GuestTimes;
      if (!guest.succeededAt || !guest.bootedAt || !guest.poweredOffAt || acks.length !== 1)
        throw new Error("bench: a build did not run as expected");
      lags.push(acks[0].startedAt - guest.succeededAt);
      overheads.push(wallMs - (guest.poweredOffAt - guest.bootedAt));
      console.log(
        `  zero-latency build ${i + 1}/${LAG_BUILDS}: check ${(checkMs / 1000).toFixed(2)}s, wall ${(wallMs / 1000).toFixed(2)}s, guest ${((guest.poweredOffAt - guest.bootedAt) / 1000).toFixed(2)}s, detection lag ${(lags[i] / 1000).toFixed(2)}s`,
      );
    }
  } finally {
    restore();
    await cloud.close();
  }
  return { lagMs: median(lags), overheadMs: median(overheads) };
}

/** One variant of the build under the GCE model. */
interface ModelVariant {
  /** How the CIDATA tree travels (`bucket` stands for a large or secret build). */
  delivery: "auto" | "disk" | "bucket";
  /** Prepare the CIDATA disk from the start as a hedge (bucket only). Default: the build's own choice. */
  hedge?: boolean;
  /** The VM's service account may not read the bucket: the build falls back to the disk. */
  denied?: boolean;
  /** The VM has no external IP and no Private Google Access: the build falls back to the disk. */
  noRoute?: boolean;
  /** Builds run at once, each its own component. Default 1. */
  parallel?: number;
}

/** What a variant measured: wall time of the run, and API calls of all its builds. */
interface ModelResult {
  apiCalls: number;
  oursMs: number;
}

/** Size of the COS images' boot disk in the emulator, which the output image is made from. */
const BOOT_DISK_GB = 10;

/**
 * The model's floor in unscaled seconds: the delays on the critical path of any build that boots a
 * VM from the COS image, lets the guest run its steps and images the stopped boot disk (the
 * insert's and the image's operations start, the boot disk made from the image, PROVISIONING,
 * STAGING, boot, the guest's work, its own power-off, the image). Polling, the acknowledgement and
 * the cleanup come on top.
 */
function modelFloorSeconds(): number {
  const m = GCE_LATENCY;
  const ms =
    2 * m.operationStart.baseMs +
    m.diskFromImage.baseMs +
    (m.diskFromImage.perGiBMs ?? 0) * BOOT_DISK_GB +
    m.instanceProvisioning.baseMs +
    m.instanceStaging.baseMs +
    m.guestBoot.baseMs +
    GUEST_SECONDS * 1000 +
    m.guestPowerOff.baseMs +
    m.imageFromDisk.baseMs +
    (m.imageFromDisk.perGiBMs ?? 0) * BOOT_DISK_GB;
  return ms / 1000;
}

/** `phase +12.3s` for each phase the build entered, in model seconds from its start. */
function describePhases(started: number, phases: Array<[BuildPhase, number]>): string {
  return phases
    .map(([phase, at]) => `${phase} +${((at - started) / 1000 / TIME_SCALE).toFixed(1)}s`)
    .join(", ");
}

function modelEmulator(variant: Pick<ModelVariant, "denied">): Promise<EmulatorCloud> {
  // The guest runs 60 s (scaled) of work after it has booted and found its CIDATA tree.
  const lineMs = (GUEST_SECONDS * 1000 * TIME_SCALE) / GUEST_SECONDS;
  return newEmulator({
    latency: "gce",
    timeScale: TIME_SCALE,
    ...(variant.denied ? { deniedStorageServiceAccounts: ["*"] } : {}),
    guestFor: (instance) =>
      scriptedGuest({
        statusLines: GUEST_SECONDS,
        lineIntervalMs: lineMs,
        ...(instance.name.startsWith("preload-vm") ? { ackKey: DAISY_ACK_KEY } : {}),
      }),
  });
}

async function modelRun(programDir: string, variant: ModelVariant): Promise<ModelResult> {
  const cloud = await modelEmulator(variant);
  const { emulator } = cloud;
  // Phases are told apart only for a single build (parallel builds' phases interleave).
  const phases: Array<[BuildPhase, number]> = [];
  const restore = runtime.configureRuntime({
    progress: () => recordingProgress(),
    pipeline: {
      ...productionTiming(TIME_SCALE),
      cidataDelivery: variant.delivery,
      ...(variant.hedge !== undefined ? { cidataHedge: variant.hedge } : {}),
      ...(variant.parallel ? {} : { onPhase: (phase) => void phases.push([phase, Date.now()]) }),
    },
  });
  try {
    const before = emulator.requestLog.count();
    const started = Date.now();
    await Promise.all(
      Array.from({ length: variant.parallel ?? 1 }, (_, i) =>
        build(
          emulator.endpoint,
          programDir,
          `model${i}`,
          variant.noRoute ? { externalIp: false } : {},
        ),
      ),
    );
    const oursMs = Date.now() - started;
    const apiCalls = emulator.requestLog.count() - before;
    const byMethod = new Map<string, number>();
    for (const e of emulator.requestLog.entries().slice(before))
      byMethod.set(e.method, (byMethod.get(e.method) ?? 0) + 1);
    console.log(
      `  ${describeVariant(variant)}: ${(oursMs / 1000).toFixed(1)}s, ${apiCalls} API calls (${[
        ...byMethod,
      ]
        .sort((a, b) => b[1] - a[1])
        .map(([m, n]) => `${m.replace(/^compute\./, "")} ${n}`)
        .join(", ")})`,
    );
    if (phases.length > 0)
      console.log(
        `    phases (model s from the start): ${describePhases(started, phases)}, done +${(oursMs / 1000 / TIME_SCALE).toFixed(1)}s`,
      );
    return { apiCalls, oursMs };
  } finally {
    restore();
    await cloud.close();
  }
}

function describeVariant(v: ModelVariant): string {
  const tree =
    v.delivery === "auto"
      ? "small build (metadata)"
      : v.delivery === "disk"
        ? "CIDATA disk forced"
        : "large or secret build (bucket)";
  const hedge =
    v.hedge === undefined
      ? ""
      : v.hedge
        ? "disk hedge started at launch"
        : "disk made on fallback only";
  return [
    tree,
    v.denied ? "token refused, falls back to the disk" : "",
    v.noRoute ? "no route to storage, falls back to the disk" : "",
    hedge,
    v.parallel ? `${v.parallel} at once` : "",
  ]
    .filter(Boolean)
    .join(", ");
}

/** COS Customizer's Daisy workflow replayed on the same model, guest and emulator. */
async function seedRun(programDir: string): Promise<number> {
  const cloud = await modelEmulator({});
  const { clients } = cloud;
  try {
    const archive = path.join(programDir, "cidata.tar.gz");
    const plan = await planCidata({
      entries: [
        { path: "context", source: { directory: path.join(programDir, "image") } },
        { path: "meta-data", source: { content: `instance-id: ${SEED_BUILD_ID}\n` } },
      ],
    });
    await writeCidataArchive(plan, archive);
    const started = Date.now();
    await clients.storage
      .bucket(BUCKET)
      .upload(archive, { destination: "seed/cidata.tar.gz_", resumable: false });
    await runSeedDag({
      clients,
      project: PROJECT,
      zone: ZONE,
      bucket: BUCKET,
      archiveObject: "seed/cidata.tar.gz_",
      sourceImage: "projects/cos-cloud/global/images/family/cos-stable",
      outputImage: "seed-output",
      timeScale: TIME_SCALE,
      progress: recordingProgress(),
    });
    const seedMs = Date.now() - started;
    console.log(`  seed DAG replay under the same model: ${(seedMs / 1000).toFixed(1)}s`);
    return seedMs;
  } finally {
    await cloud.close();
  }
}

async function main(): Promise<void> {
  const programDir = fs.mkdtempSync(path.join(os.tmpdir(), "pci-bench-build-"));
  fs.mkdirSync(path.join(programDir, "image"));
  fs.writeFileSync(path.join(programDir, "image", "build.sh"), "echo building\n");
  try {
    console.log(`zero-latency emulator, production polling, ${LAG_BUILDS} builds:`);
    const { lagMs, overheadMs } = await zeroLatencyRuns(programDir);
    console.log(
      `GCE latency model, scaled x${TIME_SCALE} (set BENCH_TIME_SCALE=1 for real time), guest runs ${GUEST_SECONDS}s:`,
    );
    const seedMs = await seedRun(programDir);
    const vs = (r: ModelResult): string => `${(r.oursMs / seedMs).toFixed(2)}x`;
    const small = await modelRun(programDir, { delivery: "auto" });
    const disk = await modelRun(programDir, { delivery: "disk" });
    const large = await modelRun(programDir, { delivery: "bucket" });
    const hedged = await modelRun(programDir, { delivery: "bucket", hedge: true });
    // The default hedges where a fallback is plausible (no external IP, the user's service account)
    // and not otherwise: both fallbacks, each way.
    const noRoute = await modelRun(programDir, { delivery: "bucket", noRoute: true });
    const noRouteLate = await modelRun(programDir, {
      delivery: "bucket",
      noRoute: true,
      hedge: false,
    });
    const refused = await modelRun(programDir, { delivery: "bucket", denied: true });
    const refusedHedged = await modelRun(programDir, {
      delivery: "bucket",
      denied: true,
      hedge: true,
    });
    const parallel = await modelRun(programDir, { delivery: "auto", parallel: 8 });
    console.log(
      `  vs seed DAG: small ${vs(small)}, disk forced ${vs(disk)} (${disk.apiCalls} calls), large ${vs(large)} (${large.apiCalls} calls; with a hedge ${vs(hedged)}, ${hedged.apiCalls} calls)`,
    );
    console.log(
      `  fallback, hedge vs disk made on fallback only: no route ${vs(noRoute)} (${noRoute.apiCalls} calls) vs ${vs(noRouteLate)} (${noRouteLate.apiCalls} calls), token refused ${vs(refusedHedged)} (${refusedHedged.apiCalls} calls) vs ${vs(refused)} (${refused.apiCalls} calls)`,
    );
    const floor = modelFloorSeconds();
    console.log(
      `  model floor of any build: ${floor.toFixed(1)}s = ${((floor * 1000 * TIME_SCALE) / seedMs).toFixed(2)}x the seed DAG (${(seedMs / 1000 / TIME_SCALE).toFixed(1)}s); large build ${(large.oursMs / 1000 / TIME_SCALE).toFixed(1)}s, ${(large.oursMs / 1000 / TIME_SCALE - floor).toFixed(1)}s above it`,
    );
    console.log(
      `build: detection lag median ${(lagMs / 1000).toFixed(2)}s, overhead ${(overheadMs / 1000).toFixed(2)}s, api calls ${small.apiCalls}, vs seed DAG ${vs(small)}, disk-free large ${vs(large)} ${large.apiCalls} calls, fallback no route ${vs(noRoute)} refused ${vs(refused)}, 8 parallel ${(parallel.oursMs / small.oursMs).toFixed(2)}x wall ${(parallel.apiCalls / small.apiCalls).toFixed(1)}x calls`,
    );
  } finally {
    fs.rmSync(programDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
