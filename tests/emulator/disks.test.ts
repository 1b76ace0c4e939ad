import { expect } from "chai";
import { PROJECT, rejection, startHarness, ZONE, type Harness } from "./harness";
import { cosBootDisk, deleteDisk, deleteInstance, deprecateImage, getDisk } from "./harness";
import { COS_FAMILY, insertDisk, insertImage, insertInstance, requestDisk } from "./harness";
import { waitDone } from "./harness";

describe("emulator: disks through the real Compute Engine client", () => {
  let h: Harness;
  before(async () => (h = await startHarness()));
  after(() => h.close());

  it("creates a disk from an image family, inheriting size and licenses", async () => {
    await insertDisk(h, {
      name: "boot-1",
      sourceImage: "projects/cos-cloud/global/images/family/cos-121-lts",
      type: `zones/${ZONE}/diskTypes/pd-balanced`,
      labels: { build: "b1" },
    });
    const disk = await getDisk(h, "boot-1");
    expect(disk.status).to.equal("READY");
    expect(disk.sizeGb).to.equal("10");
    expect(disk.sourceImage).to.equal(
      "https://www.googleapis.com/compute/v1/projects/cos-cloud/global/images/cos-121-18867-199-1",
    );
    expect(disk.type).to.equal(
      `https://www.googleapis.com/compute/v1/projects/${PROJECT}/zones/${ZONE}/diskTypes/pd-balanced`,
    );
    expect(disk.licenses).to.include(
      "https://www.googleapis.com/compute/v1/projects/cos-cloud/global/licenses/cos",
    );
    expect(disk.labels).to.deep.equal({ build: "b1" });
    expect(disk.zone).to.equal(
      `https://www.googleapis.com/compute/v1/projects/${PROJECT}/zones/${ZONE}`,
    );
  });

  it("creates blank disks and lists them with a label filter", async () => {
    await insertDisk(h, { name: "scratch-1", sizeGb: "50", labels: { role: "scratch" } });
    const disk = await getDisk(h, "scratch-1");
    expect(disk.sizeGb).to.equal("50");
    expect(disk.sourceImage ?? "").to.equal("");
    const [items] = await h.clients.disks.list({
      project: PROJECT,
      zone: ZONE,
      filter: 'labels.role = "scratch"',
    });
    expect(items.map((d) => d.name)).to.deep.equal(["scratch-1"]);
  });

  it("refuses a disk smaller than its image, an unknown image, an obsolete image and duplicates", async () => {
    const small = await rejection(
      requestDisk(h, { name: "tiny", sizeGb: "5", sourceImage: COS_FAMILY }),
    );
    expect(small.httpStatusCode).to.equal(400);
    expect(small.message).to.match(/cannot be smaller than the image size/);
    const unknown = await rejection(
      requestDisk(h, {
        name: "nope",
        sourceImage: "projects/cos-cloud/global/images/does-not-exist",
      }),
    );
    expect(unknown.httpStatusCode).to.equal(404);

    await insertImage(h, {
      name: "old",
      sourceImage: "projects/cos-cloud/global/images/family/cos-dev",
    });
    await deprecateImage(h, "old", { state: "OBSOLETE" });
    const obsolete = await rejection(
      requestDisk(h, { name: "from-old", sourceImage: "global/images/old" }),
    );
    expect(obsolete.httpStatusCode).to.equal(400);
    expect(obsolete.message).to.match(/obsolete/);

    const dup = await rejection(requestDisk(h, { name: "scratch-1", sizeGb: "10" }));
    expect(dup.httpStatusCode).to.equal(409);
  });

  it("setDiskAutoDelete decides whether a disk goes with its instance; an unknown device is refused", async () => {
    await insertInstance(h, {
      name: "kept-vm",
      machineType: "e2-small",
      disks: [cosBootDisk({}, { autoDelete: true, deviceName: "boot" })],
    });
    const unknown = await rejection(
      h.clients.instances.setDiskAutoDelete({
        project: PROJECT,
        zone: ZONE,
        instance: "kept-vm",
        deviceName: "nope",
        autoDelete: false,
      }),
    );
    expect(unknown.httpStatusCode).to.equal(400);
    await waitDone(
      h,
      await h.clients.instances.setDiskAutoDelete({
        project: PROJECT,
        zone: ZONE,
        instance: "kept-vm",
        deviceName: "boot",
        autoDelete: false,
      }),
    );
    const [instance] = await h.clients.instances.get({
      project: PROJECT,
      zone: ZONE,
      instance: "kept-vm",
    });
    expect(instance.disks?.[0].autoDelete).to.equal(false);
    await deleteInstance(h, "kept-vm");
    expect((await getDisk(h, "kept-vm")).users ?? []).to.deep.equal([]);
  });

  it("refuses to delete a disk attached to an instance (resourceInUseByAnotherResource), deletes it once free", async () => {
    await insertDisk(h, { name: "data-1", sizeGb: "10" });
    await insertInstance(h, {
      name: "user-vm",
      machineType: "e2-small",
      disks: [
        cosBootDisk({}, { autoDelete: true }),
        { source: `zones/${ZONE}/disks/data-1`, deviceName: "data" },
      ],
    });
    const attached = await getDisk(h, "data-1");
    expect(attached.users).to.deep.equal([
      `https://www.googleapis.com/compute/v1/projects/${PROJECT}/zones/${ZONE}/instances/user-vm`,
    ]);
    const inUse = await rejection(
      h.clients.disks.delete({ project: PROJECT, zone: ZONE, disk: "data-1" }),
    );
    expect(inUse.httpStatusCode).to.equal(400);
    expect(inUse.message).to.match(
      /is already being used by 'projects\/test-project\/zones\/us-central1-a\/instances\/user-vm'/,
    );

    await deleteInstance(h, "user-vm");
    // The boot disk had autoDelete; the data disk did not and is now free.
    expect(
      (await rejection(h.clients.disks.get({ project: PROJECT, zone: ZONE, disk: "user-vm" })))
        .httpStatusCode,
    ).to.equal(404);
    expect((await getDisk(h, "data-1")).users ?? []).to.deep.equal([]);
    await deleteDisk(h, "data-1");
    expect(
      (await rejection(h.clients.disks.get({ project: PROJECT, zone: ZONE, disk: "data-1" })))
        .httpStatusCode,
    ).to.equal(404);
  });
});
