import { expect } from "chai";
import { GCE_LATENCY, ZERO_LATENCY } from "../../emulator";
import { Latency } from "../../emulator/latency";
import { PROJECT, startHarness, waitOk, ZONE } from "./harness";

describe("emulator: latency model", () => {
  it("computes base + per-GiB delays, scaled by timeScale", () => {
    const gce = new Latency("gce", 0.5);
    const { baseMs, perGiBMs = 0 } = GCE_LATENCY.imageFromDisk;
    expect(gce.ms("imageFromDisk", 10)).to.equal((baseMs + perGiBMs * 10) * 0.5);
    expect(gce.ms("instanceStaging")).to.equal(GCE_LATENCY.instanceStaging.baseMs * 0.5);
    expect(new Latency("zero").ms("imageFromRawDisk", 100)).to.equal(0);
    const partial = new Latency({ diskAttach: { baseMs: 7 } });
    expect(partial.ms("diskAttach")).to.equal(7);
    expect(partial.ms("instanceStop")).to.equal(ZERO_LATENCY.instanceStop.baseMs);
    expect(() => new Latency("gce", -1)).to.throw(/timeScale/);
  });

  it("runs the same state machine under the gce model (scaled down) as at zero latency", async () => {
    const h = await startHarness({ latency: "gce", timeScale: 0.001 });
    try {
      const lro = await h.clients.instances.insert({
        project: PROJECT,
        zone: ZONE,
        instanceResource: {
          name: "slow-vm",
          machineType: "e2-small",
          labels: { tier: "x" },
          disks: [
            {
              boot: true,
              autoDelete: true,
              initializeParams: {
                sourceImage: "projects/cos-cloud/global/images/family/cos-stable",
              },
            },
          ],
        },
      });
      // A mutation answers before its work starts, as GCE does.
      expect((lro[0].latestResponse as { status?: string }).status).to.equal("PENDING");
      await waitOk(h, lro);
      await waitOk(
        h,
        await h.clients.instances.stop({ project: PROJECT, zone: ZONE, instance: "slow-vm" }),
      );
      expect(
        h.emulator
          .instanceStatusHistory({ project: PROJECT, zone: ZONE, name: "slow-vm" })
          .map((s) => s.status),
      ).to.deep.equal(["PROVISIONING", "STAGING", "RUNNING", "STOPPING", "TERMINATED"]);
      const [byLabel] = await h.clients.instances.list({
        project: PROJECT,
        zone: ZONE,
        filter: 'labels.tier = "x" AND status = "TERMINATED"',
      });
      expect(byLabel.map((i) => i.name)).to.deep.equal(["slow-vm"]);
      const [none] = await h.clients.instances.list({
        project: PROJECT,
        zone: ZONE,
        filter: 'status = "RUNNING"',
      });
      expect(none).to.deep.equal([]);
    } finally {
      await h.close();
    }
  });
});
