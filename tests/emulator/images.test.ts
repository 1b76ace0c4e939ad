import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { GIB, makeRawDiskArchive, PROJECT, rejection, startHarness, waitDone } from "./harness";
import { waitOk, ZONE, type Harness, insertInstance, cosBootDisk } from "./harness";
import { deprecateImage, insertImage, requestImage, stopInstance } from "./harness";

/** A COS image any test may copy from. */
const COS_DEV = "projects/cos-cloud/global/images/family/cos-dev";

const BUCKET = "scratch-bucket";

describe("emulator: images through the real Compute Engine client", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await h.clients.storage.createBucket(BUCKET);
  });
  after(() => h.close());

  async function uploadArchive(name: string, archivePath: string): Promise<string> {
    await h.clients.storage
      .bucket(BUCKET)
      .upload(archivePath, { destination: name, resumable: false });
    return `https://storage.googleapis.com/${BUCKET}/${name}`;
  }

  async function insertRaw(name: string, source: string) {
    return requestImage(h, {
      name,
      rawDisk: { source },
      family: "cidata",
      labels: { purpose: "test" },
    });
  }

  it("imports a raw disk archive made by GNU tar (sparse oldgnu) and reports it READY", async () => {
    const source = await uploadArchive(
      "ok.tar.gz",
      await makeRawDiskArchive(h.tmp, { data: Buffer.from("CIDATA") }),
    );
    const lro = await insertRaw("cidata-ok", source);
    expect((lro[0].latestResponse as { operationType?: string }).operationType).to.equal("insert");
    await waitOk(h, lro);
    const [image] = await h.clients.images.get({ project: PROJECT, image: "cidata-ok" });
    expect(image.status).to.equal("READY");
    expect(image.diskSizeGb).to.equal("1");
    expect(Number(image.archiveSizeBytes)).to.be.greaterThan(0);
    expect(image.rawDisk?.source).to.equal(source);
    expect(image.family).to.equal("cidata");
    expect(image.labels).to.deep.equal({ purpose: "test" });
    expect(image.selfLink).to.equal(
      `https://www.googleapis.com/compute/v1/projects/${PROJECT}/global/images/cidata-ok`,
    );
    expect(image.id).to.match(/^\d+$/);
    expect(image.creationTimestamp).to.match(/^\d{4}-\d\d-\d\dT/);
    expect(image.labelFingerprint).to.be.a("string").and.not.empty;
  });

  it("fails the operation for archives GCE would refuse, and keeps no image", async () => {
    const cases: Array<[string, Parameters<typeof makeRawDiskArchive>[1], RegExp]> = [
      ["bad-name", { memberName: "root.img" }, /exactly one file named disk\.raw/],
      ["two-files", { extraMember: "README" }, /exactly one file named disk\.raw/],
      ["bad-size", { sizeBytes: GIB + 512 }, /not a multiple of 1 GiB/],
    ];
    for (const [name, spec, message] of cases) {
      const source = await uploadArchive(`${name}.tar.gz`, await makeRawDiskArchive(h.tmp, spec));
      const op = await waitDone(h, await insertRaw(name, source));
      expect(op.error?.errors?.[0]?.code, name).to.equal("INVALID_IMAGE_FILE");
      expect(op.error?.errors?.[0]?.message, name).to.match(message);
      expect(op.httpErrorStatusCode, name).to.equal(400);
      const err = await rejection(h.clients.images.get({ project: PROJECT, image: name }));
      expect(err.httpStatusCode, name).to.equal(404);
    }
    await h.clients.storage
      .bucket(BUCKET)
      .file("not-gzip.tar.gz")
      .save("plain text, not a gzip stream", { resumable: false });
    const op = await waitDone(
      h,
      await insertRaw("not-gzip", `https://storage.googleapis.com/${BUCKET}/not-gzip.tar.gz`),
    );
    expect(op.error?.errors?.[0]?.message).to.match(/not a valid gzip-compressed tar/);

    const missing = await waitDone(
      h,
      await insertRaw("missing", `https://storage.googleapis.com/${BUCKET}/nope.tar.gz`),
    );
    expect(missing.error?.errors?.[0]?.code).to.equal("RESOURCE_NOT_FOUND");
    expect(missing.httpErrorStatusCode).to.equal(404);
  });

  it("refuses a malformed rawDisk.source or several sources with 400", async () => {
    const err = await rejection(insertRaw("bad-url", "ftp://example/x"));
    expect(err.httpStatusCode).to.equal(400);
    expect(err.message).to.match(/rawDisk\.source/);
    const both = await rejection(
      requestImage(h, {
        name: "two-sources",
        rawDisk: { source: `https://storage.googleapis.com/${BUCKET}/ok.tar.gz` },
        sourceImage: "projects/cos-cloud/global/images/cos-dev-129-19455-0-0",
      }),
    );
    expect(both.httpStatusCode).to.equal(400);
  });

  it("creates an image from a disk: refused while a RUNNING instance uses it, allowed when stopped or with forceCreate", async () => {
    await insertInstance(h, {
      name: "imaging-vm",
      machineType: "e2-small",
      disks: [cosBootDisk({ diskName: "imaging-boot" })],
    });
    const sourceDisk = `projects/${PROJECT}/zones/${ZONE}/disks/imaging-boot`;
    const busy = await rejection(requestImage(h, { name: "from-busy", sourceDisk }));
    expect(busy.httpStatusCode).to.equal(400);
    expect(busy.message).to.match(/already being used by/);

    await insertImage(h, { name: "forced", sourceDisk }, { forceCreate: true });

    await stopInstance(h, "imaging-vm");
    await insertImage(h, {
      name: "from-disk",
      sourceDisk,
      family: "built",
      description: "Derivative of cos-stable",
      licenses: ["projects/my-project/global/licenses/mine"],
      storageLocations: ["us-central1"],
      guestOsFeatures: [{ type: "GVNIC" }],
    });
    const [image] = await h.clients.images.get({ project: PROJECT, image: "from-disk" });
    expect(image.sourceDisk).to.equal(`https://www.googleapis.com/compute/v1/${sourceDisk}`);
    expect(image.sourceDiskId).to.match(/^\d+$/);
    expect(image.diskSizeGb).to.equal("10");
    expect(image.storageLocations).to.deep.equal(["us-central1"]);
    // Source licenses are carried over, like GCE does for images made from COS disks.
    expect(image.licenses).to.include(
      "https://www.googleapis.com/compute/v1/projects/cos-cloud/global/licenses/cos",
    );
    expect(image.licenses).to.include(
      "https://www.googleapis.com/compute/v1/projects/my-project/global/licenses/mine",
    );
    expect(image.guestOsFeatures?.map((f) => f.type)).to.include("GVNIC");
  });

  it("resolves getFromFamily to the newest non-deprecated image and follows deprecation", async () => {
    const [stable] = await h.clients.images.getFromFamily({
      project: "cos-cloud",
      family: "cos-stable",
    });
    expect(stable.name).to.equal("cos-stable-121-18867-199-1");
    const [lts] = await h.clients.images.getFromFamily({
      project: "cos-cloud",
      family: "cos-117-lts",
    });
    expect(lts.name).to.equal("cos-117-18613-164-13");

    for (const name of ["fam-1", "fam-2"]) {
      await insertImage(h, {
        name,
        family: "fam",
        sourceImage: "projects/cos-cloud/global/images/cos-dev-129-19455-0-0",
      });
    }
    const newestInFam = async () =>
      (await h.clients.images.getFromFamily({ project: PROJECT, family: "fam" }))[0].name;
    expect(await newestInFam()).to.equal("fam-2");
    await deprecateImage(h, "fam-2", {
      state: "DEPRECATED",
      replacement: "global/images/fam-1",
      deleted: "2030-01-01T00:00:00Z",
    });
    const [deprecated] = await h.clients.images.get({ project: PROJECT, image: "fam-2" });
    expect(deprecated.deprecated?.state).to.equal("DEPRECATED");
    expect(deprecated.deprecated?.replacement).to.equal(
      `https://www.googleapis.com/compute/v1/projects/${PROJECT}/global/images/fam-1`,
    );
    expect(deprecated.deprecated?.deleted).to.equal("2030-01-01T00:00:00Z");
    expect(await newestInFam()).to.equal("fam-1");

    await deprecateImage(h, "fam-2", { state: "ACTIVE" });
    expect(
      (await h.clients.images.get({ project: PROJECT, image: "fam-2" }))[0].deprecated,
    ).to.equal(undefined);

    const err = await rejection(
      h.clients.images.getFromFamily({ project: PROJECT, family: "no-such-family" }),
    );
    expect(err.httpStatusCode).to.equal(404);
  });

  it("lists with GCE filters and paginates", async () => {
    const names = async (filter: string): Promise<string[]> => {
      const [items] = await h.clients.images.list({ project: "cos-cloud", filter });
      return items.map((i) => i.name ?? "").sort();
    };
    expect(await names('family = "cos-stable"')).to.deep.equal([
      "cos-stable-117-18613-164-4",
      "cos-stable-121-18867-199-1",
    ]);
    expect(await names('labels.milestone = "117"')).to.have.length(3);
    expect(
      await names('family = "cos-stable" AND name != "cos-stable-121-18867-199-1"'),
    ).to.deep.equal(["cos-stable-117-18613-164-4"]);
    expect(await names("name eq cos-1\\d\\d-.*")).to.deep.equal([
      "cos-117-18613-164-13",
      "cos-117-18613-164-4",
      "cos-121-18867-199-1",
    ]);
    expect(await names('(family = "cos-beta") OR (family = "cos-dev")')).to.deep.equal([
      "cos-beta-125-19216-0-28",
      "cos-dev-129-19455-0-0",
    ]);
    expect(await names('(labels.channel = "stable") (architecture = "ARM64")')).to.deep.equal([
      "cos-arm64-stable-121-18867-199-1",
    ]);
    expect(await names('deprecated.state = "DEPRECATED"')).to.have.length(2);
    expect(await names('name = "cos-stable-*"')).to.have.length(2);

    const bad = await rejection(
      h.clients.images.list({ project: "cos-cloud", filter: 'name = "unterminated' }),
    );
    expect(bad.httpStatusCode).to.equal(400);

    const [page1, next, raw] = await h.clients.images.list(
      { project: "cos-cloud", maxResults: 3 },
      { autoPaginate: false },
    );
    expect(page1).to.have.length(3);
    expect(next?.pageToken).to.be.a("string");
    expect((raw as { nextPageToken?: string }).nextPageToken).to.equal(next?.pageToken);
    const [all] = await h.clients.images.list({ project: "cos-cloud", maxResults: 3 });
    expect(all).to.have.length(8);
  });

  it("guards setLabels with the label fingerprint (412 when stale)", async () => {
    await insertImage(h, { name: "labelled", sourceImage: COS_DEV, labels: { a: "1" } });
    const [before] = await h.clients.images.get({ project: PROJECT, image: "labelled" });
    await waitOk(
      h,
      await h.clients.images.setLabels({
        project: PROJECT,
        resource: "labelled",
        globalSetLabelsRequestResource: {
          labels: { a: "2", build: "x" },
          labelFingerprint: before.labelFingerprint,
        },
      }),
    );
    const [after] = await h.clients.images.get({ project: PROJECT, image: "labelled" });
    expect(after.labels).to.deep.equal({ a: "2", build: "x" });
    expect(after.labelFingerprint).to.not.equal(before.labelFingerprint);
    const stale = await rejection(
      h.clients.images.setLabels({
        project: PROJECT,
        resource: "labelled",
        globalSetLabelsRequestResource: {
          labels: { a: "3" },
          labelFingerprint: before.labelFingerprint,
        },
      }),
    );
    expect(stale.httpStatusCode).to.equal(412);
    expect(stale.message).to.match(/fingerprint/);
  });

  it("deletes images (404 afterwards), answers 409 on duplicates and 400 on invalid names or labels", async () => {
    const base = { sourceImage: COS_DEV };
    await insertImage(h, { name: "doomed", ...base });
    const dup = await rejection(requestImage(h, { name: "doomed", ...base }));
    expect(dup.httpStatusCode).to.equal(409);
    expect(dup.message).to.match(/already exists/);

    await waitOk(h, await h.clients.images.delete({ project: PROJECT, image: "doomed" }));
    expect(
      (await rejection(h.clients.images.get({ project: PROJECT, image: "doomed" }))).httpStatusCode,
    ).to.equal(404);
    expect(
      (await rejection(h.clients.images.delete({ project: PROJECT, image: "doomed" })))
        .httpStatusCode,
    ).to.equal(404);

    for (const name of ["Upper", "-lead", "trail-", "a".repeat(64), "has_underscore"]) {
      const err = await rejection(requestImage(h, { name, ...base }));
      expect(err.httpStatusCode, name).to.equal(400);
      expect(err.message, name).to.match(/resource\.name/);
    }
    expect((await rejection(requestImage(h, { ...base }))).message).to.match(
      /Required field 'resource\.name'/,
    );
    const invalidLabels: Array<Record<string, string>> = [
      { Bad: "x" },
      { "1key": "x" },
      { ok: "Upper" },
      { ok: "x".repeat(64) },
    ];
    for (const labels of invalidLabels) {
      const err = await rejection(requestImage(h, { name: "labels", labels, ...base }));
      expect(err.httpStatusCode, JSON.stringify(labels)).to.equal(400);
    }
  });

  it("deduplicates by requestId: the same id returns the same operation, not a second image or a 409", async () => {
    const requestId = randomUUID();
    const request = {
      project: PROJECT,
      requestId,
      imageResource: { name: "once", sourceImage: COS_DEV },
    };
    const first = await h.clients.images.insert(request);
    const second = await h.clients.images.insert(request);
    const a = first[0].latestResponse as { name?: string };
    const b = second[0].latestResponse as { name?: string };
    expect(b.name).to.equal(a.name);
    await waitOk(h, second);
    const [items] = await h.clients.images.list({ project: PROJECT, filter: 'name = "once"' });
    expect(items).to.have.length(1);
    const bad = await rejection(h.clients.images.insert({ ...request, requestId: "not-a-uuid" }));
    expect(bad.httpStatusCode).to.equal(400);
  });
});
