import { stat } from "node:fs/promises";
import { expect } from "chai";
import type { GuestBackend, GuestDisk } from "../../emulator";
import { GIB, PROJECT, ZONE, cosBootDisk, getDisk, insertDisk, insertInstance } from "./harness";
import { rejection, startHarness, waitDone, waitOk, type Harness } from "./harness";

/** Compute's `disks.resize` as GCE does it, through the real client (emulator/compute/disks.ts). */
describe("emulator: disks.resize through the real Compute Engine client", () => {
  let h: Harness;
  /** What the guest of the running instance was told, with the disk's file size at that moment. */
  const told: Array<{ disk: GuestDisk; fileBytes: number }> = [];
  let releaseGuest: (() => void) | undefined;
  const guest: GuestBackend = {
    async boot(ctx) {
      ctx.onDiskResized(async (disk) => {
        // Held until the test releases it: the operation must wait for the guest to be told.
        await new Promise<void>((resolve) => (releaseGuest = resolve));
        told.push({ disk, fileBytes: (await stat(disk.filePath ?? "")).size });
      });
      await ctx.sleep(3_600_000);
    },
  };

  before(async () => (h = await startHarness({ diskFiles: true, guestFor: () => guest })));
  after(() => h.close());

  const resize = (disk: string, sizeGb: string) =>
    h.clients.disks.resize({
      project: PROJECT,
      zone: ZONE,
      disk,
      disksResizeRequestResource: { sizeGb },
    });

  it("grows a detached disk; the operation is a zonal resizeDisk on the disk", async () => {
    await insertDisk(h, { name: "data-1", sizeGb: "10" });
    const op = await waitOk(h, await resize("data-1", "12"));
    expect(op.operationType).to.equal("resizeDisk");
    expect(op.targetLink).to.match(/\/zones\/us-central1-a\/disks\/data-1$/);
    const disk = await getDisk(h, "data-1");
    expect(disk.sizeGb).to.equal("12");
  });

  it("refuses a size that is not larger with GCE's 400 wording, and an unknown disk with 404", async () => {
    const same = await rejection(resize("data-1", "12"));
    expect(same.httpStatusCode).to.equal(400);
    expect(same.message).to.include(
      "Invalid value for field 'sizeGb': '12'. New disk size '12' GiB must be larger than existing size '12' GiB.",
    );
    const smaller = await rejection(resize("data-1", "10"));
    expect(smaller.httpStatusCode).to.equal(400);
    expect(smaller.message).to.include(
      "New disk size '10' GiB must be larger than existing size '12' GiB.",
    );
    expect((await getDisk(h, "data-1")).sizeGb).to.equal("12");
    const unknown = await rejection(resize("no-such-disk", "20"));
    expect(unknown.httpStatusCode).to.equal(404);
  });

  it("grows the boot disk of a running instance: the guest is told, with the file at its new size, before the operation is done", async () => {
    await insertInstance(h, {
      name: "vm-1",
      machineType: "e2-small",
      disks: [cosBootDisk({ diskName: "vm-1-boot" }, { deviceName: "boot", autoDelete: true })],
    });
    const [started] = await resize("vm-1-boot", "11");
    const name = started.latestResponse.name ?? "";
    // The guest has not been released yet: the operation must still be running.
    for (let i = 0; i < 50 && !releaseGuest; i++) await new Promise((r) => setTimeout(r, 10));
    expect(releaseGuest, "the guest was told of the resize").to.not.equal(undefined);
    const [pending] = await h.clients.zoneOperations.get({
      project: PROJECT,
      zone: ZONE,
      operation: name,
    });
    expect(pending.status).to.not.equal("DONE");
    releaseGuest?.();
    const op = await waitOk(h, [started]);
    expect(op.operationType).to.equal("resizeDisk");
    expect(told).to.have.length(1);
    expect(told[0].disk).to.deep.include({ deviceName: "boot", boot: true, sizeGb: 11 });
    expect(told[0].fileBytes).to.equal(11 * GIB);
    expect((await getDisk(h, "vm-1-boot")).sizeGb).to.equal("11");
  });
});

describe("emulator: the regional disk quota on disks.resize", () => {
  let h: Harness;
  before(async () => (h = await startHarness({ diskQuotaGb: 25 })));
  after(() => h.close());

  it("fails the operation with QUOTA_EXCEEDED as GCE does, and leaves the size", async () => {
    await insertDisk(h, { name: "a", sizeGb: "10" });
    await insertDisk(h, { name: "b", sizeGb: "10" });
    await waitOk(
      h,
      await h.clients.disks.resize({
        project: PROJECT,
        zone: ZONE,
        disk: "a",
        disksResizeRequestResource: { sizeGb: "15" },
      }),
    );
    const [started] = await h.clients.disks.resize({
      project: PROJECT,
      zone: ZONE,
      disk: "b",
      disksResizeRequestResource: { sizeGb: "11" },
    });
    const op = await waitDone(h, [started]);
    expect(op.error?.errors?.[0]).to.deep.include({
      code: "QUOTA_EXCEEDED",
      message: "Quota 'DISKS_TOTAL_GB' exceeded.  Limit: 25.0 in region us-central1.",
    });
    expect((await getDisk(h, "b")).sizeGb).to.equal("10");
  });
});
