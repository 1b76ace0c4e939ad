import { expect } from "chai";
import type { GcpClients } from "../../components/google/clients";
import { gcpStandInProvider, parseUrn } from "../../localEngine/gcpStandIn";

/**
 * The stand-in gcp plugin of `npm start --engine pulumi`, called as the engine calls it (URNs, old
 * outputs, new inputs); its bucket's round trip to the emulator is in tests/engine/localRun.test.ts.
 */
describe("the stand-in gcp plugin (localEngine/gcpStandIn.ts)", () => {
  // Only buckets reach the clients; these cases never make one.
  const provider = gcpStandInProvider({} as GcpClients, {
    GOOGLE_PROJECT: "local-project",
    GOOGLE_ZONE: "us-central1-a",
  });
  const templateUrn =
    "urn:pulumi:local::hello::gcp:compute/instanceTemplate:InstanceTemplate::hello";
  const bucketUrn =
    "urn:pulumi:local::hello::preloaded-cos-image:index:PreloadedCosImage$gcp:storage/bucket:Bucket::hello-scratch";

  it("reads the type and the name from a URN, a parent's type left out", () => {
    expect(parseUrn(bucketUrn)).to.deep.equal({
      type: "gcp:storage/bucket:Bucket",
      name: "hello-scratch",
    });
    expect(() => parseUrn("hello")).to.throw("not a resource URN: hello");
  });

  it("auto-names a bucket at check, and keeps the name on the next run", async () => {
    const first = await provider.check!(bucketUrn, {}, { location: "US-CENTRAL1" });
    const name = (first.inputs as { name: string }).name;
    expect(name).to.match(/^hello-scratch-[0-9a-f]{7}$/);
    const again = await provider.check!(bucketUrn, { name }, { location: "US-CENTRAL1" });
    expect((again.inputs as { name: string }).name).to.equal(name);
    const given = await provider.check!(bucketUrn, {}, { name: "mine" });
    expect((given.inputs as { name: string }).name).to.equal("mine");
  });

  it("records a template with the name and self link Compute Engine would give it", async () => {
    const inputs = { machineType: "e2-small", namePrefix: "web-" };
    const created = await provider.create!(templateUrn, inputs);
    expect(created.id).to.match(/^web-[0-9a-f]{7}$/);
    const outs = created.outs as Record<string, unknown>;
    expect(outs.selfLink).to.equal(
      `https://www.googleapis.com/compute/v1/projects/local-project/global/instanceTemplates/${created.id}`,
    );
    expect(outs.machineType).to.equal("e2-small");

    expect(await provider.diff!(created.id, templateUrn, outs, inputs)).to.deep.equal({
      changes: false,
    });
    // Templates are immutable: any change replaces them, as the gcp provider's ForceNew does.
    expect(
      await provider.diff!(created.id, templateUrn, outs, { ...inputs, machineType: "e2-medium" }),
    ).to.deep.equal({ changes: true, replaces: ["machineType"] });
    // An input that takes an output not known yet (the image being replaced) is a change.
    expect(
      await provider.diff!(created.id, templateUrn, outs, {
        ...inputs,
        disks: [{ sourceImage: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" }],
      }),
    ).to.deep.equal({ changes: true, replaces: ["disks"] });
  });

  it("updates a bucket in place, keeping its name and self link", async () => {
    const olds = {
      name: "b-1",
      selfLink: "https://www.googleapis.com/storage/v1/b/b-1",
      labels: { a: "1" },
      __inputs: { name: "b-1", labels: { a: "1" } },
    };
    const news = { name: "b-1", labels: { a: "2" } };
    expect(await provider.diff!("b-1", bucketUrn, olds, news)).to.deep.equal({ changes: true });
    const updated = await provider.update!("b-1", bucketUrn, olds, news);
    expect(updated.outs).to.deep.include({
      labels: { a: "2" },
      selfLink: "https://www.googleapis.com/storage/v1/b/b-1",
    });
  });
});
