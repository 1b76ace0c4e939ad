/** The Compute Engine resources the emulator keeps, with their API representations. */
import { newFingerprint, newResourceId, rfc3339 } from "./ids";
import type { InstanceMetadata } from "./instanceMetadata";
import { selfLink } from "./urls";

/** `deprecated` of an image. */
export interface DeprecationStatus {
  /** ACTIVE, DEPRECATED, OBSOLETE or DELETED. */
  state: "ACTIVE" | "DEPRECATED" | "OBSOLETE" | "DELETED";
  /** URL of the suggested replacement. */
  replacement?: string;
  /** RFC 3339, informational. */
  deprecated?: string;
  /** RFC 3339, informational. */
  obsolete?: string;
  /** RFC 3339, informational. */
  deleted?: string;
}

/** A guest OS feature entry (`{type: "UEFI_COMPATIBLE"}`). */
export interface GuestOsFeature {
  /** Feature name. */
  type: string;
}

/** Fields shared by images, disks and instances. */
abstract class LabelledResource {
  /** uint64 id as a decimal string. */
  readonly id = newResourceId();
  /** RFC 3339 creation time. */
  creationTimestamp = rfc3339();
  /** Labels. */
  labels: Record<string, string> = {};
  /** Guards setLabels. */
  labelFingerprint = newFingerprint();
  /** Description. */
  description?: string;

  /** Resource name. */
  abstract readonly name: string;

  /** `projects/...` path. */
  abstract get path(): string;

  /** Full URL identifying the resource. */
  get selfLink(): string {
    return selfLink(this.path);
  }

  /** The fields the API puts first in every resource: kind, id, creation time, name, description. */
  protected identityJson(kind: string): Record<string, unknown> {
    return {
      kind,
      id: this.id,
      creationTimestamp: this.creationTimestamp,
      name: this.name,
      ...(this.description !== undefined ? { description: this.description } : {}),
    };
  }

  /** The resource's URL and its labels with their fingerprint, as the API shows them. */
  protected linkAndLabelsJson(): Record<string, unknown> {
    return {
      selfLink: this.selfLink,
      labels: this.labels,
      labelFingerprint: this.labelFingerprint,
    };
  }

  /** Replaces the labels and renews the fingerprint. */
  setLabels(labels: Record<string, string>): void {
    this.labels = labels;
    this.labelFingerprint = newFingerprint();
  }
}

/** A global image. */
export class ImageRecord extends LabelledResource {
  /** PENDING while created, READY, FAILED, DELETING. */
  status: "PENDING" | "READY" | "FAILED" | "DELETING" = "PENDING";
  /** Image family. */
  family?: string;
  /** License URLs. */
  licenses: string[] = [];
  /** Storage locations, e.g. `["us"]`. */
  storageLocations: string[] = ["us"];
  /** Guest OS features. */
  guestOsFeatures: GuestOsFeature[] = [];
  /** Size of disks created from the image, GB. */
  diskSizeGb = 10;
  /** Size of the stored image, bytes. */
  archiveSizeBytes?: number;
  /** `{source, containerType}` for images imported from Cloud Storage. */
  rawDisk?: { source: string; containerType: "TAR" };
  /** URL of the source disk. */
  sourceDisk?: string;
  /** Id of the source disk. */
  sourceDiskId?: string;
  /** Deprecation status; absent when never deprecated. */
  deprecated?: DeprecationStatus;
  /** CPU architecture, e.g. `X86_64`. */
  architecture?: string;
  /** Backing raw disk file (only with the `diskFiles` option, or given by a seed). */
  filePath?: string;
  /** True when `filePath` belongs to whoever seeded the image: the emulator never deletes it. */
  externalFile = false;
  /** True for images seeded at start (COS images, `seedImages`), not created through the API. */
  seeded = false;

  constructor(
    readonly project: string,
    readonly name: string,
  ) {
    super();
  }

  get path(): string {
    return `projects/${this.project}/global/images/${this.name}`;
  }

  /** True when new disks may not use the image (OBSOLETE or DELETED). */
  get unusable(): boolean {
    return this.deprecated?.state === "OBSOLETE" || this.deprecated?.state === "DELETED";
  }

  /** The API representation. */
  toJSON(): Record<string, unknown> {
    return {
      ...this.identityJson("compute#image"),
      sourceType: "RAW",
      ...(this.rawDisk ? { rawDisk: this.rawDisk } : {}),
      ...(this.deprecated ? { deprecated: this.deprecated } : {}),
      status: this.status,
      ...(this.archiveSizeBytes !== undefined
        ? { archiveSizeBytes: String(this.archiveSizeBytes) }
        : {}),
      diskSizeGb: String(this.diskSizeGb),
      ...(this.sourceDisk ? { sourceDisk: this.sourceDisk, sourceDiskId: this.sourceDiskId } : {}),
      ...(this.licenses.length ? { licenses: this.licenses } : {}),
      ...(this.family ? { family: this.family } : {}),
      ...this.linkAndLabelsJson(),
      ...(this.guestOsFeatures.length ? { guestOsFeatures: this.guestOsFeatures } : {}),
      storageLocations: this.storageLocations,
      ...(this.architecture ? { architecture: this.architecture } : {}),
    };
  }
}

/** A zonal persistent disk. */
export class DiskRecord extends LabelledResource {
  /** CREATING, READY, FAILED, DELETING. */
  status: "CREATING" | "READY" | "FAILED" | "DELETING" = "CREATING";
  /** Size, GB. */
  sizeGb: number;
  /** Disk type URL. */
  type: string;
  /** Source image URL. */
  sourceImage?: string;
  /** Source image id. */
  sourceImageId?: string;
  /** Licenses inherited from the source image. */
  licenses: string[] = [];
  /** Guest OS features inherited from the source image. */
  guestOsFeatures: GuestOsFeature[] = [];
  /** selfLinks of the instances the disk is attached to. */
  users: string[] = [];
  /** Last attach time. */
  lastAttachTimestamp?: string;
  /** Last detach time. */
  lastDetachTimestamp?: string;
  /** Backing raw disk file (only with the `diskFiles` option). */
  filePath?: string;

  constructor(
    readonly project: string,
    readonly zone: string,
    readonly name: string,
    sizeGb: number,
    type: string,
  ) {
    super();
    this.sizeGb = sizeGb;
    this.type = type;
  }

  get path(): string {
    return `projects/${this.project}/zones/${this.zone}/disks/${this.name}`;
  }

  /** The API representation. */
  toJSON(): Record<string, unknown> {
    return {
      ...this.identityJson("compute#disk"),
      sizeGb: String(this.sizeGb),
      zone: selfLink(`projects/${this.project}/zones/${this.zone}`),
      status: this.status,
      ...(this.sourceImage
        ? { sourceImage: this.sourceImage, sourceImageId: this.sourceImageId }
        : {}),
      type: this.type,
      ...(this.licenses.length ? { licenses: this.licenses } : {}),
      ...(this.guestOsFeatures.length ? { guestOsFeatures: this.guestOsFeatures } : {}),
      ...(this.users.length ? { users: this.users } : {}),
      ...(this.lastAttachTimestamp ? { lastAttachTimestamp: this.lastAttachTimestamp } : {}),
      ...(this.lastDetachTimestamp ? { lastDetachTimestamp: this.lastDetachTimestamp } : {}),
      ...this.linkAndLabelsJson(),
      physicalBlockSizeBytes: "4096",
    };
  }
}

/** A disk attached to an instance. */
export interface AttachedDisk {
  /** The disk. */
  disk: DiskRecord;
  /** Device name (default: the disk name). */
  deviceName: string;
  /** Attachment index; 0 is the boot disk. */
  index: number;
  /** True for the boot disk. */
  boot: boolean;
  /** Deleted together with the instance. */
  autoDelete: boolean;
  /** READ_WRITE or READ_ONLY. */
  mode: "READ_WRITE" | "READ_ONLY";
  /** SCSI or NVME. */
  interface: string;
}

/** An external address of a network interface. */
export interface AccessConfig {
  /** `compute#accessConfig`. */
  kind: string;
  /** `ONE_TO_ONE_NAT`. */
  type: string;
  /** Name, default `External NAT`. */
  name: string;
  /** A documentation-range address (203.0.113.0/24): nothing is reachable there. */
  natIP: string;
  /** PREMIUM or STANDARD. */
  networkTier: string;
}

/** A network interface of an instance, normalized. */
export interface NetworkInterface {
  /** `compute#networkInterface`. */
  kind: string;
  /** `nic0`, `nic1`, ... */
  name: string;
  /** Network URL. */
  network: string;
  /** Subnetwork URL. */
  subnetwork?: string;
  /** Internal address (fake). */
  networkIP: string;
  /** External addresses. */
  accessConfigs?: AccessConfig[];
  /** Fingerprint. */
  fingerprint: string;
  /** `IPV4_ONLY`. */
  stackType: string;
}

/** An instance's scheduling, with GCE's defaults filled in. */
export interface Scheduling {
  /** MIGRATE or TERMINATE. */
  onHostMaintenance: string;
  /** Restart after a host failure. */
  automaticRestart: boolean;
  /** Legacy preemptible VM. */
  preemptible: boolean;
  /** STANDARD or SPOT. */
  provisioningModel: string;
  /** STOP or DELETE, when given. */
  instanceTerminationAction?: string;
  /** `{seconds}`, passed through when given. */
  maxRunDuration?: unknown;
}

/** Instance statuses the emulator uses. */
export type InstanceStatus = "PROVISIONING" | "STAGING" | "RUNNING" | "STOPPING" | "TERMINATED";

/** A zonal VM instance (its data; behaviour lives in `InstanceRuntime`). */
export class InstanceRecord extends LabelledResource {
  /** Current status. */
  status: InstanceStatus = "PROVISIONING";
  /** Why the instance is in its status, when GCE would say (e.g. preemption). */
  statusMessage?: string;
  /** Attached disks in index order. */
  disks: AttachedDisk[] = [];
  /** Fingerprint of the instance's whole configuration. */
  fingerprint = newFingerprint();
  /** Scheduling with defaults. */
  scheduling: Scheduling = {
    onHostMaintenance: "MIGRATE",
    automaticRestart: true,
    preemptible: false,
    provisioningModel: "STANDARD",
  };
  /** Accelerators as sent, with full type URLs. */
  guestAccelerators: Array<{ acceleratorType: string; acceleratorCount: number }> = [];
  /** Service accounts as sent. */
  serviceAccounts: Array<{ email: string; scopes: string[] }> = [];
  /** Network interfaces (normalized). */
  networkInterfaces: NetworkInterface[] = [];
  /** Network tags. */
  tags: { items?: string[]; fingerprint: string } = { fingerprint: newFingerprint() };
  /** RFC 3339 time of the last start. */
  lastStartTimestamp?: string;
  /** RFC 3339 time of the last stop. */
  lastStopTimestamp?: string;

  constructor(
    readonly project: string,
    readonly zone: string,
    readonly name: string,
    /** Full machine type URL. */
    readonly machineType: string,
    /** The instance metadata. */
    readonly metadata: InstanceMetadata,
  ) {
    super();
  }

  /** `projects/p/zones/z/instances/n`. */
  get path(): string {
    return `projects/${this.project}/zones/${this.zone}/instances/${this.name}`;
  }

  /** The API representation. */
  toJSON(): Record<string, unknown> {
    return {
      ...this.identityJson("compute#instance"),
      tags: this.tags,
      machineType: this.machineType,
      status: this.status,
      ...(this.statusMessage ? { statusMessage: this.statusMessage } : {}),
      zone: selfLink(`projects/${this.project}/zones/${this.zone}`),
      canIpForward: false,
      networkInterfaces: this.networkInterfaces,
      disks: this.disks.map((d) => ({
        kind: "compute#attachedDisk",
        type: "PERSISTENT",
        mode: d.mode,
        source: d.disk.selfLink,
        deviceName: d.deviceName,
        index: d.index,
        boot: d.boot,
        autoDelete: d.autoDelete,
        interface: d.interface,
        diskSizeGb: String(d.disk.sizeGb),
        ...(d.disk.licenses.length ? { licenses: d.disk.licenses } : {}),
        ...(d.disk.guestOsFeatures.length ? { guestOsFeatures: d.disk.guestOsFeatures } : {}),
      })),
      metadata: this.metadata.toJSON(),
      serviceAccounts: this.serviceAccounts,
      selfLink: this.selfLink,
      scheduling: this.scheduling,
      cpuPlatform: this.status === "RUNNING" ? "Intel Broadwell" : "Unknown CPU Platform",
      labels: this.labels,
      labelFingerprint: this.labelFingerprint,
      ...(this.guestAccelerators.length ? { guestAccelerators: this.guestAccelerators } : {}),
      startRestricted: false,
      deletionProtection: false,
      fingerprint: this.fingerprint,
      ...(this.lastStartTimestamp ? { lastStartTimestamp: this.lastStartTimestamp } : {}),
      ...(this.lastStopTimestamp ? { lastStopTimestamp: this.lastStopTimestamp } : {}),
    };
  }
}
