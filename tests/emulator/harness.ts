/**
 * Test helpers: an emulator plus the project's real Google clients pointed at it, and fixtures
 * (raw-disk archives made with GNU tar, as Google's import guide does).
 */
import { execFile } from "node:child_process";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import type { protos } from "@google-cloud/compute";
import type { GcpClients } from "../../components/google/clients";
import type { Emulator, EmulatorOptions } from "../../emulator";
import { startEmulatorCloud } from "../support/emulatorCloud";
import "../support/noMetadataServer";

export { eventually, rejection } from "../support/async";

const run = promisify(execFile);

/** Project and zone used by the tests. */
export const PROJECT = "test-project";
/** Zone used by the tests. */
export const ZONE = "us-central1-a";
/** 1 GiB. */
export const GIB = 1024 ** 3;

/** An emulator with clients. */
export interface Harness {
  /** The emulator. */
  emulator: Emulator;
  /** Real clients built by components/google/clients.ts. */
  clients: GcpClients;
  /** A scratch directory removed by `close`. */
  tmp: string;
  /** Stops everything. */
  close(): Promise<void>;
}

/** Starts an emulator and clients. */
export async function startHarness(options: EmulatorOptions = {}): Promise<Harness> {
  const cloud = await startEmulatorCloud({ project: PROJECT, emulator: options, env: {} });
  const tmp = await mkdtemp(join(tmpdir(), "emulator-test-"));
  return {
    emulator: cloud.emulator,
    clients: cloud.clients,
    tmp,
    close: async () => {
      await cloud.close();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

/** The operation object inside what a compute mutation returns. */
interface LroLike {
  latestResponse: unknown;
}

/** A compute operation as the clients return it. */
export type OperationLike = protos.google.cloud.compute.v1.IOperation;

/** Waits (server-side `wait`, looped) until a zonal or global operation is DONE and returns it. */
export async function waitDone(
  h: Harness,
  lro: LroLike | [LroLike, ...unknown[]],
): Promise<OperationLike> {
  const first = (Array.isArray(lro) ? lro[0] : lro).latestResponse as OperationLike;
  let op = first;
  for (let i = 0; i < 100 && String(op.status) !== "DONE"; i++) {
    const name = first.name ?? "";
    if (first.zone) {
      const zone = first.zone.split("/").pop() ?? "";
      [op] = await h.clients.zoneOperations.wait({ project: PROJECT, zone, operation: name });
    } else {
      [op] = await h.clients.globalOperations.wait({ project: PROJECT, operation: name });
    }
  }
  expect(String(op.status)).to.equal("DONE");
  return op;
}

/** The COS image family the emulator seeds, as a source image. */
export const COS_FAMILY = "projects/cos-cloud/global/images/family/cos-stable";

/** An instance as `instances.insert` takes it. */
export type InstanceResource =
  protos.google.cloud.compute.v1.IInsertInstanceRequest["instanceResource"];

/** A disk as `disks.insert` takes it. */
export type DiskResource = protos.google.cloud.compute.v1.IDisk;

/** The project and zone every zonal request of the tests names. */
const IN_ZONE = { project: PROJECT, zone: ZONE };

/** An instance of the test zone, as the emulator's own inspection methods name it. */
export const instanceRef = (name: string) => ({ ...IN_ZONE, name });

/** A disk attached to an instance, as `instances.insert` and `attachDisk` take it. */
export type AttachedDisk = protos.google.cloud.compute.v1.IAttachedDisk;

/**
 * A boot disk created from the COS family: `initializeParams` add to the source image,
 * `attached` to the attachment (`autoDelete`, `deviceName`).
 */
export function cosBootDisk(
  initializeParams: protos.google.cloud.compute.v1.IAttachedDiskInitializeParams = {},
  attached: AttachedDisk = {},
): AttachedDisk {
  return {
    boot: true,
    ...attached,
    initializeParams: { sourceImage: COS_FAMILY, ...initializeParams },
  };
}

/** Sends `instances.insert` in the test zone; the answer, for tests that expect a refusal. */
export function requestInstance(h: Harness, instanceResource: InstanceResource) {
  return h.clients.instances.insert({ ...IN_ZONE, instanceResource });
}

/** Inserts an instance in the test zone and waits for the operation, which must succeed. */
export async function insertInstance(
  h: Harness,
  instanceResource: InstanceResource,
): Promise<OperationLike> {
  return waitOk(h, await requestInstance(h, instanceResource));
}

/** Sends `disks.insert` in the test zone; the answer, for tests that expect a refusal. */
export function requestDisk(h: Harness, diskResource: DiskResource) {
  return h.clients.disks.insert({ ...IN_ZONE, diskResource });
}

/** Inserts a disk in the test zone and waits for the operation, which must succeed. */
export async function insertDisk(h: Harness, diskResource: DiskResource): Promise<OperationLike> {
  return waitOk(h, await requestDisk(h, diskResource));
}

/** An image as `images.insert` takes it. */
export type ImageResource = protos.google.cloud.compute.v1.IImage;

/** Sends `images.insert` in the test project; the answer, for tests that expect a refusal. */
export function requestImage(
  h: Harness,
  imageResource: ImageResource,
  options: { forceCreate?: boolean } = {},
) {
  return h.clients.images.insert({ project: PROJECT, ...options, imageResource });
}

/** Inserts an image in the test project and waits for the operation, which must succeed. */
export async function insertImage(
  h: Harness,
  imageResource: ImageResource,
  options: { forceCreate?: boolean } = {},
): Promise<OperationLike> {
  return waitOk(h, await requestImage(h, imageResource, options));
}

/** Sets an image's deprecation status and waits for the operation, which must succeed. */
export async function deprecateImage(
  h: Harness,
  image: string,
  deprecationStatusResource: protos.google.cloud.compute.v1.IDeprecationStatus,
): Promise<OperationLike> {
  return waitOk(
    h,
    await h.clients.images.deprecate({ project: PROJECT, image, deprecationStatusResource }),
  );
}

/** The instance of the test zone named `instance`, as `instances.get` answers. */
export async function getInstance(h: Harness, instance: string) {
  const [vm] = await h.clients.instances.get({ ...IN_ZONE, instance });
  return vm;
}

/** The disk of the test zone named `disk`, as `disks.get` answers. */
export async function getDisk(h: Harness, disk: string) {
  const [found] = await h.clients.disks.get({ ...IN_ZONE, disk });
  return found;
}

/** Stops an instance of the test zone and waits for the operation, which must succeed. */
export async function stopInstance(h: Harness, instance: string): Promise<OperationLike> {
  return waitOk(h, await h.clients.instances.stop({ ...IN_ZONE, instance }));
}

/** Deletes an instance of the test zone and waits for the operation, which must succeed. */
export async function deleteInstance(h: Harness, instance: string): Promise<OperationLike> {
  return waitOk(h, await h.clients.instances.delete({ ...IN_ZONE, instance }));
}

/** Deletes a disk of the test zone and waits for the operation, which must succeed. */
export async function deleteDisk(h: Harness, disk: string): Promise<OperationLike> {
  return waitOk(h, await h.clients.disks.delete({ ...IN_ZONE, disk }));
}

/** Attaches a disk to an instance of the test zone and waits for the operation, which must succeed. */
export async function attachDisk(
  h: Harness,
  instance: string,
  attachedDiskResource: AttachedDisk,
): Promise<OperationLike> {
  return waitOk(
    h,
    await h.clients.instances.attachDisk({ ...IN_ZONE, instance, attachedDiskResource }),
  );
}

/** Detaches a disk from an instance of the test zone and waits for the operation, which must succeed. */
export async function detachDisk(
  h: Harness,
  instance: string,
  deviceName: string,
): Promise<OperationLike> {
  return waitOk(h, await h.clients.instances.detachDisk({ ...IN_ZONE, instance, deviceName }));
}

/** Metadata as `instances.setMetadata` takes it. */
export type MetadataResource = protos.google.cloud.compute.v1.IMetadata;

/** Sends `instances.setMetadata` in the test zone; the answer, for tests that expect a refusal. */
export function requestSetMetadata(
  h: Harness,
  instance: string,
  metadataResource: MetadataResource,
) {
  return h.clients.instances.setMetadata({ ...IN_ZONE, instance, metadataResource });
}

/** Sets an instance's metadata and waits for the operation, which must succeed. */
export async function setMetadata(
  h: Harness,
  instance: string,
  metadataResource: MetadataResource,
): Promise<OperationLike> {
  return waitOk(h, await requestSetMetadata(h, instance, metadataResource));
}

/** One read of an instance's serial port, from `start` when given. */
export async function serialOutput(h: Harness, instance: string, port: number, start?: number) {
  const [out] = await h.clients.instances.getSerialPortOutput({
    ...IN_ZONE,
    instance,
    port,
    ...(start !== undefined ? { start } : {}),
  });
  return out;
}

/** Like {@link waitDone}, and asserts the operation succeeded. */
export async function waitOk(
  h: Harness,
  lro: LroLike | [LroLike, ...unknown[]],
): Promise<OperationLike> {
  const op = await waitDone(h, lro);
  expect(op.error?.errors ?? [], JSON.stringify(op.error)).to.deep.equal([]);
  return op;
}

/** Options of {@link makeRawDiskArchive}. */
export interface ArchiveSpec {
  /** Size of the raw disk file. Default 1 GiB. */
  sizeBytes?: number;
  /** Member name. Default `disk.raw`. */
  memberName?: string;
  /** Also add a second file. */
  extraMember?: string;
  /** Bytes to write at `dataOffset`. */
  data?: Buffer;
  /** Where `data` goes. Default 0. */
  dataOffset?: number;
}

/**
 * Builds a GCE raw-disk archive with GNU tar exactly as Google's guide does
 * (`tar --format=oldgnu -Sczf`): a sparse `disk.raw` so a 1 GiB disk costs nothing.
 */
export async function makeRawDiskArchive(dir: string, spec: ArchiveSpec = {}): Promise<string> {
  const work = await mkdtemp(join(dir, "archive-"));
  const member = spec.memberName ?? "disk.raw";
  const handle = await open(join(work, member), "w");
  await handle.truncate(spec.sizeBytes ?? GIB);
  if (spec.data) await handle.write(spec.data, 0, spec.data.length, spec.dataOffset ?? 0);
  await handle.close();
  const members = [member];
  if (spec.extraMember) {
    await run("sh", ["-c", `echo extra > "${join(work, spec.extraMember)}"`]);
    members.push(spec.extraMember);
  }
  const archive = join(work, "image.tar.gz");
  await run("tar", ["--format=oldgnu", "-Sczf", archive, "-C", work, ...members]);
  return archive;
}
