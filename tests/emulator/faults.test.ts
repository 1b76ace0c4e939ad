import { expect } from "chai";
import { scriptedGuest, type EmulatorOptions } from "../../emulator";
import { PROJECT, rejection, startHarness, ZONE, type Harness } from "./harness";
import { cosBootDisk, getInstance, insertDisk, insertInstance, instanceRef } from "./harness";
import { requestDisk } from "./harness";

async function createVm(h: Harness, name: string, spot = true): Promise<void> {
  await insertInstance(h, {
    name,
    machineType: "e2-small",
    ...(spot
      ? {
          scheduling: {
            provisioningModel: "SPOT",
            onHostMaintenance: "TERMINATE",
            automaticRestart: false,
          },
        }
      : {}),
    metadata: { items: [{ key: "pci-build-id", value: `id-${name}` }] },
    disks: [cosBootDisk({}, { autoDelete: true })],
  });
}

/** Calls getFromFamily `n` times and returns the HTTP status of each answer as the client saw it. */
async function statuses(h: Harness, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    try {
      await h.clients.images.getFromFamily({ project: "cos-cloud", family: "cos-stable" });
      out.push(200);
    } catch (err) {
      out.push((err as { httpStatusCode: number }).httpStatusCode);
    }
  }
  return out;
}

describe("emulator: fault injection", () => {
  const withHarness = async (
    options: EmulatorOptions,
    body: (h: Harness) => Promise<void>,
  ): Promise<void> => {
    const h = await startHarness(options);
    try {
      await body(h);
    } finally {
      await h.close();
    }
  };

  it("answers a method with 429 at the configured rate, repeatably for a seed", async () => {
    const rule = { method: "compute.images.getFromFamily", rate: 0.3, status: 429 as const };
    let first: number[] = [];
    await withHarness({ errorRates: [rule], seed: 7 }, async (h) => {
      first = await statuses(h, 120);
      const failures = first.filter((s) => s === 429).length;
      // 120 draws at p = 0.3: mean 36, standard deviation 5; the bounds are over 3 deviations out.
      expect(failures).to.be.within(20, 52);
      expect(first.every((s) => s === 200 || s === 429)).to.equal(true);
      expect(h.emulator.requestLog.count("compute.images.getFromFamily", 429)).to.equal(failures);
      expect(h.emulator.requestLog.entries().filter((e) => e.injectedFault)).to.have.length(
        failures,
      );
      // Other methods are untouched.
      await h.clients.images.get({ project: "cos-cloud", image: "cos-dev-129-19455-0-0" });
    });
    await withHarness({ errorRates: [rule], seed: 7 }, async (h) => {
      expect(await statuses(h, 120)).to.deep.equal(first);
    });
    await withHarness({ errorRates: [rule], seed: 8 }, async (h) => {
      expect(await statuses(h, 120)).to.not.deep.equal(first);
    });
  });

  it("answers 503 backendError on globbed methods, and the rules can change at run time", async () => {
    await withHarness(
      { errorRates: [{ method: "compute.*.insert", rate: 1, status: 503 }] },
      async (h) => {
        const err = await rejection(requestDisk(h, { name: "d", sizeGb: "10" }));
        expect(err.httpStatusCode).to.equal(503);
        expect(err.message).to.match(/Backend Error/);
        h.emulator.setErrorRates([]);
        await insertDisk(h, { name: "d", sizeGb: "10" });
      },
    );
  });

  it("lets the client's own retry absorb 503 on idempotent reads", async () => {
    await withHarness(
      { errorRates: [{ method: "compute.images.get", rate: 0.5, status: 503 }], seed: 3 },
      async (h) => {
        for (let i = 0; i < 4; i++)
          await h.clients.images.get({ project: "cos-cloud", image: "cos-dev-129-19455-0-0" });
        expect(h.emulator.requestLog.count("compute.images.get", 200)).to.equal(4);
        expect(h.emulator.requestLog.count("compute.images.get", 503)).to.be.greaterThan(0);
      },
    );
  });

  it("preempts an instance on request: STOPPING, a compute.instances.preempted operation, TERMINATED", async () => {
    await withHarness(
      { guestFor: () => scriptedGuest({ outcome: "hang", waitForCidata: false }) },
      async (h) => {
        await createVm(h, "spot-vm");
        const ref = instanceRef("spot-vm");
        await h.emulator.preemptInstance(ref);
        const vm = await getInstance(h, "spot-vm");
        expect(vm.status).to.equal("TERMINATED");
        expect(vm.statusMessage).to.match(/preempted/);
        expect(
          h.emulator
            .instanceStatusHistory(ref)
            .map((s) => s.status)
            .slice(-3),
        ).to.deep.equal(["RUNNING", "STOPPING", "TERMINATED"]);
        const [ops] = await h.clients.zoneOperations.list({
          project: PROJECT,
          zone: ZONE,
          filter: 'operationType = "compute.instances.preempted"',
        });
        expect(ops).to.have.length(1);
        expect(ops[0].targetLink).to.match(/\/instances\/spot-vm$/);
        expect(ops[0].status).to.equal("DONE");
        const preempted = await fetch(
          `${h.emulator.metadataServer(ref).url}/computeMetadata/v1/instance/preempted`,
          { headers: { "Metadata-Flavor": "Google" } },
        );
        expect(await preempted.text()).to.equal("TRUE");
      },
    );
  });

  it("crashes an instance on request: TERMINATED without STOPPING, and a hostError operation", async () => {
    await withHarness({}, async (h) => {
      await createVm(h, "crash-vm", false);
      const ref = instanceRef("crash-vm");
      h.emulator.crashInstance(ref);
      expect(h.emulator.instanceStatusHistory(ref).map((s) => s.status)).to.deep.equal([
        "PROVISIONING",
        "STAGING",
        "RUNNING",
        "TERMINATED",
      ]);
      const [ops] = await h.clients.zoneOperations.list({
        project: PROJECT,
        zone: ZONE,
        filter: 'operationType = "compute.instances.hostError"',
      });
      expect(ops.map((o) => o.targetLink?.split("/").pop())).to.deep.equal(["crash-vm"]);
      expect(() => h.emulator.crashInstance(ref)).to.throw(/TERMINATED/);
    });
  });

  it("fires scheduled faults by serial output (mid-build) and by time after RUNNING", async () => {
    await withHarness(
      {
        defaultGuest: { statusLines: 5, waitForCidata: false },
        scheduledFaults: [
          { action: "preempt", instance: "sched-preempt-*", whenSerialContains: "step 2/5" },
          { action: "crash", instance: "sched-crash", afterRunningMs: 0 },
        ],
      },
      async (h) => {
        await createVm(h, "sched-preempt-1");
        const preemptRef = instanceRef("sched-preempt-1");
        await h.emulator.untilInstanceStatus(preemptRef, "TERMINATED");
        const lines = h.emulator.serialLines(preemptRef).map((l) => l.text);
        expect(lines).to.include("BuildStatus: step 2/5: working");
        expect(lines.some((l) => l.startsWith("BuildSucceeded:"))).to.equal(false);

        await createVm(h, "sched-crash", false);
        const crashRef = instanceRef("sched-crash");
        await h.emulator.untilInstanceStatus(crashRef, "TERMINATED");
        expect(h.emulator.instanceStatusHistory(crashRef).map((s) => s.status)).to.not.include(
          "STOPPING",
        );

        // Instances that match no rule are left alone.
        await createVm(h, "unaffected", false);
        await h.emulator.untilInstanceStatus(instanceRef("unaffected"), "RUNNING");
        expect(h.emulator.instanceStatus(instanceRef("unaffected"))).to.equal("RUNNING");
      },
    );
  });
});

describe("emulator: request log and inventory", () => {
  it("counts requests per method and lists every resource", async () => {
    const h = await startHarness();
    try {
      await h.clients.images.get({ project: "cos-cloud", image: "cos-dev-129-19455-0-0" });
      await h.clients.images.get({ project: "cos-cloud", image: "cos-beta-125-19216-0-28" });
      await rejection(h.clients.images.get({ project: "cos-cloud", image: "missing" }));
      await h.clients.images.list({ project: "cos-cloud" });
      await insertDisk(h, { name: "left-over", sizeGb: "10", labels: { temp: "yes" } });
      await h.clients.storage.createBucket("inventory-bucket");
      await h.clients.storage
        .bucket("inventory-bucket")
        .file("a.txt")
        .save("x", { resumable: false });

      const log = h.emulator.requestLog;
      expect(log.count("compute.images.get")).to.equal(3);
      expect(log.count("compute.images.get", 404)).to.equal(1);
      expect(log.count("compute.images.*")).to.equal(4);
      expect(log.counts()).to.include({
        "compute.images.get": 3,
        "compute.images.list": 1,
        "compute.disks.insert": 1,
        "storage.buckets.insert": 1,
        "storage.objects.insert": 1,
      });
      const entry = log.entries()[0];
      expect(entry).to.include({
        method: "compute.images.get",
        httpMethod: "GET",
        path: "/compute/v1/projects/cos-cloud/global/images/cos-dev-129-19455-0-0",
        status: 200,
        injectedFault: false,
      });
      expect(entry.startedAt).to.be.a("number");
      expect(entry.durationMs).to.be.at.least(0);

      const inventory = h.emulator.inventory();
      expect(inventory.images.filter((i) => !i.seeded)).to.deep.equal([]);
      expect(inventory.images.filter((i) => i.project === "cos-cloud")).to.have.length(8);
      expect(inventory.disks).to.deep.equal([
        {
          project: PROJECT,
          zone: ZONE,
          name: "left-over",
          status: "READY",
          labels: { temp: "yes" },
          users: [],
        },
      ]);
      expect(inventory.instances).to.deep.equal([]);
      expect(inventory.buckets).to.deep.equal([{ project: PROJECT, name: "inventory-bucket" }]);
      expect(inventory.objects).to.deep.equal([
        { bucket: "inventory-bucket", name: "a.txt", size: 1 },
      ]);
      log.clear();
      expect(log.count()).to.equal(0);
    } finally {
      await h.close();
    }
  });

  it("refuses requests without a bearer token (401), as Google does", async () => {
    const h = await startHarness();
    try {
      const response = await fetch(
        `${h.emulator.endpoint}/compute/v1/projects/cos-cloud/global/images`,
      );
      expect(response.status).to.equal(401);
      const body = (await response.json()) as { error: { code: number; status: string } };
      expect(body.error).to.include({ code: 401, status: "UNAUTHENTICATED" });
    } finally {
      await h.close();
    }
  });
});
