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
import { createGcpClients, type GcpClients } from "../../components/google/clients";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../emulator";

// Defence in depth: even if some code path reached for Application Default Credentials, the
// metadata-server probe would stay on loopback (port 9, discard) instead of leaving the machine.
process.env.GCE_METADATA_HOST = "127.0.0.1:9";
process.env.GCE_METADATA_IP = "127.0.0.1:9";
process.env.METADATA_SERVER_DETECTION = "none";
delete process.env.GOOGLE_APPLICATION_CREDENTIALS;

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
  const emulator = await startEmulator(options);
  const clients = createGcpClients({
    projectId: PROJECT,
    endpoints: { compute: emulator.endpoint, storage: emulator.endpoint },
    env: {},
  });
  const tmp = await mkdtemp(join(tmpdir(), "emulator-test-"));
  return {
    emulator,
    clients,
    tmp,
    close: async () => {
      await clients.close();
      await emulator.close();
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

/** Like {@link waitDone}, and asserts the operation succeeded. */
export async function waitOk(
  h: Harness,
  lro: LroLike | [LroLike, ...unknown[]],
): Promise<OperationLike> {
  const op = await waitDone(h, lro);
  expect(op.error?.errors ?? [], JSON.stringify(op.error)).to.deep.equal([]);
  return op;
}

/** The error a client call rejected with (fails the test when it resolved). */
export async function rejection(
  promise: Promise<unknown>,
): Promise<{ code?: number; httpStatusCode?: number; message: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { code?: number; httpStatusCode?: number; message: string };
  }
  throw new Error("expected the call to fail");
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

/** Polls `check` every few milliseconds until it returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
