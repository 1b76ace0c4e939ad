import { expect } from "chai";
import type { GuestBackend } from "../../emulator";
import { PROJECT, rejection, startHarness, waitDone, ZONE, type Harness } from "./harness";
import { attachDisk, cosBootDisk, detachDisk, getDisk, getInstance, insertDisk } from "./harness";
import { insertInstance, instanceRef as ref, requestInstance, requestSetMetadata } from "./harness";
import { serialOutput, setMetadata, stopInstance } from "./harness";

const KIB = 1024;

/** Writes 1.5 MiB to serial port 2 in 1 KiB lines, then idles: exercises the 1 MiB window. */
const chattyGuest: GuestBackend = {
  async boot(ctx) {
    for (let i = 0; i < 1536; i++)
      ctx.writeSerial(2, `${String(i).padStart(6, "0")} ${"x".repeat(KIB - 8)}\n`);
    ctx.writeSerial(1, "first\nsecond\n");
    await ctx.sleep(3_600_000);
  },
};

describe("emulator: instances through the real Compute Engine client", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      guestFor: (instance) => (instance.name.startsWith("chatty") ? chattyGuest : undefined),
    });
  });
  after(() => h.close());

  async function createVm(name: string, extra: Record<string, unknown> = {}) {
    return insertInstance(h, {
      name,
      machineType: `zones/${ZONE}/machineTypes/e2-standard-2`,
      disks: [
        cosBootDisk(
          { diskName: `${name}-boot`, diskSizeGb: "20", labels: { t: "x" } },
          { autoDelete: true, deviceName: "boot" },
        ),
      ],
      ...extra,
    });
  }

  it("inserts an instance with an inline boot disk and reports every field the project sends", async () => {
    const op = await createVm("vm-fields", {
      metadata: {
        items: [
          { key: "user-data", value: "#cloud-config\n" },
          { key: "block-project-ssh-keys", value: "TRUE" },
        ],
      },
      labels: { build: "abc" },
      scheduling: {
        provisioningModel: "SPOT",
        onHostMaintenance: "TERMINATE",
        automaticRestart: false,
        instanceTerminationAction: "STOP",
      },
      guestAccelerators: [{ acceleratorType: "nvidia-tesla-t4", acceleratorCount: 1 }],
      serviceAccounts: [
        { email: "default", scopes: ["https://www.googleapis.com/auth/cloud-platform"] },
      ],
      networkInterfaces: [
        {
          network: "global/networks/default",
          subnetwork: "regions/us-central1/subnetworks/default",
          accessConfigs: [{ type: "ONE_TO_ONE_NAT" }],
        },
      ],
      tags: { items: ["builder"] },
    });
    expect(op.operationType).to.equal("insert");
    expect(op.targetLink).to.match(/\/instances\/vm-fields$/);
    const vm = await getInstance(h, "vm-fields");
    expect(vm.status).to.equal("RUNNING");
    expect(vm.machineType).to.equal(
      `https://www.googleapis.com/compute/v1/projects/${PROJECT}/zones/${ZONE}/machineTypes/e2-standard-2`,
    );
    expect(vm.disks?.[0]).to.include({
      deviceName: "boot",
      boot: true,
      autoDelete: true,
      mode: "READ_WRITE",
      index: 0,
    });
    expect(vm.disks?.[0]?.source).to.match(/\/disks\/vm-fields-boot$/);
    expect(vm.metadata?.items?.map((i) => i.key)).to.deep.equal([
      "user-data",
      "block-project-ssh-keys",
    ]);
    expect(vm.metadata?.fingerprint).to.be.a("string").and.not.empty;
    expect(vm.labels).to.deep.equal({ build: "abc" });
    expect(vm.scheduling).to.include({
      provisioningModel: "SPOT",
      onHostMaintenance: "TERMINATE",
      automaticRestart: false,
      preemptible: false,
    });
    expect(vm.guestAccelerators?.[0]?.acceleratorType).to.match(
      /zones\/us-central1-a\/acceleratorTypes\/nvidia-tesla-t4$/,
    );
    expect(vm.serviceAccounts?.[0]?.email).to.match(/-compute@developer\.gserviceaccount\.com$/);
    expect(vm.networkInterfaces?.[0]?.subnetwork).to.match(
      /regions\/us-central1\/subnetworks\/default$/,
    );
    expect(vm.networkInterfaces?.[0]?.accessConfigs?.[0]?.type).to.equal("ONE_TO_ONE_NAT");
    expect(vm.tags?.items).to.deep.equal(["builder"]);
    const disk = await getDisk(h, "vm-fields-boot");
    expect(disk.sizeGb).to.equal("20");
    expect(disk.labels).to.deep.equal({ t: "x" });
  });

  it("refuses accelerators without TERMINATE, a missing machine type, and duplicate names", async () => {
    const gpu = await rejection(
      requestInstance(h, {
        name: "gpu",
        machineType: "n1-standard-4",
        guestAccelerators: [{ acceleratorType: "nvidia-tesla-t4", acceleratorCount: 1 }],
        scheduling: { onHostMaintenance: "MIGRATE" },
        disks: [cosBootDisk()],
      }),
    );
    expect(gpu.httpStatusCode).to.equal(400);
    expect(gpu.message).to.match(/live migration/);
    const noType = await rejection(requestInstance(h, { name: "no-type", disks: [cosBootDisk()] }));
    expect(noType.message).to.match(/machineType/);
    const dup = await rejection(
      requestInstance(h, {
        name: "vm-fields",
        machineType: "e2-small",
        disks: [cosBootDisk({ diskName: "other" })],
      }),
    );
    expect(dup.httpStatusCode).to.equal(409);
    // The failed requests left no disk behind.
    const [disks] = await h.clients.disks.list({
      project: PROJECT,
      zone: ZONE,
      filter: 'name = "gpu" OR name = "other" OR name = "no-type"',
    });
    expect(disks).to.deep.equal([]);
  });

  it("goes PROVISIONING → STAGING → RUNNING → STOPPING → TERMINATED, and stop waits through operations.wait", async () => {
    await createVm("vm-life");
    const stop = await stopInstance(h, "vm-life");
    expect(stop.operationType).to.equal("stop");
    const vm = await getInstance(h, "vm-life");
    expect(vm.status).to.equal("TERMINATED");
    expect(vm.lastStopTimestamp).to.be.a("string");
    expect(h.emulator.instanceStatusHistory(ref("vm-life")).map((s) => s.status)).to.deep.equal([
      "PROVISIONING",
      "STAGING",
      "RUNNING",
      "STOPPING",
      "TERMINATED",
    ]);
    // Stopping a stopped instance is a no-op that still completes.
    await stopInstance(h, "vm-life");
  });

  it("guards setMetadata with the fingerprint (412 when stale) and applies it", async () => {
    await createVm("vm-meta", { metadata: { items: [{ key: "a", value: "1" }] } });
    const before = await getInstance(h, "vm-meta");
    await setMetadata(h, "vm-meta", {
      fingerprint: before.metadata?.fingerprint,
      items: [
        { key: "a", value: "1" },
        { key: "pci-build-ack", value: "b-1" },
      ],
    });
    const after = await getInstance(h, "vm-meta");
    expect(after.metadata?.items?.map(({ key, value }) => ({ key, value }))).to.deep.equal([
      { key: "a", value: "1" },
      { key: "pci-build-ack", value: "b-1" },
    ]);
    expect(after.metadata?.fingerprint).to.not.equal(before.metadata?.fingerprint);
    const stale = await rejection(
      requestSetMetadata(h, "vm-meta", { fingerprint: before.metadata?.fingerprint, items: [] }),
    );
    expect(stale.httpStatusCode).to.equal(412);
    const tooBig = await rejection(
      requestSetMetadata(h, "vm-meta", {
        fingerprint: after.metadata?.fingerprint,
        items: [{ key: "big", value: "x".repeat(256 * 1024 + 1) }],
      }),
    );
    expect(tooBig.httpStatusCode).to.equal(400);
  });

  it("hot-attaches a disk to a RUNNING instance and detaches it", async () => {
    await createVm("vm-attach");
    await insertDisk(h, { name: "late-disk", sizeGb: "1" });
    const attach = await attachDisk(h, "vm-attach", {
      source: `projects/${PROJECT}/zones/${ZONE}/disks/late-disk`,
      deviceName: "cidata",
      mode: "READ_ONLY",
    });
    expect(attach.operationType).to.equal("attachDisk");
    const vm = await getInstance(h, "vm-attach");
    expect(vm.status).to.equal("RUNNING");
    expect(vm.disks?.map((d) => [d.deviceName, d.index, d.mode])).to.deep.equal([
      ["boot", 0, "READ_WRITE"],
      ["cidata", 1, "READ_ONLY"],
    ]);
    const twice = await rejection(
      h.clients.instances.attachDisk({
        project: PROJECT,
        zone: ZONE,
        instance: "vm-attach",
        attachedDiskResource: { source: `zones/${ZONE}/disks/late-disk`, deviceName: "again" },
      }),
    );
    expect(twice.httpStatusCode).to.equal(400);
    await detachDisk(h, "vm-attach", "cidata");
    const detached = await getInstance(h, "vm-attach");
    expect(detached.disks?.map((d) => d.deviceName)).to.deep.equal(["boot"]);
  });

  it("serves serial output with start/next, the 1 MiB window, negative starts, and refuses a stopped instance", async () => {
    await createVm("chatty-vm");
    const read = async (port: number, start?: number) => {
      const out = await serialOutput(h, "chatty-vm", port, start);
      return { contents: out.contents ?? "", start: Number(out.start), next: Number(out.next) };
    };
    const console1 = await read(1);
    expect(console1.contents).to.equal("first\nsecond\n");
    expect(console1.next).to.equal(13);
    const tail = await read(1, 6);
    expect(tail).to.deep.equal({ contents: "second\n", start: 6, next: 13 });
    expect(await read(1, 13)).to.deep.equal({ contents: "", start: 13, next: 13 });

    // 1536 KiB written; only the last 1024 KiB are kept, so start=0 moves to 512 KiB.
    const windowed = await read(2, 0);
    expect(windowed.start).to.equal(512 * KIB);
    expect(windowed.next).to.equal(1536 * KIB);
    expect(windowed.contents.length).to.equal(1024 * KIB);
    expect(windowed.contents.startsWith("000512 ")).to.equal(true);
    const last = await read(2, -KIB);
    expect(last.start).to.equal(1535 * KIB);
    expect(last.contents.startsWith("001535 ")).to.equal(true);

    const badPort = await rejection(read(5));
    expect(badPort.httpStatusCode).to.equal(400);

    await stopInstance(h, "chatty-vm");
    const stopped = await rejection(read(1));
    expect(stopped.httpStatusCode).to.equal(400);
  });

  it("deletes an instance with its autoDelete disks, and operations report DONE", async () => {
    await createVm("vm-del");
    const lro = await h.clients.instances.delete({
      project: PROJECT,
      zone: ZONE,
      instance: "vm-del",
    });
    const op = await waitDone(h, lro);
    expect(op.operationType).to.equal("delete");
    expect(op.error ?? undefined).to.equal(undefined);
    expect(
      (
        await rejection(
          h.clients.instances.get({ project: PROJECT, zone: ZONE, instance: "vm-del" }),
        )
      ).httpStatusCode,
    ).to.equal(404);
    expect(
      (await rejection(h.clients.disks.get({ project: PROJECT, zone: ZONE, disk: "vm-del-boot" })))
        .httpStatusCode,
    ).to.equal(404);
    // The operation stays readable after it is DONE.
    const name = (lro[0].latestResponse as { name: string }).name;
    const [again] = await h.clients.zoneOperations.get({
      project: PROJECT,
      zone: ZONE,
      operation: name,
    });
    expect(again.status).to.equal("DONE");
    expect(
      (
        await rejection(
          h.clients.zoneOperations.get({
            project: PROJECT,
            zone: ZONE,
            operation: "operation-unknown",
          }),
        )
      ).httpStatusCode,
    ).to.equal(404);
  });
});
