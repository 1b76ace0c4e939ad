import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { pipeline } from "node:stream/promises";
import type { CidataPlan } from "../cidata";
import { apiMessage } from "../google/errors";
import { CIDATA_FETCH_STATUS } from "../guest/protocol";
import type { PackedTree } from "../guest/treeArchive";
import { formatBytes, zonalTemporary, type BuildRun } from "./buildRun";
import { attachCidataDisk, deleteCidataImage, prepareCidataDisk } from "./deliverCidata";
import type { BuildSpec } from "./spec";
import type { ObjectRef, ZonalRef } from "./temporaries";
import { deleteDisk, deleteObject } from "./teardown";

/**
 * The disk-free delivery of large and secret builds: the packed CIDATA tree goes to the scratch
 * bucket under a fresh unguessable name, readable by the project's identities only, and the build
 * VM fetches it itself with its service account's token while it boots; no image import, disk or
 * attach stands on the critical path. The object is deleted as soon as the VM reports having the
 * tree. A VM that cannot read it (no storage role or scope, no route to Cloud Storage) says so on
 * serial port 3, and the build falls back to the CIDATA disk by itself.
 */

/** Scopes under which the VM's token may read Cloud Storage. */
const STORAGE_READ_SCOPE =
  /\/auth\/(cloud-platform|cloud-platform\.read-only|devstorage\.(read_only|read_write|full_control))$/;

/** False when the VM's scopes cannot read Cloud Storage: fetching would fail for sure. */
export function scopesAllowFetch(spec: Pick<BuildSpec, "vm">): boolean {
  return spec.vm.scopes.some((scope) => STORAGE_READ_SCOPE.test(scope));
}

/**
 * Whether to prepare the CIDATA disk from the start, beside the fetch. `bench:build` measured both
 * ways (README, Benchmarks): the hedge costs about a dozen API calls and no time when the fetch
 * works, and saves the import's wait (40 to 50 s on the latency model) when it does not. Hedging
 * every build would take the disk-free build past its 110 calls, so it is started where a fallback
 * is plausible: a VM without an external IP (it needs Private Google Access, which the build cannot
 * see) or with a service account of the user's (whose storage roles it cannot see).
 */
export function hedgeWanted(run: BuildRun): boolean {
  const { vm } = run.spec;
  return run.options.cidataHedge ?? (!vm.externalIp || vm.serviceAccountEmail !== undefined);
}

/** Google's storage endpoint, for a client made without a custom one. */
const GOOGLE_STORAGE_ENDPOINT = "https://storage.googleapis.com";

/** One upload of the tree, and the metadata value that tells the VM where and what it is. */
export interface UploadedTree {
  object: ObjectRef;
  /** Value of `pci-cidata-fetch`: `<media URL> <bytes> <sha256>` (no credential in it). */
  metadataValue: string;
}

/**
 * Names the tree's object (128 random bits, so nobody finds it by guessing) and the metadata value
 * that points the VM at it; nothing is uploaded yet. The VM may be created at once: it waits for
 * the object to appear. The name never reaches progress output.
 */
export function treeObject(run: BuildRun, tree: PackedTree): UploadedTree {
  const object: ObjectRef = {
    bucket: run.spec.storage.bucket,
    name: `${run.spec.storage.prefix}/${run.buildId}/tree-${randomBytes(16).toString("hex")}.tar.gz`,
  };
  const base = (run.api.clients.storage.apiEndpoint || GOOGLE_STORAGE_ENDPOINT).replace(/\/+$/, "");
  const url = `${base}/storage/v1/b/${encodeURIComponent(object.bucket)}/o/${encodeURIComponent(object.name)}?alt=media`;
  return { object, metadataValue: `${url} ${tree.bytes} ${tree.sha256}` };
}

/**
 * Uploads the packed tree with the object ACL `projectPrivate` (the project's owners, editors and
 * viewers, which includes the VM's service account of the project) and no caching.
 */
export async function uploadTree(
  run: BuildRun,
  tree: PackedTree,
  upload: UploadedTree,
): Promise<void> {
  const { api } = run;
  const { object } = upload;
  run.temporaries.add("objects", object);
  await api.read("uploading the CIDATA tree", () =>
    pipeline(
      fs.createReadStream(tree.path),
      api.clients.storage
        .bucket(object.bucket)
        .file(object.name)
        .createWriteStream({
          resumable: false,
          predefinedAcl: "projectPrivate",
          metadata: {
            contentType: "application/gzip",
            cacheControl: "no-store",
            metadata: run.labels,
          },
        }),
    ),
  );
  run.progress.info(
    `uploaded the CIDATA tree (${formatBytes(tree.bytes)}) for the build VM to fetch`,
  );
}

/** What a `BuildStatus:` text says about the fetch, if anything. */
export function fetchEventOf(
  text: string,
): { kind: "fetched" } | { kind: "failed"; reason: string } | undefined {
  if (text.startsWith(CIDATA_FETCH_STATUS.fetched)) return { kind: "fetched" };
  if (!text.startsWith(CIDATA_FETCH_STATUS.failed)) return undefined;
  const reason = text
    .slice(CIDATA_FETCH_STATUS.failed.length)
    .replace(/; waiting for the CIDATA disk$/, "")
    .trim();
  return { kind: "failed", reason };
}

/** True when a step may reboot the VM: the tree is then fetched again at each boot. */
export function mayReboot(run: BuildRun): boolean {
  return run.spec.steps.some((step) => step.type === "runScript" && step.allowReboot);
}

/**
 * Follows one build VM's fetch through its `BuildStatus:` lines: deletes the object once the VM has
 * the tree (at the verdict instead, when a step may reboot), and on a reported failure delivers the
 * CIDATA disk (the hedge's, if one was started) and attaches it. Work it starts runs beside the
 * watch; {@link check} throws once any of it has failed, {@link settle} waits for it.
 */
export class TreeFetch {
  /** The fallback disk, once attached: it goes with the VM. */
  attachedDisk?: ZonalRef;
  private readonly work: Promise<void>[] = [];
  private failure?: { error: unknown };
  private fellBack = false;
  private fetched = false;

  constructor(
    private readonly run: BuildRun,
    private readonly plan: CidataPlan,
    private readonly upload: UploadedTree,
    private readonly vm: ZonalRef,
    private readonly attemptNumber: number,
    /** The CIDATA disk prepared in parallel as a hedge (first attempt only), if any. */
    private readonly hedge?: Promise<ZonalRef>,
  ) {}

  /** Reacts to a `BuildStatus:` text of the VM. */
  onStatus(text: string): void {
    const event = fetchEventOf(text);
    if (event?.kind === "fetched" && !this.fetched) {
      this.fetched = true;
      this.background(this.fetchedTree());
    } else if (event?.kind === "failed" && !this.fellBack) {
      this.fellBack = true;
      this.run.progress.warn(
        `the build VM could not read the CIDATA tree from Cloud Storage (${event.reason}); falling back to a CIDATA disk`,
      );
      this.background(this.fallBack());
    }
  }

  /** Throws the first failure of the work started (the fallback disk could not be delivered). */
  check(): void {
    if (this.failure) throw this.failure.error;
  }

  /** Waits for the work started so far. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.work);
  }

  private background(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => {
      this.failure ??= { error };
    });
    this.work.push(tracked);
    this.run.background.add(tracked);
  }

  /** The VM has the tree: its object goes now, and so does a hedge disk nobody needs. */
  private async fetchedTree(): Promise<void> {
    const { run } = this;
    if (!mayReboot(run)) {
      await deleteObject(run.api, this.upload.object).catch((error: unknown) =>
        run.progress.warn(`could not delete the fetched CIDATA tree yet: ${apiMessage(error)}`),
      );
      run.temporaries.forget("objects", this.upload.object);
    }
    if (this.hedge) {
      const disk = await this.hedge.catch(() => undefined);
      if (disk) {
        await deleteDisk(run.api, disk);
        run.temporaries.forget("disks", disk);
      }
      await deleteCidataImage(run);
    }
  }

  /** The VM cannot read the tree: the CIDATA disk it waits for instead. */
  private async fallBack(): Promise<void> {
    const { run } = this;
    const disk = this.hedge
      ? await this.hedge
      : await prepareCidataDisk(run, this.plan, zonalTemporary(run, "cidata", this.attemptNumber));
    await attachCidataDisk(run, this.vm, disk);
    this.attachedDisk = disk;
    // The object is of no use any more.
    await deleteObject(run.api, this.upload.object);
    run.temporaries.forget("objects", this.upload.object);
  }
}
