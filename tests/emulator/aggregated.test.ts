import { expect } from "chai";
import { PROJECT, startHarness, waitOk, ZONE, type Harness } from "./harness";
import { cosBootDisk, insertDisk, insertInstance } from "./harness";

const OTHER_ZONE = "europe-west4-b";

/** Every zone at once, as the command's `sweep` reads them. */
describe("emulator: aggregated lists of instances and disks", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await insertDisk(h, { name: "here", sizeGb: "10", labels: { role: "scratch" } });
    await waitOk(
      h,
      await h.clients.disks.insert({
        project: PROJECT,
        zone: OTHER_ZONE,
        diskResource: { name: "there", sizeGb: "10", labels: { role: "scratch" } },
      }),
    );
    await insertDisk(h, { name: "unlabelled", sizeGb: "10" });
    await insertInstance(h, {
      name: "vm-1",
      machineType: `zones/${ZONE}/machineTypes/e2-small`,
      disks: [cosBootDisk({}, { autoDelete: true })],
      networkInterfaces: [{ network: "global/networks/default" }],
      labels: { role: "build" },
    });
  });
  after(() => h.close());

  it("groups disks of every zone by zones/<zone>, with the filter applied across zones", async () => {
    const scopes: Record<string, string[]> = {};
    for await (const [scope, list] of h.clients.disks.aggregatedListAsync({
      project: PROJECT,
      filter: 'labels.role = "scratch"',
    })) {
      scopes[scope] = (list.disks ?? []).map((d) => d.name ?? "");
    }
    expect(scopes).to.deep.equal({
      [`zones/${ZONE}`]: ["here"],
      [`zones/${OTHER_ZONE}`]: ["there"],
    });
  });

  it("lists instances of every zone, and pages across zones", async () => {
    const names: string[] = [];
    for await (const [scope, list] of h.clients.instances.aggregatedListAsync({
      project: PROJECT,
      maxResults: 1,
    })) {
      for (const i of list.instances ?? []) names.push(`${scope}/${i.name}`);
    }
    expect(names).to.deep.equal([`zones/${ZONE}/vm-1`]);
    h.emulator.requestLog.clear();
    const disks: string[] = [];
    for await (const [, list] of h.clients.disks.aggregatedListAsync({
      project: PROJECT,
      maxResults: 1,
    })) {
      for (const d of list.disks ?? []) disks.push(d.name ?? "");
    }
    // vm-1's boot disk too: four disks, one page each.
    expect(disks.sort()).to.deep.equal(["here", "there", "unlabelled", "vm-1"]);
    expect(h.emulator.requestLog.count("compute.disks.aggregatedList")).to.equal(4);
  });
});
