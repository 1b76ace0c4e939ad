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

/** Inserts an instance in the test zone and waits for the operation, which must succeed. */
export async function insertInstance(
  h: Harness,
  instanceResource: InstanceResource,
): Promise<OperationLike> {
  return waitOk(
    h,
    await h.clients.instances.insert({ project: PROJECT, zone: ZONE, instanceResource }),
  );
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
