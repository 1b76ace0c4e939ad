import { setTimeout as sleep } from "node:timers/promises";
import { ComputeApi } from "../components/google/computeApi";
import type { Progress } from "../components/pipeline/progress";
import type { GcpClients } from "../components/google/clients";
import { Deadline } from "../components/google/deadline";
import { parseBuildLine, SerialLineReader } from "../components/guest/serialLines";

/**
 * COS Customizer's Daisy workflow (`data/build_image.wf.json` of
 * https://github.com/GoogleCloudPlatform/cos-customizer) replayed step for step against the same
 * API, so both orchestrators meet the same latency model:
 *
 *   copy-gcs → create-cidata → setup (boot disk ∥ cidata disk) → run (VM with both disks)
 *   → wait-preload-finished (serial port 3 every 30 s) → send-logging-end-msg (DaisyEnd)
 *   → wait-vm-shutdown (every 2 s) → image → cleanup (instances, then images and disks; GCS objects).
 *
 * Daisy waits on operations with the same server-side `wait`. Intervals are scaled like the model.
 */
export interface SeedDagRun {
  clients: GcpClients;
  project: string;
  zone: string;
  bucket: string;
  /** Object name of the uploaded CIDATA archive (the preloader uploads it before Daisy starts). */
  archiveObject: string;
  sourceImage: string;
  outputImage: string;
  /** Multiplier of Daisy's polling intervals (the emulator's timeScale). */
  timeScale: number;
  progress: Progress;
}

/** Metadata key Daisy sets to acknowledge the build. */
export const DAISY_ACK_KEY = "DaisyEnd";
/** Build id the seed run's guest announces. */
export const SEED_BUILD_ID = "daisyseed1";

export async function runSeedDag(run: SeedDagRun): Promise<void> {
  const { clients, project, zone, bucket, timeScale } = run;
  const deadline = new Deadline(60 * 60_000);
  const api = new ComputeApi(clients, deadline, run.progress);
  const zonal = { project, zone };
  const id = "daisy";
  const names = {
    cidataImage: `cidata-${id}`,
    bootDisk: `boot-disk-${id}`,
    cidataDisk: `cidata-disk-${id}`,
    vm: `preload-vm-${id}`,
  };
  const copied = `${run.archiveObject}.copy.tar.gz`;

  // copy-gcs: the uploaded `cidata.tar.gz_` becomes `cidata.tar.gz` (a server-side copy; a re-upload here).
  const [bytes] = await clients.storage.bucket(bucket).file(run.archiveObject).download();
  await clients.storage.bucket(bucket).file(copied).save(bytes, { resumable: false });

  // create-cidata
  await api.mutate("create-cidata", { project }, (requestId) =>
    clients.images.insert({
      project,
      requestId,
      imageResource: {
        name: names.cidataImage,
        rawDisk: { source: `https://storage.googleapis.com/${bucket}/${copied}` },
      },
    }),
  );
  // setup
  await Promise.all([
    api.mutate("boot-disk", zonal, (requestId) =>
      clients.disks.insert({
        project,
        zone,
        requestId,
        diskResource: {
          name: names.bootDisk,
          sourceImage: run.sourceImage,
          sizeGb: "10",
          type: `zones/${zone}/diskTypes/pd-standard`,
        },
      }),
    ),
    api.mutate("cidata-disk", zonal, (requestId) =>
      clients.disks.insert({
        project,
        zone,
        requestId,
        diskResource: {
          name: names.cidataDisk,
          sourceImage: `projects/${project}/global/images/${names.cidataImage}`,
        },
      }),
    ),
  ]);
  // run
  await api.mutate("run", zonal, (requestId) =>
    clients.instances.insert({
      project,
      zone,
      requestId,
      instanceResource: {
        name: names.vm,
        machineType: `zones/${zone}/machineTypes/n1-standard-1`,
        disks: [
          {
            boot: true,
            source: `projects/${project}/zones/${zone}/disks/${names.bootDisk}`,
            deviceName: "boot",
          },
          {
            source: `projects/${project}/zones/${zone}/disks/${names.cidataDisk}`,
            deviceName: "cidata",
          },
        ],
        metadata: {
          items: [
            { key: "pci-build-id", value: SEED_BUILD_ID },
            { key: "block-project-ssh-keys", value: "TRUE" },
            { key: "cos-update-strategy", value: "update_disabled" },
          ],
        },
        networkInterfaces: [{ network: "global/networks/default" }],
        scheduling: { onHostMaintenance: "MIGRATE" },
      },
    }),
  );
  const vm = { project, zone, instance: names.vm };

  // wait-preload-finished: serial port 3 every 30 s
  const reader = new SerialLineReader();
  for (let done = false; !done;) {
    await sleep(30_000 * timeScale);
    const [out] = await clients.instances
      .getSerialPortOutput({ ...vm, port: 3, start: String(reader.nextOffset) })
      .catch(() => [
        { contents: "", start: String(reader.nextOffset), next: String(reader.nextOffset) },
      ]);
    for (const line of reader.push({
      contents: out.contents ?? "",
      start: Number(out.start ?? 0),
      next: Number(out.next ?? 0),
    }).lines) {
      const event = parseBuildLine(line);
      if (event.kind === "failed") throw new Error(`seed DAG: build failed: ${line}`);
      if (event.kind === "succeeded") done = true;
    }
  }
  // send-logging-end-msg
  const [instance] = await clients.instances.get(vm);
  await api.mutate("send-logging-end-msg", zonal, (requestId) =>
    clients.instances.setMetadata({
      ...vm,
      requestId,
      metadataResource: {
        fingerprint: instance.metadata?.fingerprint,
        // Daisy writes "ack"; COS Customizer's watcher only waits for the key. The scripted guest wants its
        // build id as the value, so the replay sends that.
        items: [...(instance.metadata?.items ?? []), { key: DAISY_ACK_KEY, value: SEED_BUILD_ID }],
      },
    }),
  );
  // wait-vm-shutdown: every 2 s
  for (;;) {
    const [current] = await clients.instances.get(vm);
    if (current.status === "TERMINATED" || current.status === "STOPPED") break;
    await sleep(2_000 * timeScale);
  }
  // image
  await api.mutate("image", { project }, (requestId) =>
    clients.images.insert({
      project,
      requestId,
      imageResource: {
        name: run.outputImage,
        sourceDisk: `projects/${project}/zones/${zone}/disks/${names.bootDisk}`,
      },
    }),
  );
  // cleanup: instances first, then images and disks; then the GCS objects.
  await api.mutate("delete preload-vm", zonal, (requestId) =>
    clients.instances.delete({ ...vm, requestId }),
  );
  await Promise.all([
    api.mutate("delete cidata image", { project }, (requestId) =>
      clients.images.delete({ project, image: names.cidataImage, requestId }),
    ),
    api.mutate("delete boot disk", zonal, (requestId) =>
      clients.disks.delete({ project, zone, disk: names.bootDisk, requestId }),
    ),
    api.mutate("delete cidata disk", zonal, (requestId) =>
      clients.disks.delete({ project, zone, disk: names.cidataDisk, requestId }),
    ),
  ]);
  await Promise.all(
    [run.archiveObject, copied].map((name) => clients.storage.bucket(bucket).file(name).delete()),
  );
  deadline.cancel();
}
