/** What the Compute Engine route handlers share. */
import type { Latency } from "../latency";
import type { DiskFiles } from "./diskFiles";
import type { InstanceRuntime } from "./instanceRuntime";
import type { OperationStore } from "./operations";
import type { InstanceRecord } from "./resources";
import type { ComputeState } from "./state";

/** A stored Cloud Storage object's bytes, as images.insert reads them. */
export interface StoredObjectFile {
  /** Path of the file holding the object's bytes. */
  path: string;
  /** Object size in bytes. */
  size: number;
}

/** Dependencies of the compute handlers. */
export interface ComputeDeps {
  /** Resources. */
  state: ComputeState;
  /** Operations. */
  operations: OperationStore;
  /** Delays. */
  latency: Latency;
  /** Backing files (possibly disabled). */
  diskFiles: DiskFiles;
  /** Finds a Cloud Storage object's file (for `rawDisk.source`). */
  objectFile(bucket: string, name: string): StoredObjectFile | undefined;
  /** Builds the runtime of a new instance: picks its guest, starts its metadata server, arms faults. */
  createInstanceRuntime(record: InstanceRecord): Promise<InstanceRuntime>;
  /** Whether `getSerialPortOutput` answers for TERMINATED instances (GCE: it does not). */
  serialOutputAfterStop: boolean;
  /** Regional persistent-disk quota in GB that `disks.resize` checks; undefined for none. */
  diskQuotaGb?: number;
}
