/**
 * The life of one instance: status transitions, the guest's boots, hot-attached disks, serial
 * ports, the metadata server, and the ways an instance ends (stop, guest power-off, crash,
 * preemption, delete).
 */
import { EventEmitter } from "node:events";
import type {
  BootEndReason,
  GuestBackend,
  GuestContext,
  GuestDisk,
  GuestInstanceInfo,
  SerialPortNumber,
} from "../guests/guest";
import { sleep, type Latency } from "../latency";
import type {
  MetadataNode,
  MetadataServerHandle,
  MetadataSource,
} from "../metadata/metadataServer";
import type { DiskFiles } from "./diskFiles";
import { projectNumber, rfc3339 } from "./ids";
import { lookUpMachineType } from "./machineTypeCatalog";
import type { OperationStore } from "./operations";
import type { AttachedDisk, DiskRecord, InstanceRecord, InstanceStatus } from "./resources";
import { SerialPortBuffer } from "./serialPort";
import type { ComputeState } from "./state";
import { globMatches } from "../glob";
import { lastSegment } from "./urls";

/** What a runtime needs from the rest of the emulator. */
export interface InstanceRuntimeDeps {
  /** Delays. */
  latency: Latency;
  /** Operations (for `compute.instances.preempted` / `hostError`). */
  operations: OperationStore;
  /** All resources (for auto-deleting disks and removing the instance). */
  state: ComputeState;
  /** Backing files. */
  diskFiles: DiskFiles;
  /** How long (unscaled ms) a guest may take to shut down when its boot ends. */
  guestShutdownGraceMs: number;
  /** Subnetworks (globs on the name) with Private Google Access. */
  privateGoogleAccessSubnetworks: readonly string[];
}

/** Statuses in which the instance has (or is about to have) a running guest. */
const ACTIVE: ReadonlySet<InstanceStatus> = new Set(["PROVISIONING", "STAGING", "RUNNING"]);

/** One instance and its guest. */
export class InstanceRuntime implements MetadataSource {
  /** Serial ports 1-4 (index 0 is port 1). */
  readonly serialPorts = [1, 2, 3, 4].map(() => new SerialPortBuffer());
  /** Guest attributes written through the metadata server, by `<namespace>/<key>`. */
  readonly guestAttributes = new Map<string, string>();
  /** The metadata server, once started. */
  metadataServer?: MetadataServerHandle;
  /** True once the instance was preempted (served as `instance/preempted`). */
  preempted = false;
  /** True while a delete is in progress. */
  deleting = false;
  /** Every status the instance has had, with the time it was entered (epoch ms). */
  readonly statusHistory: Array<{ status: InstanceStatus; at: number }> = [];

  private readonly events = new EventEmitter();
  /** What the current boot's guest does when an attached disk grows (see `onDiskResized`). */
  private readonly resizeListeners = new Set<(disk: GuestDisk) => void | Promise<void>>();
  private bootNumber = 0;
  private boot?: { controller: AbortController; done: Promise<void>; number: number };
  /** Bumped by every transition that ends the current run, so stale async flows stop. */
  private generation = 0;

  constructor(
    /** The instance's data. */
    readonly record: InstanceRecord,
    private readonly guest: GuestBackend,
    private readonly deps: InstanceRuntimeDeps,
  ) {
    this.events.setMaxListeners(0);
    this.statusHistory.push({ status: record.status, at: Date.now() });
    // Metadata changes (setMetadata) reach the metadata server and the guest through one event.
    record.metadata.onChange(() => this.events.emit("metadata"));
  }

  /** Serial port `n` (1-4). */
  serialPort(n: SerialPortNumber): SerialPortBuffer {
    return this.serialPorts[n - 1];
  }

  /** Calls `listener(status)` after every status change; returns an unsubscribe function. */
  onStatus(listener: (status: InstanceStatus) => void): () => void {
    this.events.on("status", listener);
    return () => this.events.off("status", listener);
  }

  /** Resolves once the instance has one of `statuses` (at once if it already has). */
  untilStatus(...statuses: InstanceStatus[]): Promise<void> {
    if (statuses.includes(this.record.status)) return Promise.resolve();
    return new Promise((resolve) => {
      const off = this.onStatus((s) => {
        if (statuses.includes(s)) {
          off();
          resolve();
        }
      });
    });
  }

  /** PROVISIONING → STAGING → RUNNING, then the guest's first boot. Part of the insert operation. */
  async bringUp(): Promise<void> {
    const generation = this.generation;
    await this.deps.latency.wait("instanceProvisioning");
    if (generation !== this.generation) return;
    this.setStatus("STAGING");
    await this.deps.latency.wait("instanceStaging");
    if (generation !== this.generation) return;
    this.record.lastStartTimestamp = rfc3339();
    this.setStatus("RUNNING");
    this.startBoot();
  }

  /** `instances.stop`: STOPPING, the guest shuts down, TERMINATED. */
  async stop(): Promise<void> {
    if (this.record.status === "TERMINATED" || this.deleting) return;
    if (this.record.status === "STOPPING") return this.untilStatus("TERMINATED");
    const generation = ++this.generation;
    this.setStatus("STOPPING");
    await this.endBoot("stop");
    await this.deps.latency.wait("instanceStop");
    if (generation === this.generation) this.terminate();
  }

  /** The guest asked to power off (from boot `bootNumber`). */
  powerOffFromGuest(bootNumber: number): void {
    if (this.boot?.number !== bootNumber || this.record.status !== "RUNNING") return;
    const generation = ++this.generation;
    this.setStatus("STOPPING");
    void (async () => {
      await this.endBoot("powerOff");
      await this.deps.latency.wait("guestPowerOff");
      if (generation === this.generation) this.terminate();
    })();
  }

  /** The guest asked to reboot (from boot `bootNumber`): a new boot starts, status stays RUNNING. */
  rebootFromGuest(bootNumber: number): void {
    if (this.boot?.number !== bootNumber || this.record.status !== "RUNNING") return;
    const generation = this.generation;
    void (async () => {
      await this.endBoot("reboot");
      if (generation === this.generation && this.record.status === "RUNNING") this.startBoot();
    })();
  }

  /**
   * A host failure: TERMINATED at once, no STOPPING, the guest is cut off. Records a
   * `compute.instances.hostError` operation like GCE. Throws when the instance is not running.
   */
  crash(): void {
    if (!ACTIVE.has(this.record.status) && this.record.status !== "STOPPING") {
      throw new Error(
        `instance ${this.record.name} is ${this.record.status}; only a running instance can crash`,
      );
    }
    ++this.generation;
    this.deps.operations.recordDone(this.scope, "compute.instances.hostError", this.record);
    this.boot?.controller.abort("crash" satisfies BootEndReason);
    this.record.statusMessage = "Instance terminated due to a host error.";
    this.terminate();
  }

  /**
   * Spot preemption: a DONE `compute.instances.preempted` operation, STOPPING while the guest gets
   * its grace period, then TERMINATED. Throws when the instance is not RUNNING.
   */
  preempt(): Promise<void> {
    if (this.record.status !== "RUNNING") {
      throw new Error(
        `instance ${this.record.name} is ${this.record.status}; only a RUNNING instance can be preempted`,
      );
    }
    const generation = ++this.generation;
    this.preempted = true;
    this.events.emit("metadata");
    this.deps.operations.recordDone(this.scope, "compute.instances.preempted", this.record);
    this.record.statusMessage = "Instance was preempted.";
    this.setStatus("STOPPING");
    return (async () => {
      await Promise.all([this.endBoot("preempt"), this.deps.latency.wait("preemption")]);
      if (generation === this.generation) this.terminate();
    })();
  }

  /** `instances.delete`: shuts the guest down, removes the instance and its autoDelete disks. */
  async delete(): Promise<void> {
    this.deleting = true;
    ++this.generation;
    if (ACTIVE.has(this.record.status) || this.record.status === "STOPPING") {
      this.setStatus("STOPPING");
      await this.endBoot("delete");
    }
    await this.deps.latency.wait("instanceDelete");
    await this.dispose(true);
  }

  /**
   * Removes the instance from the emulator: detaches its disks (deleting those with autoDelete when
   * `deleteDisks`), forgets it and closes its metadata server.
   */
  async dispose(deleteDisks: boolean): Promise<void> {
    const { state, diskFiles } = this.deps;
    for (const attached of this.record.disks) {
      const disk = attached.disk;
      disk.users = disk.users.filter((u) => u !== this.record.selfLink);
      if (deleteDisks && attached.autoDelete && state.disks.get(disk.path) === disk) {
        state.disks.delete(disk.path);
        await diskFiles.remove(disk.filePath);
      }
    }
    state.instances.delete(this.record.path);
    this.setStatus("TERMINATED");
    await this.metadataServer?.close();
  }

  /** Ends the guest without changing the status (emulator shutdown). */
  async shutdownGuest(): Promise<void> {
    ++this.generation;
    await this.endBoot("emulatorClosed");
    await this.metadataServer?.close();
  }

  /** Attaches a disk (hot when RUNNING: the guest is told). */
  attach(attached: AttachedDisk): void {
    this.record.disks.push(attached);
    this.record.disks.sort((a, b) => a.index - b.index);
    attached.disk.users.push(this.record.selfLink);
    attached.disk.lastAttachTimestamp = rfc3339();
    this.events.emit("diskAttached", this.guestDisk(attached));
  }

  /** Detaches the disk with `deviceName`; returns false when there is none. */
  detach(deviceName: string): boolean {
    const index = this.record.disks.findIndex((d) => d.deviceName === deviceName);
    if (index === -1) return false;
    const [attached] = this.record.disks.splice(index, 1);
    attached.disk.users = attached.disk.users.filter((u) => u !== this.record.selfLink);
    attached.disk.lastDetachTimestamp = rfc3339();
    this.events.emit("diskDetached", this.guestDisk(attached));
    return true;
  }

  /**
   * An attached disk has grown (`disks.resize`, its record and file already at the new size): the
   * guest's listeners are told, and awaited so that the operation ends once the guest can see it.
   */
  async diskResized(disk: DiskRecord): Promise<void> {
    const attached = this.record.disks.find((d) => d.disk === disk);
    if (!attached) return;
    const seen = this.guestDisk(attached);
    await Promise.all(
      [...this.resizeListeners].map(async (listener) => {
        try {
          await listener(seen);
        } catch (error) {
          this.serialPort(1).write(
            `[emulator] telling the guest that disk ${seen.deviceName} grew failed: ${String(error)}\n`,
          );
        }
      }),
    );
  }

  /** The next free attachment index. */
  nextDiskIndex(): number {
    return this.record.disks.reduce((max, d) => Math.max(max, d.index + 1), 0);
  }

  /** The disks as the guest sees them. */
  guestDisks(): GuestDisk[] {
    return this.record.disks.map((d) => this.guestDisk(d));
  }

  /** The instance as guests see it. */
  info(): GuestInstanceInfo {
    return guestInstanceInfo(this.record);
  }

  // MetadataSource

  /** The metadata tree served to the guest. */
  tree(): { [key: string]: MetadataNode } {
    const r = this.record;
    const number = projectNumber(r.project);
    const accounts: { [key: string]: MetadataNode } = {};
    for (const account of r.serviceAccounts) {
      const entry = { aliases: ["default"], email: account.email, scopes: account.scopes };
      accounts.default = entry;
      accounts[account.email] = { ...entry, aliases: [] };
    }
    const guestAttributes: { [key: string]: { [key: string]: MetadataNode } } = {};
    for (const [path, value] of this.guestAttributes) {
      const [ns, key] = path.split("/");
      (guestAttributes[ns] ??= {})[key] = value;
    }
    const scheduling = r.scheduling;
    return {
      instance: {
        attributes: r.metadata.entries(),
        "cpu-platform": "Intel Broadwell",
        description: r.description ?? "",
        disks: r.disks.map((d) => ({
          "device-name": d.deviceName,
          index: d.index,
          interface: d.interface,
          mode: d.mode,
          type: "PERSISTENT",
        })),
        "guest-attributes": guestAttributes,
        hostname: `${r.name}.${r.zone}.c.${r.project}.internal`,
        // A string: a uint64 id does not fit a JS number (GCE renders it as a bare number in JSON).
        id: r.id,
        image: r.disks[0]?.disk.sourceImage ?? "",
        "machine-type": `projects/${number}/machineTypes/${lastSegment(r.machineType)}`,
        "maintenance-event": "NONE",
        name: r.name,
        "network-interfaces": r.networkInterfaces.map((nic, i) => ({
          "access-configs": (nic.accessConfigs ?? []).map((ac) => ({
            "external-ip": ac.natIP,
            type: ac.type,
          })),
          gateway: "10.128.0.1",
          ip: nic.networkIP,
          mac: `42:01:0a:80:00:${(i + 2).toString(16).padStart(2, "0")}`,
          mtu: 1460,
          network: `projects/${number}/networks/${lastSegment(nic.network)}`,
          subnetmask: "255.255.240.0",
        })),
        preempted: this.preempted ? "TRUE" : "FALSE",
        scheduling: {
          "automatic-restart": scheduling.automaticRestart ? "TRUE" : "FALSE",
          "on-host-maintenance": scheduling.onHostMaintenance,
          preemptible: scheduling.preemptible ? "TRUE" : "FALSE",
          "provisioning-model": scheduling.provisioningModel,
        },
        "service-accounts": accounts,
        tags: r.tags.items ?? [],
        zone: `projects/${number}/zones/${r.zone}`,
      },
      project: {
        attributes: {},
        "numeric-project-id": Number(number),
        "project-id": r.project,
      },
    };
  }

  /** Calls `listener` after metadata changes; returns an unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.events.on("metadata", listener);
    return () => this.events.off("metadata", listener);
  }

  /** Stores a guest attribute. */
  setGuestAttribute(namespace: string, key: string, value: string): void {
    this.guestAttributes.set(`${namespace}/${key}`, value);
    this.events.emit("metadata");
  }

  // Internals

  private get scope(): { project: string; zone: string } {
    return { project: this.record.project, zone: this.record.zone };
  }

  private setStatus(status: InstanceStatus): void {
    if (this.record.status === status) return;
    this.record.status = status;
    this.statusHistory.push({ status, at: Date.now() });
    if (status === "RUNNING") this.record.statusMessage = undefined;
    this.events.emit("status", status);
  }

  private terminate(): void {
    this.record.lastStopTimestamp = rfc3339();
    this.setStatus("TERMINATED");
  }

  private startBoot(): void {
    const number = ++this.bootNumber;
    const controller = new AbortController();
    const ctx = this.context(number, controller.signal);
    const done = (async () => {
      try {
        await this.guest.boot(ctx);
      } catch (err) {
        this.serialPort(1).write(
          `Kernel panic - not syncing: guest backend failed: ${String(err)}\n`,
        );
      }
    })();
    this.boot = { controller, done, number };
  }

  /** Aborts the current boot and waits (bounded) for the guest to finish. */
  private async endBoot(reason: BootEndReason): Promise<void> {
    const boot = this.boot;
    if (!boot) return;
    boot.controller.abort(reason);
    // Cancel the grace timer once the guest is down, so no timer outlives the boot.
    const grace = new AbortController();
    await Promise.race([boot.done, sleep(this.deps.guestShutdownGraceMs, grace.signal)]);
    grace.abort();
  }

  private guestDisk(d: AttachedDisk): GuestDisk {
    return {
      deviceName: d.deviceName,
      diskName: d.disk.name,
      boot: d.boot,
      mode: d.mode,
      index: d.index,
      sizeGb: d.disk.sizeGb,
      labels: { ...d.disk.labels },
      ...(d.disk.filePath ? { filePath: d.disk.filePath } : {}),
    };
  }

  private context(bootNumber: number, signal: AbortSignal): GuestContext {
    const metadata = this.record.metadata;
    const listen = (event: string, listener: (disk: GuestDisk) => void): (() => void) => {
      if (signal.aborted) return () => undefined;
      this.events.on(event, listener);
      const off = (): void => {
        this.events.off(event, listener);
        signal.removeEventListener("abort", off);
      };
      signal.addEventListener("abort", off, { once: true });
      return off;
    };
    const server = this.metadataServer;
    return {
      instance: this.info(),
      bootNumber,
      signal,
      writeSerial: (port, text) => {
        if (!signal.aborted) this.serialPort(port).write(text);
      },
      metadata: {
        get: (key) => metadata.get(key),
        all: () => metadata.entries(),
        onChange: (listener) => this.onChange(listener),
        waitFor: (key, options = {}) =>
          waitUntil(
            () => {
              const value = metadata.get(key);
              return value !== undefined && (options.accept?.(value) ?? true) ? value : undefined;
            },
            (wake) => this.onChange(wake),
            options.timeoutMs,
            anySignal(signal, options.signal),
          ),
      },
      metadataServer: {
        host: server?.host ?? "127.0.0.1",
        port: server?.port ?? 0,
        url: server?.url ?? "",
      },
      disks: () => this.guestDisks(),
      onDiskAttached: (listener) => listen("diskAttached", listener),
      onDiskDetached: (listener) => listen("diskDetached", listener),
      onDiskResized: (listener) => {
        if (signal.aborted) return () => undefined;
        this.resizeListeners.add(listener);
        const off = (): void => {
          this.resizeListeners.delete(listener);
          signal.removeEventListener("abort", off);
        };
        signal.addEventListener("abort", off, { once: true });
        return off;
      },
      waitForDisk: (deviceName, options = {}) =>
        waitUntil(
          () => this.guestDisks().find((d) => d.deviceName === deviceName),
          (wake) => listen("diskAttached", wake),
          options.timeoutMs,
          signal,
        ),
      powerOff: () => this.powerOffFromGuest(bootNumber),
      reboot: () => this.rebootFromGuest(bootNumber),
      modelDelayMs: (kind, sizeGiB) => this.deps.latency.ms(kind, sizeGiB),
      sleep: (ms) => sleep(ms, signal),
      reachesGoogleApis: this.reachesGoogleApis(),
    };
  }

  /**
   * GCE's rule: Google's APIs are reachable from an interface with an external IP, or from one in a
   * subnetwork with Private Google Access; otherwise there is no route.
   */
  private reachesGoogleApis(): boolean {
    return this.record.networkInterfaces.some(
      (nic) =>
        (nic.accessConfigs ?? []).length > 0 ||
        this.deps.privateGoogleAccessSubnetworks.some((pattern) =>
          globMatches(pattern, nic.subnetwork ? lastSegment(nic.subnetwork) : "default"),
        ),
    );
  }
}

/** The instance as guests see it. */
export function guestInstanceInfo(r: InstanceRecord): GuestInstanceInfo {
  const machineType = lastSegment(r.machineType);
  const found = lookUpMachineType(machineType, r.zone);
  // instances.insert refused any type the catalog does not know, so this is a bug if it throws.
  if ("error" in found) throw new Error(`instance ${r.name}: ${found.error}`);
  return {
    project: r.project,
    zone: r.zone,
    name: r.name,
    id: r.id,
    machineType,
    guestCpus: found.shape.guestCpus,
    memoryMb: found.shape.memoryMb,
    labels: { ...r.labels },
    accelerators: r.guestAccelerators.map((a) => ({
      type: lastSegment(a.acceleratorType),
      count: a.acceleratorCount,
    })),
  };
}

/** Resolves with `probe()` once it is defined, re-probing on `subscribe` wake-ups; undefined on timeout/abort. */
function waitUntil<T>(
  probe: () => T | undefined,
  subscribe: (wake: () => void) => () => void,
  timeoutMs: number | undefined,
  signal: AbortSignal | undefined,
): Promise<T | undefined> {
  const now = probe();
  if (now !== undefined || signal?.aborted) return Promise.resolve(now);
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (value: T | undefined): void => {
      unsubscribe();
      if (timer) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(value);
    };
    const onAbort = (): void => finish(undefined);
    const unsubscribe = subscribe(() => {
      const value = probe();
      if (value !== undefined) finish(value);
    });
    if (timeoutMs !== undefined) timer = setTimeout(() => finish(undefined), timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function anySignal(a: AbortSignal, b: AbortSignal | undefined): AbortSignal {
  return b ? AbortSignal.any([a, b]) : a;
}
