import type { protos } from "@google-cloud/compute";
import { expect } from "chai";
import type { GuestInstanceInfo } from "../../emulator";
import { cosBootDisk, insertInstance, PROJECT, rejection, requestInstance } from "./harness";
import { startHarness, ZONE, type Harness } from "./harness";

type MachineTypeJson = protos.google.cloud.compute.v1.IMachineType;

/** A machine type, a list of them, or an error: what the tests read of an answer. */
interface Json extends MachineTypeJson {
  items?: MachineTypeJson[];
  nextPageToken?: string;
  error?: { message: string };
}

/** `machineTypes.get` / `list` over HTTP (the project's clients have no machine types client). */
async function getJson(h: Harness, path: string): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${h.emulator.endpoint}/compute/v1/projects/${PROJECT}/${path}`, {
    headers: { Authorization: "Bearer test-token" },
  });
  return { status: response.status, body: (await response.json()) as Json };
}

const machineType = (h: Harness, name: string) => getJson(h, `zones/${ZONE}/machineTypes/${name}`);

describe("emulator: machine types (machineTypes.get and list, and instances.insert's check)", () => {
  let h: Harness;
  const booted: GuestInstanceInfo[] = [];
  before(async () => {
    h = await startHarness({
      guestFor: (instance) => {
        booted.push(instance);
        return undefined;
      },
    });
  });
  after(() => h.close());

  it("gets a predefined type with GCE's fields", async () => {
    const { status, body } = await machineType(h, "e2-standard-2");
    expect(status).to.equal(200);
    expect(body).to.deep.include({
      kind: "compute#machineType",
      name: "e2-standard-2",
      description: "2 vCPUs, 8 GB RAM",
      guestCpus: 2,
      memoryMb: 8192,
      isSharedCpu: false,
      zone: ZONE,
      selfLink: `https://www.googleapis.com/compute/v1/projects/${PROJECT}/zones/${ZONE}/machineTypes/e2-standard-2`,
    });
    expect(body.id).to.match(/^\d+$/);
    expect((await machineType(h, "e2-standard-2")).body.id, "a stable id").to.equal(body.id);
  });

  it("knows the shared-core types and the series' rules", async () => {
    const shape = async (name: string) => {
      const { body } = await machineType(h, name);
      return [body.guestCpus, body.memoryMb, body.isSharedCpu];
    };
    expect(await shape("e2-micro")).to.deep.equal([2, 1024, true]);
    expect(await shape("e2-small")).to.deep.equal([2, 2048, true]);
    expect(await shape("e2-medium")).to.deep.equal([2, 4096, true]);
    expect(await shape("f1-micro")).to.deep.equal([1, 614, true]);
    expect(await shape("n1-standard-4")).to.deep.equal([4, 15360, false]);
    expect(await shape("n1-highcpu-2")).to.deep.equal([2, 1843, false]);
    expect(await shape("n2-highmem-8")).to.deep.equal([8, 65536, false]);
    expect(await shape("c3-standard-4")).to.deep.equal([4, 16384, false]);
    expect(await shape("c3-standard-4-lssd")).to.deep.equal([4, 16384, false]);
    expect(await shape("c2-standard-30")).to.deep.equal([30, 122880, false]);
    expect(await shape("a2-highgpu-1g")).to.deep.equal([12, 87040, false]);
    expect((await machineType(h, "e2-small")).body.description).to.equal(
      "Efficient Instance, 2 vCPU (1/4 shared physical core) and 2 GB RAM",
    );
    expect((await machineType(h, "n1-standard-1")).body.description).to.equal(
      "1 vCPU, 3.75 GB RAM",
    );
  });

  it("answers 404 for a type that does not exist (a size outside the series' too)", async () => {
    for (const name of ["e2-standard-3", "n1-mega-4", "e2-highmem-32"]) {
      const { status, body } = await machineType(h, name);
      expect(status, name).to.equal(404);
      expect(body.error?.message).to.equal(
        `The resource 'projects/${PROJECT}/zones/${ZONE}/machineTypes/${name}' was not found`,
      );
    }
  });

  it("gets custom types that follow GCE's rules", async () => {
    for (const [name, cpus, mb] of [
      ["custom-4-8192", 4, 8192],
      ["custom-1-1024", 1, 1024],
      ["n2-custom-4-16384", 4, 16384],
      ["custom-2-7680-ext", 2, 7680],
      ["custom-2-20480-ext", 2, 20480],
      ["e2-custom-32-131072", 32, 131072],
    ] as const) {
      const { status, body } = await machineType(h, name);
      expect(status, name).to.equal(200);
      expect([body.guestCpus, body.memoryMb, body.description], name).to.deep.equal([
        cpus,
        mb,
        "Custom created machine type.",
      ]);
    }
  });

  it("lists the predefined types (no custom ones), with filter and pages", async () => {
    const { body } = await getJson(h, `zones/${ZONE}/machineTypes`);
    expect(body.kind).to.equal("compute#machineTypeList");
    const names = (body.items ?? []).map((t) => t.name ?? "");
    for (const name of [
      "e2-small",
      "e2-standard-2",
      "n1-standard-4",
      "c3-standard-4",
      "g2-standard-4",
    ]) {
      expect(names, name).to.include(name);
    }
    expect(names.filter((n) => n.includes("custom"))).to.deep.equal([]);
    expect(names, "in name order").to.deep.equal([...names].sort());

    const filtered = await getJson(
      h,
      `zones/${ZONE}/machineTypes?filter=${encodeURIComponent('name = "n2-standard-8"')}`,
    );
    expect(filtered.body.items?.map((t) => t.memoryMb)).to.deep.equal([32768]);
    const page = await getJson(h, `zones/${ZONE}/machineTypes?maxResults=2`);
    expect(page.body.items).to.have.length(2);
    expect(page.body.nextPageToken).to.be.a("string");
  });

  async function refusal(name: string, ref = `zones/${ZONE}/machineTypes/${name}`) {
    const error = await rejection(
      requestInstance(h, {
        name: `vm-${name.replace(/[^a-z0-9]/g, "")}`.slice(0, 60),
        machineType: ref,
        disks: [cosBootDisk({ diskName: `refused-${booted.length}` }, { autoDelete: true })],
      }),
    );
    expect(error.httpStatusCode, error.message).to.equal(400);
    return error.message;
  }

  it("refuses an instance of an unknown type with GCE's 400, before any disk or operation", async () => {
    const ref = `zones/${ZONE}/machineTypes/e2-standard-3`;
    expect(await refusal("e2-standard-3", ref)).to.include(
      `Invalid value for field 'resource.machineType': '${ref}'. Machine type with name 'e2-standard-3' does not exist in zone '${ZONE}'.`,
    );
    // The value is echoed as sent: a bare name stays bare.
    expect(await refusal("n9-standard-2", "n9-standard-2")).to.include(
      "Invalid value for field 'resource.machineType': 'n9-standard-2'. Machine type with name 'n9-standard-2' does not exist in zone",
    );
    const raw = await fetch(
      `${h.emulator.endpoint}/compute/v1/projects/${PROJECT}/zones/${ZONE}/instances`,
      {
        method: "POST",
        headers: { Authorization: "Bearer test-token", "Content-Type": "application/json" },
        body: JSON.stringify({
          name: "raw",
          machineType: "e2-huge",
          disks: [{ boot: true, initializeParams: { sourceImage: "x" } }],
        }),
      },
    );
    const { error } = (await raw.json()) as { error: Record<string, unknown> };
    expect(raw.status).to.equal(400);
    expect(error).to.deep.include({ code: 400, status: "INVALID_ARGUMENT" });
    expect(error.errors).to.deep.equal([
      { message: error.message, domain: "global", reason: "invalid" },
    ]);
    const [disks] = await h.clients.disks.list({ project: PROJECT, zone: ZONE });
    expect(disks, "no disk was made").to.deep.equal([]);
    const [operations] = await h.clients.zoneOperations.list({ project: PROJECT, zone: ZONE });
    expect(operations, "no operation was started").to.deep.equal([]);
    expect(booted, "no guest").to.deep.equal([]);
  });

  it("refuses invalid custom types with GCE's reasons", async () => {
    expect(await refusal("custom-2-1000")).to.include(
      "Memory should be a multiple of 256MiB, while 1000MiB is requested.",
    );
    expect(await refusal("custom-3-3072")).to.include(
      "Custom Machine type with name 'custom-3-3072' does not exist.",
    );
    expect(await refusal("custom-98-98304")).to.include("does not exist.");
    expect(await refusal("e2-custom-2-4096-ext"), "E2 has no extended memory").to.include(
      "does not exist.",
    );
    expect(await refusal("custom-2-14336"), "above 6.5 GB per vCPU").to.include(
      "Memory should be between 2048MiB and 13312MiB for the 2 vCPU machine, while 14336MiB is requested.",
    );
    expect(await refusal("n2-custom-4-1024"), "below 0.5 GB per vCPU").to.include(
      "Memory should be between 2048MiB and 32768MiB",
    );
  });

  it("gives the guest its type's vCPUs and memory (a custom type too)", async () => {
    for (const [name, cpus, mb] of [
      ["e2-standard-2", 2, 8192],
      ["custom-6-12288", 6, 12288],
    ] as const) {
      await insertInstance(h, {
        name: `sized-${cpus}`,
        machineType: `zones/${ZONE}/machineTypes/${name}`,
        disks: [cosBootDisk({ diskName: `sized-${cpus}-boot` }, { autoDelete: true })],
      });
      const info = booted.find((b) => b.name === `sized-${cpus}`);
      expect(info, name).to.deep.include({ machineType: name, guestCpus: cpus, memoryMb: mb });
    }
  });
});
