import { expect } from "chai";
import type { GuestContext } from "../../emulator";
import { cosBootDisk, insertInstance, instanceRef, startHarness, type Harness } from "./harness";

const BUCKET = "pci-access-test";
const OBJECT = "builds/b1/tree.tar.gz";
const CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";

/**
 * What a build VM's own read of the scratch bucket meets: the metadata server's token names the
 * instance's service account and scopes, and the storage API decides as IAM would.
 */
describe("emulator: a VM's service-account token against Cloud Storage", () => {
  let h: Harness;
  /** What each instance's guest was told about its route to Google's APIs. */
  const routes = new Map<string, boolean>();

  before(async () => {
    h = await startHarness({
      deniedStorageServiceAccounts: ["denied@*"],
      privateGoogleAccessSubnetworks: ["private-*"],
      guestFor: (instance) => ({
        boot: (ctx: GuestContext) => {
          routes.set(instance.name, ctx.reachesGoogleApis);
          return Promise.resolve();
        },
      }),
    });
    await h.clients.storage.createBucket(BUCKET);
    await h.clients.storage.bucket(BUCKET).file(OBJECT).save("tree bytes", {
      resumable: false,
      predefinedAcl: "projectPrivate",
    });
  });
  after(() => h.close());

  /** Makes a VM with that service account and network, and reads the object with its token. */
  async function readAs(
    name: string,
    email: string,
    options: { scopes?: string[]; externalIp?: boolean; subnetwork?: string } = {},
  ): Promise<{ status: number; body: string }> {
    await insertInstance(h, {
      name,
      machineType: "e2-small",
      disks: [cosBootDisk({}, { autoDelete: true })],
      serviceAccounts: [{ email, scopes: options.scopes ?? [CLOUD_PLATFORM] }],
      networkInterfaces: [
        {
          network: "global/networks/default",
          ...(options.subnetwork
            ? { subnetwork: `regions/us-central1/subnetworks/${options.subnetwork}` }
            : {}),
          accessConfigs: options.externalIp === false ? [] : [{ type: "ONE_TO_ONE_NAT" }],
        },
      ],
    });
    const metadata = h.emulator.metadataServer(instanceRef(name)).url;
    const token = (await (
      await fetch(`${metadata}/computeMetadata/v1/instance/service-accounts/default/token`, {
        headers: { "Metadata-Flavor": "Google" },
      })
    ).json()) as { access_token: string };
    const answer = await fetch(
      `${h.emulator.endpoint}/storage/v1/b/${BUCKET}/o/${encodeURIComponent(OBJECT)}?alt=media`,
      { headers: { Authorization: `Bearer ${token.access_token}` } },
    );
    return { status: answer.status, body: await answer.text() };
  }

  it("lets the project's own service account read the object", async () => {
    expect(await readAs("own-sa", "builder@test-project.iam.gserviceaccount.com")).to.deep.equal({
      status: 200,
      body: "tree bytes",
    });
    const read = await readAs("default-sa", "default");
    expect(read.status).to.equal(200);
  });

  it("refuses a denied account, another project's account, and a token without a storage scope", async () => {
    const denied = await readAs("denied-sa", "denied@test-project.iam.gserviceaccount.com");
    expect(denied.status).to.equal(403);
    expect(denied.body).to.include("does not have storage.objects.get access");
    expect(
      (await readAs("other-sa", "builder@other-project.iam.gserviceaccount.com")).status,
    ).to.equal(403);
    const noScope = await readAs("no-scope", "scoped@test-project.iam.gserviceaccount.com", {
      scopes: ["https://www.googleapis.com/auth/compute.readonly"],
    });
    expect(noScope.status).to.equal(403);
    expect(noScope.body).to.include("insufficient authentication scopes");
  });

  it("records the upload's predefined ACL", () => {
    const object = h.emulator.inventory().objects.find((o) => o.name === OBJECT);
    expect(object?.predefinedAcl).to.equal("projectPrivate");
  });

  it("gives a route to Google's APIs with an external IP or Private Google Access only", async () => {
    const email = "builder@test-project.iam.gserviceaccount.com";
    await readAs("route-nat", email);
    await readAs("route-none", email, { externalIp: false });
    await readAs("route-pga", email, { externalIp: false, subnetwork: "private-a" });
    await readAs("route-other", email, { externalIp: false, subnetwork: "public-a" });
    expect(
      Object.fromEntries([...routes].filter(([name]) => name.startsWith("route-"))),
    ).to.deep.equal({
      "route-nat": true,
      "route-none": false,
      "route-pga": true,
      "route-other": false,
    });
  });
});
