/** The emulator: wires the API server, the compute and storage state, guests and faults together. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ComputeDeps } from "./compute/deps";
import { DiskFiles } from "./compute/diskFiles";
import { registerAggregatedRoutes } from "./compute/aggregated";
import { registerDiskRoutes } from "./compute/disks";
import { registerImageRoutes } from "./compute/images";
import { guestInstanceInfo, InstanceRuntime } from "./compute/instanceRuntime";
import { registerInstanceRoutes } from "./compute/instances";
import { registerMachineTypeRoutes } from "./compute/machineTypes";
import { registerOperationRoutes } from "./compute/operationRoutes";
import { OperationStore } from "./compute/operations";
import type { InstanceRecord, InstanceStatus } from "./compute/resources";
import { COS_IMAGES, seedImage, type SeedImage } from "./compute/seedImages";
import type { SerialLine } from "./compute/serialPort";
import { ComputeState } from "./compute/state";
import { FaultInjector, type ErrorRateRule, type ScheduledInstanceFault } from "./faults";
import { globMatches } from "./glob";
import type { GuestBackend, MetadataServerAddress, SerialPortNumber } from "./guests/guest";
import { idleGuest } from "./guests/idleGuest";
import { buildIdOf, scriptedGuest } from "./guests/scriptedGuest";
import { Router } from "./http/router";
import { startApiServer, type ApiServer } from "./http/server";
import { Latency } from "./latency";
import { startMetadataServer } from "./metadata/metadataServer";
import type { EmulatorOptions } from "./options";
import { RequestLog } from "./requestLog";
import { ObjectStore } from "./storage/objectStore";
import { registerStorageRoutes } from "./storage/routes";

/** Names an instance. */
export interface InstanceRef {
  /** Project id. */
  project: string;
  /** Zone. */
  zone: string;
  /** Instance name. */
  name: string;
}

/** Everything the emulator holds, for assertions such as "nothing temporary remains". */
export interface Inventory {
  /** Images (`seeded` marks those created at start). */
  images: Array<{
    project: string;
    name: string;
    family?: string;
    status: string;
    labels: Record<string, string>;
    seeded: boolean;
    deprecated?: string;
  }>;
  /** Disks. */
  disks: Array<{
    project: string;
    zone: string;
    name: string;
    status: string;
    labels: Record<string, string>;
    users: string[];
  }>;
  /** Instances. */
  instances: Array<{
    project: string;
    zone: string;
    name: string;
    status: string;
    labels: Record<string, string>;
  }>;
  /** Buckets. */
  buckets: Array<{ project: string; name: string }>;
  /** Objects. */
  objects: Array<{
    bucket: string;
    name: string;
    size: number;
    metadata?: Record<string, string>;
    /** The upload's `predefinedAcl`, when it had one. */
    predefinedAcl?: string;
  }>;
}

/** A running emulator. */
export class Emulator {
  private constructor(
    /** `http://127.0.0.1:<port>`: the endpoint for both Compute Engine and Cloud Storage clients. */
    readonly endpoint: string,
    /** The API server's port. */
    readonly port: number,
    /** Where object bytes and disk files live. */
    readonly dataDir: string,
    private readonly ownsDataDir: boolean,
    private readonly server: ApiServer,
    private readonly state: ComputeState,
    private readonly store: ObjectStore,
    private readonly faults: FaultInjector,
    /** Request log and per-method counters. */
    readonly requestLog: RequestLog,
    private readonly timers: Set<NodeJS.Timeout>,
  ) {}

  /** Starts an emulator. */
  static async start(options: EmulatorOptions = {}): Promise<Emulator> {
    const ownsDataDir = options.dataDir === undefined;
    const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "gce-emulator-")));
    const latency = new Latency(options.latency ?? "zero", options.timeScale ?? 1);
    const state = new ComputeState();
    const store = new ObjectStore(join(dataDir, "storage"));
    const faults = new FaultInjector(options.errorRates ?? [], options.seed ?? 1);
    const requestLog = new RequestLog();
    const router = new Router();
    const operations = new OperationStore(latency, options.operationWaitCapMs ?? 120_000);
    const diskFiles = new DiskFiles(options.diskFiles ? join(dataDir, "compute") : undefined);
    let endpoint = "";
    const timers = new Set<NodeJS.Timeout>();

    const deps: ComputeDeps = {
      state,
      operations,
      latency,
      diskFiles,
      objectFile: (bucket, name) => store.objectFile(bucket, name),
      serialOutputAfterStop: options.serialOutputAfterStop ?? false,
      diskQuotaGb: options.diskQuotaGb,
      createInstanceRuntime: async (record) => {
        const runtime = new InstanceRuntime(record, chooseGuest(record, options), {
          latency,
          operations,
          state,
          diskFiles,
          guestShutdownGraceMs: options.guestShutdownGraceMs ?? 90_000,
          privateGoogleAccessSubnetworks: options.privateGoogleAccessSubnetworks ?? [],
        });
        runtime.metadataServer = await startMetadataServer(runtime);
        armScheduledFaults(runtime, options.scheduledFaults ?? [], latency.timeScale, timers);
        return runtime;
      },
    };
    registerImageRoutes(router, deps);
    registerDiskRoutes(router, deps);
    registerInstanceRoutes(router, deps);
    registerMachineTypeRoutes(router);
    registerAggregatedRoutes(router, deps);
    registerOperationRoutes(router, deps);
    registerStorageRoutes(router, store, () => endpoint, {
      deniedServiceAccounts: options.deniedStorageServiceAccounts ?? [],
    });

    for (const seed of options.includeCosImages === false ? [] : COS_IMAGES) seedImage(state, seed);
    for (const seed of options.seedImages ?? []) seedImage(state, seed);

    const server = await startApiServer(
      { router, requestLog, faults, requireAuth: options.requireAuth ?? true },
      options.port ?? 0,
    );
    endpoint = `http://127.0.0.1:${server.port}`;
    return new Emulator(
      endpoint,
      server.port,
      dataDir,
      ownsDataDir,
      server,
      state,
      store,
      faults,
      requestLog,
      timers,
    );
  }

  /**
   * The environment that points this project's clients (`components/google/clients.ts`) at the
   * emulator, plus the `gcp:` provider settings for `@pulumi/gcp` resources.
   */
  env(): Record<string, string> {
    return {
      PCI_COMPUTE_ENDPOINT: this.endpoint,
      PCI_STORAGE_ENDPOINT: this.endpoint,
      CLOUDSDK_AUTH_ACCESS_TOKEN: "emulator-token",
    };
  }

  /** Lists every image, disk, instance, bucket and object. */
  inventory(): Inventory {
    return {
      images: [...this.state.images.values()].map((i) => ({
        project: i.project,
        name: i.name,
        ...(i.family ? { family: i.family } : {}),
        status: i.status,
        labels: { ...i.labels },
        seeded: i.seeded,
        ...(i.deprecated ? { deprecated: i.deprecated.state } : {}),
      })),
      disks: [...this.state.disks.values()].map((d) => ({
        project: d.project,
        zone: d.zone,
        name: d.name,
        status: d.status,
        labels: { ...d.labels },
        users: [...d.users],
      })),
      instances: [...this.state.instances.values()].map(({ record: r }) => ({
        project: r.project,
        zone: r.zone,
        name: r.name,
        status: r.status,
        labels: { ...r.labels },
      })),
      buckets: this.store.allBuckets().map((b) => ({ project: b.project, name: b.name })),
      objects: this.store.allObjects().map((o) => ({
        bucket: o.bucket,
        name: o.name,
        size: o.size,
        ...(o.metadata ? { metadata: { ...o.metadata } } : {}),
        ...(o.predefinedAcl ? { predefinedAcl: o.predefinedAcl } : {}),
      })),
    };
  }

  /** Creates a READY image now (e.g. a bootable Debian disk for a QEMU guest). */
  seedImage(seed: SeedImage): Record<string, unknown> {
    return seedImage(this.state, seed).toJSON();
  }

  /**
   * The backing file of an image (a raw disk image), or undefined when the image has none (the
   * emulator runs without `diskFiles`). Throws when there is no such image.
   */
  imageFile(project: string, name: string): string | undefined {
    const image = this.state.images.get(`projects/${project}/global/images/${name}`);
    if (!image) throw new Error(`no image ${project}/${name}`);
    return image.filePath;
  }

  /** The instance's current status (throws when it does not exist). */
  instanceStatus(ref: InstanceRef): InstanceStatus {
    return this.runtime(ref).record.status;
  }

  /** Every status the instance went through, in order, with times (epoch ms). */
  instanceStatusHistory(ref: InstanceRef): ReadonlyArray<{ status: InstanceStatus; at: number }> {
    return this.runtime(ref).statusHistory;
  }

  /** Resolves once the instance has one of `statuses`. */
  untilInstanceStatus(ref: InstanceRef, ...statuses: InstanceStatus[]): Promise<void> {
    return this.runtime(ref).untilStatus(...statuses);
  }

  /** A host failure: the instance goes TERMINATED at once (and a `hostError` operation is recorded). */
  crashInstance(ref: InstanceRef): void {
    this.runtime(ref).crash();
  }

  /** Spot preemption: `compute.instances.preempted` operation, STOPPING, then TERMINATED. */
  preemptInstance(ref: InstanceRef): Promise<void> {
    return this.runtime(ref).preempt();
  }

  /** Complete lines written to a serial port, with their write times (epoch ms). Default port 3. */
  serialLines(ref: InstanceRef, port: SerialPortNumber = 3): readonly SerialLine[] {
    return this.runtime(ref).serialPort(port).writtenLines();
  }

  /** Address of the instance's metadata server. */
  metadataServer(ref: InstanceRef): MetadataServerAddress {
    const server = this.runtime(ref).metadataServer;
    if (!server) throw new Error(`instance ${ref.name} has no metadata server`);
    return { host: server.host, port: server.port, url: server.url };
  }

  /** Replaces the error-rate rules. */
  setErrorRates(rules: ErrorRateRule[]): void {
    this.faults.setRules(rules);
  }

  /** Stops every guest and the servers; removes the data directory when the emulator created it. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.all([...this.state.instances.values()].map((i) => i.shutdownGuest()));
    await this.server.close();
    if (this.ownsDataDir) await rm(this.dataDir, { recursive: true, force: true });
  }

  private runtime(ref: InstanceRef): InstanceRuntime {
    const runtime = this.state.instances.get(
      `projects/${ref.project}/zones/${ref.zone}/instances/${ref.name}`,
    );
    if (!runtime) throw new Error(`no instance ${ref.project}/${ref.zone}/${ref.name}`);
    return runtime;
  }
}

/** The guest of a new instance: the selector's choice, else scripted for builds, idle otherwise. */
function chooseGuest(record: InstanceRecord, options: EmulatorOptions): GuestBackend {
  const metadata = record.metadata.entries();
  const chosen = options.guestFor?.(guestInstanceInfo(record), metadata);
  if (chosen) return chosen;
  return buildIdOf((key) => metadata[key], options.defaultGuest?.buildIdKey) !== undefined
    ? scriptedGuest(options.defaultGuest)
    : idleGuest();
}

/** Starts an emulator on loopback; see {@link EmulatorOptions}. */
export function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  return Emulator.start(options);
}

/** Arms the scheduled faults that match a new instance; timers go into `timers` so close() clears them. */
function armScheduledFaults(
  runtime: InstanceRuntime,
  faults: ScheduledInstanceFault[],
  timeScale: number,
  timers: Set<NodeJS.Timeout>,
): void {
  for (const fault of faults) {
    if (!globMatches(fault.instance, runtime.record.name)) continue;
    let fired = false;
    const fire = (): void => {
      if (fired || runtime.record.status !== "RUNNING") return;
      fired = true;
      if (fault.action === "crash") runtime.crash();
      else void runtime.preempt();
    };
    const delayMs = fault.afterRunningMs;
    if (delayMs !== undefined) {
      const off = runtime.onStatus((status) => {
        if (status !== "RUNNING") return;
        off();
        const timer = setTimeout(() => {
          timers.delete(timer);
          fire();
        }, delayMs * timeScale);
        timers.add(timer);
      });
    }
    if (fault.whenSerialContains !== undefined) {
      const text = fault.whenSerialContains;
      const port = (fault.onSerialPort ?? 3) as SerialPortNumber;
      const off = runtime.serialPort(port).onLine((line) => {
        if (!line.text.includes(text)) return;
        off();
        // Fire after the guest's current step, not inside its write call.
        setImmediate(fire);
      });
    }
  }
}
