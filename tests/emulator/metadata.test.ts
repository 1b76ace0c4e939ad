import { expect } from "chai";
import { PROJECT, startHarness, ZONE, type Harness, insertInstance } from "./harness";
import { cosBootDisk, deleteInstance, getInstance, instanceRef, setMetadata } from "./harness";

/** A plain HTTP GET against the instance's metadata server, as a guest would send it. */
interface MetadataAnswer {
  status: number;
  body: string;
  etag: string | null;
  contentType: string | null;
}

describe("emulator: per-instance metadata server (plain HTTP, as a guest sees it)", () => {
  let h: Harness;
  let base: string;
  const ref = instanceRef("md-vm");

  before(async () => {
    h = await startHarness();
    await insertInstance(h, {
      name: "md-vm",
      machineType: "e2-small",
      disks: [cosBootDisk({}, { autoDelete: true })],
      metadata: {
        items: [
          { key: "user-data", value: "#cloud-config\nruncmd: []\n" },
          { key: "user-data-encoding", value: "" },
          { key: "pci-build-id", value: "b-42" },
        ],
      },
      serviceAccounts: [
        {
          email: "builder@test-project.iam.gserviceaccount.com",
          scopes: ["https://www.googleapis.com/auth/cloud-platform"],
        },
      ],
      tags: { items: ["pci"] },
    });
    base = `${h.emulator.metadataServer(ref).url}/computeMetadata/v1`;
  });
  after(() => h.close());

  async function get(
    path: string,
    headers: Record<string, string> = { "Metadata-Flavor": "Google" },
  ): Promise<MetadataAnswer> {
    const response = await fetch(`${base}/${path}`, { headers, redirect: "manual" });
    return {
      status: response.status,
      body: await response.text(),
      etag: response.headers.get("etag"),
      contentType: response.headers.get("content-type"),
    };
  }

  async function setItems(items: Array<{ key: string; value: string }>): Promise<void> {
    const vm = await getInstance(h, "md-vm");
    await setMetadata(h, "md-vm", { fingerprint: vm.metadata?.fingerprint, items });
  }

  it("listens on loopback, one port per instance", () => {
    const server = h.emulator.metadataServer(ref);
    expect(server.host).to.equal("127.0.0.1");
    expect(server.port).to.be.greaterThan(0).and.not.equal(h.emulator.port);
  });

  it("refuses requests without Metadata-Flavor: Google (403)", async () => {
    expect((await get("instance/attributes/pci-build-id", {})).status).to.equal(403);
    expect(
      (await get("instance/attributes/pci-build-id", { "Metadata-Flavor": "google" })).status,
    ).to.equal(403);
  });

  it("serves attributes, 404 for absent keys, and the instance and project facts cloud-init reads", async () => {
    const attr = await get("instance/attributes/pci-build-id");
    expect(attr).to.include({ status: 200, body: "b-42" });
    expect(attr.etag).to.be.a("string");
    expect((await get("instance/attributes/absent")).status).to.equal(404);
    expect((await get("instance/attributes/user-data")).body).to.equal(
      "#cloud-config\nruncmd: []\n",
    );

    const vm = await getInstance(h, "md-vm");
    expect((await get("instance/id")).body).to.equal(vm.id);
    expect((await get("instance/name")).body).to.equal("md-vm");
    expect((await get("instance/hostname")).body).to.equal(`md-vm.${ZONE}.c.${PROJECT}.internal`);
    expect((await get("instance/zone")).body).to.match(new RegExp(`^projects/\\d+/zones/${ZONE}$`));
    expect((await get("instance/machine-type")).body).to.match(
      /^projects\/\d+\/machineTypes\/e2-small$/,
    );
    expect((await get("project/project-id")).body).to.equal(PROJECT);
    expect((await get("project/numeric-project-id")).body).to.match(/^\d{12}$/);
    expect((await get("project/attributes/?recursive=true")).body).to.equal("{}");
    expect((await get("instance/tags?alt=json")).body).to.equal('["pci"]');
  });

  it("lists directories, redirects a directory without a slash, and renders recursive JSON in camelCase", async () => {
    const listing = await get("instance/attributes/");
    expect(listing.body.split("\n").filter(Boolean)).to.deep.equal([
      "user-data",
      "user-data-encoding",
      "pci-build-id",
    ]);
    const root = await get("instance/");
    expect(root.body)
      .to.include("service-accounts/\n")
      .and.include("network-interfaces/\n")
      .and.include("hostname\n");
    expect((await get("instance/attributes")).status).to.equal(301);

    const attributes = await get("instance/attributes/?recursive=true");
    expect(attributes.contentType).to.equal("application/json");
    expect(JSON.parse(attributes.body)).to.deep.equal({
      "user-data": "#cloud-config\nruncmd: []\n",
      "user-data-encoding": "",
      "pci-build-id": "b-42",
    });
    // cloud-init spells it `recursive=True`.
    const instance = JSON.parse((await get("instance/?recursive=True")).body) as Record<
      string,
      unknown
    >;
    expect(instance).to.include.keys(
      "machineType",
      "networkInterfaces",
      "serviceAccounts",
      "attributes",
      "hostname",
      "id",
      "zone",
    );
    expect((instance.attributes as Record<string, string>)["pci-build-id"]).to.equal("b-42");
  });

  it("serves the service-account token and email", async () => {
    const token = await get("instance/service-accounts/default/token");
    expect(token.status).to.equal(200);
    const parsed = JSON.parse(token.body) as {
      access_token: string;
      expires_in: number;
      token_type: string;
    };
    expect(parsed.token_type).to.equal("Bearer");
    expect(parsed.access_token).to.be.a("string").and.not.empty;
    expect(parsed.expires_in).to.be.greaterThan(0);
    expect((await get("instance/service-accounts/default/email")).body).to.equal(
      "builder@test-project.iam.gserviceaccount.com",
    );
    expect((await get("instance/service-accounts/nobody@example.com/token")).status).to.equal(404);
  });

  it("wakes a wait_for_change request when setMetadata changes the value, and honours last_etag and timeout_sec", async () => {
    const before = await get("instance/attributes/?recursive=true");
    const waiting = get(`instance/attributes/pci-build-ack?wait_for_change=true&timeout_sec=30`);
    const waitingTree = get(
      `instance/attributes/?recursive=true&wait_for_change=true&last_etag=${before.etag}&timeout_sec=30`,
    );
    // The key does not exist yet: a plain read is 404, the waiting read has not answered.
    expect((await get("instance/attributes/pci-build-ack")).status).to.equal(404);
    await setItems([
      { key: "pci-build-id", value: "b-42" },
      { key: "pci-build-ack", value: "b-42" },
    ]);
    const woken = await waiting;
    expect(woken).to.include({ status: 200, body: "b-42" });
    const tree = await waitingTree;
    expect(JSON.parse(tree.body)).to.deep.equal({
      "pci-build-id": "b-42",
      "pci-build-ack": "b-42",
    });
    expect(tree.etag).to.not.equal(before.etag);

    // A stale last_etag answers at once; a current one waits until timeout_sec and returns the same value.
    const stale = await get(
      `instance/attributes/pci-build-ack?wait_for_change=true&last_etag=0000&timeout_sec=30`,
    );
    expect(stale.body).to.equal("b-42");
    const timedOut = await get(
      `instance/attributes/pci-build-ack?wait_for_change=true&last_etag=${stale.etag}&timeout_sec=0`,
    );
    expect(timedOut).to.include({ status: 200, body: "b-42", etag: stale.etag });
  });

  it("stores guest attributes written by the guest and serves them through getGuestAttributes", async () => {
    const put = await fetch(`${base}/instance/guest-attributes/pci/status`, {
      method: "PUT",
      headers: { "Metadata-Flavor": "Google" },
      body: "done",
    });
    expect(put.status).to.equal(200);
    const guestAttributes = async (query: { variableKey: string } | { queryPath: string }) =>
      (
        await h.clients.instances.getGuestAttributes({
          project: PROJECT,
          zone: ZONE,
          instance: "md-vm",
          ...query,
        })
      )[0];
    const attribute = await guestAttributes({ variableKey: "pci/status" });
    expect(attribute.variableValue).to.equal("done");
    const query = await guestAttributes({ queryPath: "pci/" });
    expect(query.queryValue?.items?.map((i) => [i.namespace, i.key, i.value])).to.deep.equal([
      ["pci", "status", "done"],
    ]);
  });

  it("stops serving when the instance is deleted", async () => {
    const url = base;
    await deleteInstance(h, "md-vm");
    let refused = false;
    try {
      await fetch(`${url}/instance/id`, { headers: { "Metadata-Flavor": "Google" } });
    } catch {
      refused = true;
    }
    expect(refused).to.equal(true);
  });
});
