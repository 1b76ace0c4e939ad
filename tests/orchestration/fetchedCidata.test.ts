import { expect } from "chai";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { FETCH_CIDATA_METADATA_KEY } from "../../components/guest/protocol";
import { scriptedGuest, type EmulatorOptions, type GuestBackend } from "../../emulator";
import { eventually } from "../support/async";
import { BUCKET, buildFixture, expectNoTemporaries, type BuildFixture } from "./buildHarness";

/** The progress warning of a build whose VM could not read its tree, up to the reason. */
const FALLBACK = "warning: the build VM could not read the CIDATA tree from Cloud Storage (";

/**
 * Large and secret builds: the VM fetches its CIDATA tree from the scratch bucket itself, and falls
 * back to the CIDATA disk by itself when it cannot. The scripted guests fetch for real (token from
 * their metadata server, HTTP to the emulator's storage, size and digest checked).
 */
describe("the build, CIDATA fetched from the bucket", function () {
  this.timeout(120_000);
  let f: BuildFixture;
  afterEach(async () => f?.close());

  const secrets = { env: { "0": { TOKEN: "s3cret" } } };
  const count = (method: string): number => f.emulator.requestLog.count(method);
  /** Request log entries of one method, in order. */
  const entries = (method: string) =>
    f.emulator.requestLog.entries().filter((e) => e.method === method);

  /** A scripted guest that first does `before` (sees the bucket as the VM boots). */
  const guestAfter =
    (before: () => Promise<void>): EmulatorOptions["guestFor"] =>
    (): GuestBackend => {
      const inner = scriptedGuest({ statusLines: 2 });
      return { boot: async (ctx) => (await before(), inner.boot(ctx)) };
    };

  it("takes no disk for a large context or for secrets, and deletes the object once the VM has the tree", async () => {
    const seen: Array<{ name: string; predefinedAcl?: string }> = [];
    f = await buildFixture({
      guestFor: guestAfter(async () => {
        seen.push(await eventually(() => f.emulator.inventory().objects[0]));
      }),
    });
    fs.writeFileSync(path.join(f.programDir, "image", "layer.bin"), crypto.randomBytes(3 << 20));
    const large = await f.build(f.inputs());
    fs.rmSync(path.join(f.programDir, "image", "layer.bin"));
    const secret = await f.build(f.inputs({}, secrets));

    const progress = f.progress.join("\n");
    expect(
      progress.match(/the build VM fetches the CIDATA tree \(.+\) from the scratch bucket itself/g),
    ).to.have.length(2);
    expect(progress).not.to.include(FALLBACK);
    expect(
      f.progress.filter((l) => l.startsWith("| CIDATA tree fetched from Cloud Storage")),
    ).to.have.length(2);
    // Only the two output images were imported; no disk was made or attached besides the VMs'.
    expect(count("compute.images.insert")).to.equal(2);
    expect(count("compute.disks.insert")).to.equal(0);
    expect(count("compute.instances.attachDisk")).to.equal(0);
    // Unguessable, private, and never named in progress output.
    expect(seen).to.have.length(2);
    for (const object of seen) {
      expect(object.name).to.match(
        /^preloaded-cos-image\/[a-z0-9]{10}\/tree-[0-9a-f]{32}\.tar\.gz$/,
      );
      expect(object.predefinedAcl).to.equal("projectPrivate");
      expect(progress).not.to.include(object.name.split("/").pop());
    }
    expect(progress).not.to.include("s3cret");
    // Deleted as soon as the VM reported the tree: before the provisioner's verdict was acknowledged.
    const deletes = entries("storage.objects.delete");
    const acks = entries("compute.instances.setMetadata");
    expect(deletes).to.have.length(2);
    expect(acks).to.have.length(2);
    deletes.forEach((d, i) => expect(d.startedAt).to.be.lessThan(acks[i].startedAt));
    expectNoTemporaries(f.emulator, [large.outs.imageName, secret.outs.imageName]);
  });

  it("falls back to the CIDATA disk when the VM's token is refused, and says so", async () => {
    f = await buildFixture({ deniedStorageServiceAccounts: ["*"] });
    const { outs } = await f.build(f.inputs({}, secrets));
    expect(f.progress).to.include(
      `${FALLBACK}HTTP 403 from Cloud Storage); falling back to a CIDATA disk`,
    );
    expect(count("compute.instances.attachDisk")).to.equal(1);
    expect(count("compute.images.insert")).to.equal(2); // the CIDATA image, then the output
    expectNoTemporaries(f.emulator, [outs.imageName]);
  });

  it("falls back to the CIDATA disk without a route to Cloud Storage, and fetches with Private Google Access", async () => {
    f = await buildFixture();
    const { outs } = await f.build(f.inputs({ externalIp: false }, secrets));
    expect(f.progress).to.include(
      `${FALLBACK}no route to Cloud Storage (connection timed out)); falling back to a CIDATA disk`,
    );
    expect(count("compute.instances.attachDisk")).to.equal(1);
    expectNoTemporaries(f.emulator, [outs.imageName]);
    await f.close();

    f = await buildFixture({ privateGoogleAccessSubnetworks: ["default"] });
    const again = await f.build(f.inputs({ externalIp: false }, secrets));
    expect(f.progress.join("\n")).not.to.include(FALLBACK);
    expect(count("compute.instances.attachDisk")).to.equal(0);
    // Without an external IP a fallback is plausible, so the disk was prepared as a hedge, and
    // deleted once the VM had fetched the tree.
    expect(count("compute.disks.insert")).to.equal(1);
    expect(count("compute.disks.delete")).to.be.at.least(1);
    expectNoTemporaries(f.emulator, [again.outs.imageName]);
  });

  it("takes the CIDATA disk at once when the VM's scopes cannot read Cloud Storage", async () => {
    f = await buildFixture();
    const { outs } = await f.build(
      f.inputs(
        { serviceAccountScopes: ["https://www.googleapis.com/auth/compute.readonly"] },
        secrets,
      ),
    );
    expect(f.progress).to.include(
      "the CIDATA tree travels on a disk (the VM's serviceAccountScopes do not allow reading Cloud Storage)",
    );
    expect(f.progress.join("\n")).not.to.include(FALLBACK);
    expect(count("compute.instances.attachDisk")).to.equal(1);
    expectNoTemporaries(f.emulator, [outs.imageName]);
  });

  it("falls back to the CIDATA disk when the object was tampered with", async () => {
    f = await buildFixture({
      guestFor: guestAfter(async () => {
        // Once the orchestrator's upload is there, someone with write access replaces it.
        const object = await eventually(() => f.emulator.inventory().objects[0]);
        await f.clients.storage.bucket(BUCKET).file(object.name).save("evil", { resumable: false });
      }),
    });
    const { outs } = await f.build(f.inputs({}, secrets));
    const warning = f.progress.find((l) => l.startsWith(FALLBACK));
    expect(warning).to.match(
      /the object is 4 bytes with sha256 [0-9a-f]{64}, not the \d+ bytes with sha256 [0-9a-f]{64} announced/,
    );
    expect(count("compute.instances.attachDisk")).to.equal(1);
    expectNoTemporaries(f.emulator, [outs.imageName]);
  });

  it("names the object's media URL, size and digest in the VM's metadata, with no credential", async () => {
    const values: string[] = [];
    f = await buildFixture({
      guestFor: (_instance, metadata) => {
        values.push(metadata[FETCH_CIDATA_METADATA_KEY]);
        return scriptedGuest({ statusLines: 1 });
      },
    });
    await f.build(f.inputs({}, secrets));
    expect(values).to.have.length(1);
    const [url, bytes, digest] = values[0].split(" ");
    expect(url).to.match(
      new RegExp(
        `^${f.emulator.endpoint}/storage/v1/b/${BUCKET}/o/preloaded-cos-image%2F[a-z0-9]{10}%2Ftree-[0-9a-f]{32}\\.tar\\.gz\\?alt=media$`,
      ),
    );
    expect(Number(bytes)).to.be.greaterThan(0);
    expect(digest).to.match(/^[0-9a-f]{64}$/);
  });
});
